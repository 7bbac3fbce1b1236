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

from alphacdn.transform.blend import BlendMode
from alphacdn.transform.errors import InvalidTransformation, NotFound
from alphacdn.transform.layers import (
    Layer,
    LayerKind,
    Placement,
    Text,
    TextAlign,
    print_source,
    source_key,
)
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


_ALIGN = {
    TextAlign.LEFT: "low",
    TextAlign.START: "low",
    TextAlign.CENTER: "centre",
    TextAlign.RIGHT: "high",
    TextAlign.END: "high",
}
#: an invisible glyph as tall as a line (`fl_text_no_trim` keeps the lines' full height)
_STRUT = '<span fgalpha="1">|</span>'


def _text_mask(text: Text, scale: int = 1) -> pyvips.Image:
    """The text's coverage mask (Pango at 72 dpi so the size is in pixels), at 1/`scale`:
    wrapped at its width (`c_fit,w_`), else at `TEXT_WRAP`."""
    style = " Bold" * text.bold + " Italic" * text.italic
    body = html.escape(text.text, quote=False)
    if text.letter_spacing:  # Pango units: 1024 per point, a point is a pixel at 72 dpi
        body = f'<span letter_spacing="{round(text.letter_spacing * 1024 / scale)}">{body}</span>'
    if text.no_trim:  # Pango counts transparent ink in the extents vips cuts the image to
        body = _STRUT + body + _STRUT
    options: dict[str, object] = {}
    if text.align is TextAlign.JUSTIFY:
        options["justify"] = True
    elif text.align is not None:
        options["align"] = _ALIGN[text.align]
    if text.line_spacing:
        options["spacing"] = round(text.line_spacing / scale)
    mask = pyvips.Image.text(
        body,
        font=f"{text.font}{style} {text.size}",
        dpi=72 / scale,
        width=max(1, min(text.width or TEXT_WRAP, TEXT_WRAP) // scale),
        wrap="word-char",
        rgba=text.no_trim,
        **options,
    )
    if text.no_trim:
        mask = mask[3]
    if text.height is not None and mask.height > text.height // scale:
        mask = mask.crop(0, 0, mask.width, max(1, text.height // scale))
    return mask


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
    key = source_key(layer.source)
    if ctx.load_asset is None:
        raise NotFound(f"Layer not found - {key}")
    image = load(ctx.load_asset(key), max_pixels=ctx.max_pixels, max_side=ctx.max_side)
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


_MODES = {
    BlendMode.NORMAL: "over",
    BlendMode.ANTI_REMOVAL: "over",
    BlendMode.MULTIPLY: "multiply",
    BlendMode.SCREEN: "screen",
    BlendMode.OVERLAY: "overlay",
}
#: `e_anti_removal:100` moves the overlay's pixels by up to this many px (with a speckled
#: opacity; a fixed pattern: the same URL renders the same bytes)
_WARP_PX = 3.0


def anti_removal(layer: pyvips.Image, level: int) -> pyvips.Image:
    """The overlay slightly warped and speckled, `level` % of the way to the strongest."""
    k = level / 100
    xy = pyvips.Image.xyz(layer.width, layer.height).cast("float")
    dx = (xy[1] / 5.3).sin() * (_WARP_PX * k)  # pyvips sin takes degrees: a gentle ripple
    dy = (xy[0] / 4.7).cos() * (_WARP_PX * k)
    warped = layer.premultiply().mapim(xy + dx.bandjoin(dy)).unpremultiply()
    # speckle the opacity rather than the colours (noise on a saturated colour clips one way
    # and shifts its hue): up to 35 % of the alpha, in a fixed pattern
    noise = pyvips.Image.gaussnoise(layer.width, layer.height, sigma=1.0, mean=0.0, seed=17).abs()
    keep = 1 - (noise * (0.35 * k / 2.5))
    keep = (keep < 0.5).ifthenelse(0.5, keep)
    return (
        warped[0:3]
        .cast("uchar")
        .bandjoin((warped[3] * keep).cast("uchar"))
        .copy(interpretation="srgb")
    )


def _covering(base: pyvips.Image, layer: pyvips.Image, p: Placement) -> pyvips.Image:
    """The layer on a transparent canvas the base's size: at its placement, or (`fl_tiled`)
    repeated from there over the whole base."""
    left, top = position(base, layer, p)
    if not p.tiled:
        return layer.embed(left, top, base.width, base.height, background=[0, 0, 0, 0])
    x0, y0 = left % layer.width, top % layer.height
    x0, y0 = x0 - layer.width if x0 else 0, y0 - layer.height if y0 else 0
    across = -(-(base.width - x0) // layer.width)
    down = -(-(base.height - y0) // layer.height)
    tiles = layer.replicate(across, down)
    return tiles.embed(x0, y0, base.width, base.height, background=[0, 0, 0, 0])


def blend(base: pyvips.Image, layer: pyvips.Image, p: Placement) -> pyvips.Image:
    """An overlay with a blend mode, tiled or cutting (`transform.blend`): the canvas stays the
    base's."""
    canvas = _alpha.with_alpha(base)
    layer = _alpha.with_alpha(layer)
    if p.blend is BlendMode.ANTI_REMOVAL:
        layer = anti_removal(layer, p.level)
    cover = _covering(canvas, layer, p)
    if p.blend in (BlendMode.MASK, BlendMode.CUTTER):
        a = (canvas[3].cast("float") * cover[3] / 255).cast("uchar")
        return canvas[0:3].bandjoin(a).copy(interpretation="srgb")
    out = canvas.composite2(cover, _MODES[p.blend])
    return out.cast("uchar").copy(interpretation="srgb")


def place(
    base: pyvips.Image, layer: pyvips.Image, kind: LayerKind, p: Placement, ctx: Context
) -> pyvips.Image:
    """Composite `layer` over (or under) `base` at its placement."""
    if kind is LayerKind.OVERLAY and (p.blend is not BlendMode.NORMAL or p.tiled):
        return blend(base, layer, p)
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
    # the base's faces are not the layer's: face steps inside a layer fall back (no face)
    inner = dataclasses.replace(ctx, alpha_output=True, target_aspect=None, faces=None)
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
    "anti_removal",
    "apply_layer",
    "blend",
    "place",
    "position",
    "render_text",
    "text_size",
]
