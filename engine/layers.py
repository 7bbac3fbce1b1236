"""Layers: load (or draw) the layer, run its own components, place it over or under the base.

Placement follows Cloudinary: anchored at the gravity, moved inwards by `x`/`y` (fractions are
of the base); the canvas grows to hold a layer that sticks out unless `fl_no_overflow`.
Compositing is premultiplied (libvips `over`). Layer assets come through `ctx.load_asset` and
pass the same header check as any source (`load.check_size`).

Text is drawn by Pango into one cairo surface, which cannot be wider or taller than 32767 px
and costs memory by its area. So a text layer wraps at `TEXT_WRAP` px (between words, and
inside a word that is wider on its own), and its size is measured first by laying it out at
1/4 of the resolution (1/16 of the drawing's area; a few ms): text that would be taller than
`TEXT_MAX_HEIGHT` or still wider than the wrap (tabs, a run of glyphs with no break) is a 400
naming the component before any large surface is made. With at most `MAX_TEXT_LENGTH`
characters in that box, a text layer takes well under a second to draw.
"""

from __future__ import annotations

import dataclasses
import html

import pyvips

from alphacdn.transform.errors import InvalidTransformation, NotFound
from alphacdn.transform.layers import Layer, LayerKind, Placement, Text, print_source
from alphacdn.transform.steps import Resize, Step
from alphacdn.transform.values import Length

from . import alpha as _alpha
from .load import load
from .registry import Context, apply_step
from .resize import ANCHORS

#: text wraps at this width instead of growing without bound
TEXT_WRAP = 4096
#: a text layer taller than this (measured before drawing) is refused
TEXT_MAX_HEIGHT = 4096
#: what the measure may exceed the wrap by (its rounding) before the text counts as too wide
_WRAP_SLACK = TEXT_WRAP // 16
#: the measuring layout is made at 1/_MEASURE of the resolution (at 1/8 line breaks came out
#: differently from the drawn text: 3 lines measured for 4 drawn with Liberation Sans)
_MEASURE = 4


def _text_mask(text: Text, scale: int = 1) -> pyvips.Image:
    """The text's coverage mask (Pango at 72 dpi so the size is in pixels), at 1/`scale`."""
    style = " Bold" * text.bold + " Italic" * text.italic
    return pyvips.Image.text(
        html.escape(text.text, quote=False),
        font=f"{text.font}{style} {text.size}",
        dpi=72 / scale,
        width=TEXT_WRAP // scale,
        wrap="word-char",
    )


def _component(text: Text, kind: LayerKind) -> str:
    """The text layer as written in the URL (its text cut short), for error messages."""
    written = print_source(kind, text)[0]
    return written if len(written) <= 60 else written[:57] + "..."


def text_size(text: Text) -> tuple[int, int]:
    """The size the text would be drawn at, measured at 1/4 resolution (within ~10 %)."""
    try:
        small = _text_mask(text, _MEASURE)
    except pyvips.Error:
        return (2**31, 2**31)  # not even the small layout fits a surface
    return small.width * _MEASURE, small.height * _MEASURE


def render_text(text: Text, kind: LayerKind = LayerKind.OVERLAY) -> pyvips.Image:
    """A text layer as an RGBA image, wrapped at `TEXT_WRAP`; `InvalidTransformation` when it
    has nothing to draw or would not fit `TEXT_WRAP` × `TEXT_MAX_HEIGHT` (checked before
    drawing)."""
    if not text.text.strip():
        raise InvalidTransformation(f"{_component(text, kind)}: the text layer has no text to draw")
    width, height = text_size(text)
    if width > TEXT_WRAP + _WRAP_SLACK or height > TEXT_MAX_HEIGHT:
        shown = f"about {width}x{height} px" if max(width, height) < 2**31 else "too large"
        raise InvalidTransformation(
            f"{_component(text, kind)}: the text would be {shown}, over the "
            f"{TEXT_WRAP}x{TEXT_MAX_HEIGHT} px a text layer may take; use a smaller font "
            "or less text"
        )
    try:
        mask = _text_mask(text)
    except pyvips.Error as e:  # the measure was off: still the client's text, never a 500
        raise InvalidTransformation(
            f"{_component(text, kind)}: the text could not be drawn at this size", detail=str(e)
        ) from None
    c = text.color
    ink = (mask * (c.a / 255)).cast("uchar")
    return (
        mask.new_from_image([c.r, c.g, c.b]).cast("uchar").bandjoin(ink).copy(interpretation="srgb")
    )


def _source(layer: Layer, ctx: Context) -> pyvips.Image:
    if isinstance(layer.source, Text):
        return render_text(layer.source, layer.kind)
    if ctx.load_asset is None:
        raise NotFound(f"Layer not found - {layer.source}")
    image = load(ctx.load_asset(layer.source), max_pixels=ctx.max_pixels, max_side=ctx.max_side)
    return image if ctx.watch is None else ctx.watch(image)


def _relative(step: Step, base: pyvips.Image) -> Step:
    """`fl_relative`: fractional `w_`/`h_` become pixels of the base."""
    if not isinstance(step, Resize):
        return step
    w, h = step.width, step.height
    return dataclasses.replace(
        step,
        width=max(1, round(w * base.width)) if isinstance(w, float) else w,
        height=max(1, round(h * base.height)) if isinstance(h, float) else h,
    )


def _offset(value: Length | None, size: int) -> int:
    if value is None:
        return 0
    return round(value * size) if isinstance(value, float) else value


def position(base: pyvips.Image, layer: pyvips.Image, p: Placement) -> tuple[int, int]:
    """Top-left of the layer on the base: at the gravity anchor, moved inwards by x/y."""
    ax, ay = ANCHORS[p.gravity]
    dx, dy = _offset(p.x, base.width), _offset(p.y, base.height)
    left = ax * (base.width - layer.width) + (-dx if ax == 1.0 else dx)
    top = ay * (base.height - layer.height) + (-dy if ay == 1.0 else dy)
    return round(left), round(top)


def place(
    base: pyvips.Image, layer: pyvips.Image, kind: LayerKind, p: Placement, ctx: Context
) -> pyvips.Image:
    """Composite `layer` over (or under) `base` at its placement."""
    left, top = position(base, layer, p)
    if p.overflow:
        x0, y0 = min(0, left), min(0, top)
        x1, y1 = max(base.width, left + layer.width), max(base.height, top + layer.height)
    else:
        x0, y0, x1, y1 = 0, 0, base.width, base.height
    width, height = x1 - x0, y1 - y0
    if width * height > ctx.max_pixels:
        raise InvalidTransformation(f"layer canvas {width}x{height} is over the pixel limit")
    clear = [0, 0, 0, 0]
    canvas = _alpha.with_alpha(base).embed(-x0, -y0, width, height, background=clear)
    layer = _alpha.with_alpha(layer)
    if kind is LayerKind.OVERLAY:
        out = canvas.composite2(layer, "over", x=left - x0, y=top - y0)
    else:
        under = layer.embed(left - x0, top - y0, width, height, background=clear)
        out = under.composite2(canvas, "over")
    return out.cast("uchar").copy(interpretation="srgb")


def apply_layer(base: pyvips.Image, layer: Layer, ctx: Context) -> pyvips.Image:
    """Load or draw the layer, apply its components, then place it on `base`."""
    inner = dataclasses.replace(ctx, alpha_output=True, target_aspect=None)
    image = _source(layer, ctx)
    for index, component in enumerate(layer.components):
        if component.layer is not None:
            image = apply_layer(image, component.layer, ctx)
            continue
        for step in component.steps:
            if index == 0 and layer.relative:
                step = _relative(step, base)
            image = apply_step(image, step, inner)
    return place(base, image, layer.kind, layer.placement, ctx)


__all__ = [
    "TEXT_MAX_HEIGHT",
    "TEXT_WRAP",
    "apply_layer",
    "place",
    "position",
    "render_text",
    "text_size",
]
