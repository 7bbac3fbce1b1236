"""What a render will cost, from the Plan and the source's size alone: pure, before any decode.

The estimate follows the chain's canvas sizes step by step (with the same `Box` arithmetic as
the engine, `transform.sizes`) and adds what each step costs on the canvas it runs on. Its unit
is the **render unit**: about one millisecond of one CPU core on the machine
`bench/cost_model.py` was calibrated on (the bench prints predicted units against measured
CPU time, and their correlation). It is an upper-ish bound, not a prediction: encoders are
priced at their worst (noise-like) content, and an image that may have alpha is priced as if
it had (libvips blurs RGBA in float, ~30× slower than RGB).

Two limits come out of it (`check_cost`), both a 400 naming the component:
- a **canvas** limit: no step may make an image larger than `max_canvas` pixels (or the
  source's own size, if that is larger: delivering a large original as it is stays possible);
- a **budget**: the estimate may exceed what decoding the source and encoding it at its own
  size costs by at most `budget` units. The source's own cost is bounded by the source pixel
  limit; the budget bounds what a URL can add to it (upscales, blurs, layers, text, shadows).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass

from .canonical import canonical_component, canonical_step
from .compositing import DropShadow, Mask, Shadow, shadow_geometry
from .dynamic import NO_HINTS, ClientHints, Conditional, Dynamic, resolve_dynamic
from .errors import InvalidTransformation
from .expressions import Env
from .layers import Layer, Text, source_key
from .plan import Component, Plan
from .shapes import Outline, OutlineMode
from .sizes import plan_box, resolve
from .steps import (
    Background,
    BackgroundRemoval,
    Blur,
    Border,
    Opacity,
    Pixelate,
    Resize,
    Rotate,
    RotateMode,
    RoundCorners,
    Saturation,
    Sharpen,
    Step,
    Trim,
    Vignette,
)
from .values import AUTO_GRAVITIES, FACE_GRAVITIES, CropMode, Format
from .vectorize import Vectorize, trace_side

# ── the price list: render units (≈ CPU-ms) per megapixel of the canvas a step works on ─────
#: decoding a source or layer asset
DECODE = 30.0
#: encoding the output, by format (noise-like content; photos cost about half)
ENCODE: Mapping[Format | None, float] = {
    Format.JPG: 200.0,
    Format.PNG: 80.0,
    Format.WEBP: 200.0,
    Format.AVIF: 150.0,
    Format.GIF: 80.0,
    None: 200.0,  # f_auto or the source's format: the dearest
}
#: any step: at least one pass over its canvas, plus the copy into memory between steps
PASS = 10.0
#: resampling, per megapixel of the larger of the input and the scaled image
RESAMPLE = 30.0
#: `g_auto`: libvips attention over the scaled image
SMARTCROP = 40.0
#: gaussian blur per megapixel and per unit of sigma: 8-bit RGB, or float (RGBA, alpha masks)
BLUR_INT = 2.5
BLUR_FLOAT = 60.0
#: above this sigma libvips' 8-bit blur mask passes 1024 taps and its vector path gives way to
#: one as slow as float (measured: sigma 280 → 0.6 s, 290 → 13 s on 1 MP)
INT_BLUR_MAX_SIGMA = 280.0
#: rank filters (`e_mask` shrink / expand), per megapixel and per pixel of radius
RANK = 6.0
#: compositing a layer (premultiplied float) over its canvas
COMPOSITE = 40.0
#: drawing text (Pango), per megapixel of the text's box (calibrated on wrapped text: Arial 300,
#: 120 × "W" drew, composited and encoded a 3946×3369 PNG in 0.43 CPU-s; 150 priced it at ~4.3 s)
TEXT = 40.0
#: fixed-cost steps, beyond PASS
STEP: Mapping[type, float] = {
    Sharpen: 130.0,
    Saturation: 80.0,
    Vignette: 40.0,
    RoundCorners: 30.0,
    Trim: 240.0,
    Rotate: 30.0,
}
#: `e_vectorize`, per megapixel traced: the palette and the trace, per colour and fixed (a trace
#: over the SVG limit is traced again, simpler: priced twice). Measured 1.0 CPU-s for a 1 MP trace
#: of a photo at 10 colours, 3.9 s at 30 colours without despeckle.
VECTORIZE_FIXED = 800.0
VECTORIZE_COLOR = 100.0
#: a chain holds at most this many canvases before a step (text wrap, see `engine.layers`)
_TEXT_WRAP = 4096
_MP = 1e-6


@dataclass(frozen=True, slots=True)
class Estimate:
    """A plan's cost: the total, and the component that costs most (what a refusal names)."""

    units: float
    #: what decoding the source and encoding it at its own size costs (not counted against
    #: the budget)
    baseline: float
    #: the canonical text of the dearest component, the step in it, and its canvas size
    dearest: str = ""
    dearest_units: float = 0.0
    canvas: tuple[int, int] = (0, 0)
    #: the largest canvas any step makes
    largest: tuple[int, int] = (0, 0)


@dataclass(slots=True)
class _Walk:
    """The running state of an estimate: current canvas, whether it may carry alpha, costs."""

    width: int
    height: int
    alpha: bool
    max_canvas: int
    units: float = 0.0
    dearest: tuple[float, str, tuple[int, int]] = (0.0, "", (0, 0))
    largest: tuple[int, int] = (0, 0)
    #: the step that last grew the canvas (named when encoding its pixels is what costs)
    grown_by: str = ""
    #: how steps of a layer are named: `{step} in layer {layer}`
    within: str = ""
    #: variables and hints for dynamic components and conditions (see `transform.dynamic`)
    env: Env | None = None

    @property
    def mp(self) -> float:
        return self.width * self.height * _MP

    def canvas(self, width: int, height: int, name: str) -> None:
        """Move to a `width` × `height` canvas; refuse one over the canvas limit."""
        name = self.named(name)
        if width * height > self.width * self.height:
            self.grown_by = name
        if width * height > self.max_canvas:
            raise InvalidTransformation(
                f"Invalid transformation component: {name} makes a {width}x{height} canvas "
                f"({width * height / 1e6:.1f} MP), over the limit of "
                f"{self.max_canvas / 1e6:.1f} MP"
            )
        self.width, self.height = width, height
        if width * height > self.largest[0] * self.largest[1]:
            self.largest = (width, height)

    def named(self, name: str) -> str:
        return f"{name} in layer {self.within}" if self.within and name != self.within else name

    def charge(self, units: float, name: str) -> None:
        name = self.named(name)
        self.units += units
        if units > self.dearest[0]:
            self.dearest = (units, name, (self.width, self.height))


def _bands(walk: _Walk) -> float:
    return 4 / 3 if walk.alpha else 1.0


def _blur(walk: _Walk, sigma: float, *, floating: bool, bands: float = 1.0) -> float:
    per = BLUR_FLOAT if floating or sigma > INT_BLUR_MAX_SIGMA else BLUR_INT
    return walk.mp * bands * (PASS + per * max(sigma, 0.3))


def _resize(walk: _Walk, step: Resize, name: str) -> float:
    r = resolve(step, walk.width, walk.height)
    box = plan_box(r, walk.width, walk.height)
    before = walk.mp
    sw, sh = box.scaled
    walk.canvas(sw, sh, name)
    walk.canvas(*box.out, name)
    cost = RESAMPLE * max(before, sw * sh * _MP) + PASS * walk.mp
    if (
        step.gravity in AUTO_GRAVITIES
        or step.crop is CropMode.AUTO
        or step.gravity in FACE_GRAVITIES
    ):
        cost += SMARTCROP * sw * sh * _MP  # faces: attention is their fallback (or g_auto's)
    if box.out[0] > sw or box.out[1] > sh:  # padded: transparent unless a colour is given
        walk.alpha = walk.alpha or step.background is None
    return cost * _bands(walk)


def _rotate(walk: _Walk, step: Rotate, name: str) -> float:
    if step.mode is RotateMode.DEGREES and float(step.degrees) % 90:
        t = math.radians(step.degrees)
        c, s = abs(math.cos(t)), abs(math.sin(t))
        w, h = walk.width, walk.height
        walk.canvas(math.ceil(w * c + h * s), math.ceil(w * s + h * c), name)
        walk.alpha = True
    return (PASS + STEP[Rotate]) * walk.mp * _bands(walk)


def _shadow(walk: _Walk, step: Shadow, name: str) -> float:
    dx, dy, sigma = shadow_geometry(step, walk.width, walk.height)
    dx, dy = abs(dx), abs(dy)
    margin = math.ceil(3 * sigma)
    walk.canvas(walk.width + dx + margin, walk.height + dy + margin, name)
    walk.alpha = True
    # the alpha band is blurred in float, then composited under the image
    return _blur(walk, sigma, floating=True, bands=0.25) + COMPOSITE * walk.mp


def _dropshadow(walk: _Walk, step: DropShadow, name: str) -> float:
    # drawn small (blur ≈ 3 px) and scaled up; the canvas grows by the cast shadow's reach
    # (at most the whole image as the subject, as `engine.shadows` projects it)
    w, h = walk.width, walk.height
    elevation = math.radians(max(step.elevation, 1))
    reach = min(2.5, math.cos(elevation) / math.sin(elevation))
    az = math.radians(step.azimuth)
    grow_x = abs(math.sin(az)) * reach * h
    grow_y = abs(math.cos(az)) * reach * 0.35 * h
    margin = math.ceil(0.06 * max(w, h))
    walk.canvas(w + math.ceil(grow_x) + 2 * margin, h + math.ceil(grow_y) + 2 * margin, name)
    walk.alpha = True
    return (COMPOSITE + RESAMPLE + 4 * PASS) * walk.mp


def _outline(walk: _Walk, step: Outline, name: str) -> float:
    # the band: one float blur of the alpha (sigma = width / 2), its edge's own blur, composite
    if step.mode in (OutlineMode.OUTER, OutlineMode.FILL):
        m = step.reach
        walk.canvas(walk.width + 2 * m, walk.height + 2 * m, name)
    walk.alpha = True
    cost = _blur(walk, step.width / 2, floating=True, bands=0.25)
    if step.sigma:
        cost += _blur(walk, step.sigma, floating=True, bands=0.25)
    return cost + COMPOSITE * walk.mp


def _mask(walk: _Walk, step: Mask) -> float:
    mp = walk.mp
    cost = RANK * mp * (step.shrink + step.expand) * 2
    cost += BLUR_FLOAT * mp * 0.25 * (step.feather / 2)
    if not step.invert and (step.expand or step.feather):
        cost += BLUR_FLOAT * mp * (4 / 3) * max(1.0, (step.expand + step.feather) / 2)
    walk.alpha = walk.alpha or not step.alpha
    return cost


def _step(walk: _Walk, step: Step, name: str) -> float:
    """Charge one step and move the walk to the canvas it leaves."""
    if isinstance(step, Resize):
        return _resize(walk, step, name)
    if isinstance(step, Rotate):
        return _rotate(walk, step, name)
    if isinstance(step, Blur):
        sigma = step.strength / 100 * max(walk.width, walk.height) / 200
        return _blur(walk, sigma, floating=walk.alpha, bands=_bands(walk))
    if isinstance(step, Border):
        walk.canvas(walk.width + 2 * step.width, walk.height + 2 * step.width, name)
        return PASS * walk.mp * _bands(walk)
    if isinstance(step, Shadow):
        return _shadow(walk, step, name)
    if isinstance(step, DropShadow):
        return _dropshadow(walk, step, name)
    if isinstance(step, Mask):
        return _mask(walk, step)
    if isinstance(step, Outline):
        return _outline(walk, step, name)
    if isinstance(step, Vectorize):
        side = max(walk.width, walk.height)
        traced = trace_side(step, side) ** 2 * walk.width * walk.height / side**2 * _MP
        per = VECTORIZE_FIXED + VECTORIZE_COLOR * step.colors
        return 2 * traced * per + 4 * PASS * walk.mp * _bands(walk)
    if isinstance(step, Pixelate):
        return 2 * PASS * walk.mp * _bands(walk)
    if isinstance(step, (RoundCorners, Opacity)):
        walk.alpha = True
    elif isinstance(step, Background):
        walk.alpha = False
    return (PASS + STEP.get(type(step), 10.0)) * walk.mp * _bands(walk)


def _text_box(text: Text) -> tuple[int, int]:
    """An upper-ish bound of a text overlay's size: wide glyphs, wrapped at the engine's width."""
    wrap = min(text.width or _TEXT_WRAP, _TEXT_WRAP)
    line = max(1, round(text.size * 0.75) + max(0, text.letter_spacing)) * len(text.text)
    lines = math.ceil(line / wrap) + text.text.count("\n")
    pitch = max(1, round(text.size * 1.3) + text.line_spacing)
    return max(1, min(line, wrap)), max(1, min(pitch * lines, text.height or 2**31))


def _layer(walk: _Walk, layer: Layer, sizes: Mapping[str, tuple[int, int]], name: str) -> None:
    """Charge a layer: its source, its own components, and the composite on the base."""
    base = (walk.width, walk.height)
    if isinstance(layer.source, Text):
        w, h = _text_box(layer.source)
        inner = _Walk(w, h, True, walk.max_canvas, within=name)
        inner.charge(TEXT * w * h * _MP, name)
    else:
        # a layer asset not stat'ed yet counts as large as the base (the wiring passes sizes)
        w, h = sizes.get(source_key(layer.source), base)
        inner = _Walk(w, h, True, walk.max_canvas, within=name)
        inner.charge(DECODE * w * h * _MP, name)
    for index, component in enumerate(layer.components):
        _component(inner, component, sizes, base if index == 0 and layer.relative else None)
    walk.units += inner.units
    if inner.dearest[0] > walk.dearest[0]:
        walk.dearest = inner.dearest
    if inner.largest[0] * inner.largest[1] > walk.largest[0] * walk.largest[1]:
        walk.largest = inner.largest
    if layer.placement.grows:
        # the canvas grows to hold the layer wherever it is placed (offsets are bounded by it)
        walk.canvas(max(walk.width, inner.width), max(walk.height, inner.height), name)
    walk.alpha = True
    walk.charge(COMPOSITE * walk.mp, name)


def _relative(step: Step, base: tuple[int, int]) -> Step:
    """`fl_relative`: fractional sizes of a layer's first component are of the base."""
    if not isinstance(step, Resize):
        return step
    w, h = step.width, step.height
    return dataclasses.replace(
        step,
        width=max(1, round(w * base[0])) if isinstance(w, float) else w,
        height=max(1, round(h * base[1])) if isinstance(h, float) else h,
    )


def _component(
    walk: _Walk,
    component: Component,
    sizes: Mapping[str, tuple[int, int]],
    relative_to: tuple[int, int] | None = None,
) -> None:
    if component.layer is not None:
        _layer(walk, component.layer, sizes, canonical_component(component))
        return
    for step in component.steps:
        if isinstance(step, Conditional | Dynamic):
            _control(walk, step, sizes)
            continue
        if isinstance(step, BackgroundRemoval):
            walk.alpha = True  # the cut-out's cost is the matte job's, not the render's
            continue
        name = canonical_step(step)
        if relative_to is not None:
            step = _relative(step, relative_to)
        walk.charge(_step(walk, step, name), name)


def _control(
    walk: _Walk, step: Conditional | Dynamic, sizes: Mapping[str, tuple[int, int]]
) -> None:
    """A condition or a dynamic component, decided on the sizes the walk has reached."""
    if walk.env is None:
        walk.env = Env(walk.width, walk.height)
    if isinstance(step, Conditional):
        holds = step.condition.holds(walk.env, walk.width, walk.height)
        for component in step.then if holds else step.otherwise:
            _component(walk, component, sizes)
        return
    resolved = resolve_dynamic(step, walk.env, walk.width, walk.height)
    _component(walk, Component(resolved), sizes)


def estimate(
    plan: Plan,
    width: int,
    height: int,
    *,
    source_format: str = "",
    layer_sizes: Mapping[str, tuple[int, int]] | None = None,
    max_canvas: int = 2**62,
    frames: int = 1,
    hints: ClientHints = NO_HINTS,
) -> Estimate:
    """The cost of rendering `plan` on a `width` × `height` source (`source_format` as the
    originals store names it: `jpg` carries no alpha), layer assets at `layer_sizes`; an
    animation runs every step on each of its `frames`."""
    sizes = layer_sizes or {}
    source_mp = width * height * _MP
    walk = _Walk(width, height, source_format != "jpg", max(max_canvas, width * height))
    walk.env = Env(width, height, hint_width=hints.width, hint_dpr=hints.dpr)
    walk.charge(DECODE * source_mp, "the source")
    for component in plan.components:
        _component(walk, component, sizes)
    encode = ENCODE.get(plan.output.format, ENCODE[None])
    # encoding a grown canvas is the cost of the step that grew it
    walk.charge(encode * walk.mp, walk.grown_by or "the output")
    baseline = (DECODE + ENCODE[None]) * source_mp
    units, name, canvas = walk.dearest
    return Estimate(
        walk.units * frames, baseline * frames, name, units * frames, canvas, walk.largest
    )


def check_cost(
    plan: Plan,
    width: int,
    height: int,
    *,
    budget: float,
    max_canvas: int,
    source_format: str = "",
    layer_sizes: Mapping[str, tuple[int, int]] | None = None,
    frames: int = 1,
    hints: ClientHints = NO_HINTS,
) -> Estimate:
    """The estimate, or InvalidTransformation (400) naming the component over the canvas
    limit or the one that costs most when the plan is over the budget."""
    est = estimate(
        plan,
        width,
        height,
        source_format=source_format,
        layer_sizes=layer_sizes,
        max_canvas=max_canvas,
        frames=frames,
        hints=hints,
    )
    if est.units - est.baseline > budget:
        w, h = est.canvas
        raise InvalidTransformation(
            f"Invalid transformation component: {est.dearest} on a {w}x{h} canvas"
            + (f" in each of {frames} frames" if frames > 1 else "")
            + f" exceeds the render budget (about {est.units - est.baseline:.0f} units; "
            f"limit {budget:.0f})"
        )
    return est


__all__ = ["Estimate", "check_cost", "estimate"]
