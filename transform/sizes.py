"""The size a `Resize` makes, from the current size alone: pure, no pixels.

A resize is planned as a `Box`: scale the whole image to `scaled`, then crop to `out` where
`out` is smaller, then pad to `out` where it is larger. The engine applies it
(`engine.resize`), shrinks on load with it (`engine.render`), and the cost estimate
(`transform.cost`) follows a chain's sizes with it before anything is decoded.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from .steps import Resize
from .values import CropMode, Length

_PADS = (CropMode.PAD, CropMode.LPAD, CropMode.MPAD)
_CROPS = (
    CropMode.FILL,
    CropMode.AUTO,
    CropMode.LFILL,
    CropMode.CROP,
    CropMode.THUMB,
    CropMode.FILL_PAD,
)


@dataclass(frozen=True, slots=True)
class Box:
    """What a resolved `Resize` does to an image: scale it whole, then crop/pad to `out`."""

    scaled: tuple[int, int]
    out: tuple[int, int]


def _px(value: Length | None, current: int) -> float | None:
    """Pixels for a length: ints are pixels, floats are relative to the current size."""
    if value is None:
        return None
    return value * current if isinstance(value, float) else float(value)


def resolve(step: Resize, width: int, height: int) -> Resize:
    """The same step in absolute pixels: relative lengths, `ar_` and `dpr_` folded in."""
    w, h = _px(step.width, width), _px(step.height, height)
    ar = step.aspect_ratio
    if ar is not None and (w is None or h is None):
        if w is not None:
            h = w / ar
        elif h is not None:
            w = h * ar
        elif step.crop in _CROPS:  # the largest region of that shape
            w = min(width, height * ar)
            h = w / ar
        elif step.crop in _PADS:  # the smallest canvas of that shape
            w = max(width, height * ar)
            h = w / ar
        else:
            w, h = float(width), width / ar
    if w is None and h is None and step.dpr != 1.0:
        w = float(width)
    if w is not None:
        w *= step.dpr
    if h is not None:
        h *= step.dpr
    return dataclasses.replace(
        step,
        width=None if w is None else max(1, round(w)),
        height=None if h is None else max(1, round(h)),
        x=None if step.x is None else round(_px(step.x, width) or 0),
        y=None if step.y is None else round(_px(step.y, height) or 0),
        aspect_ratio=None,
        dpr=1.0,
    )


def _scaled(width: int, height: int, s: float) -> tuple[int, int]:
    return max(1, round(width * s)), max(1, round(height * s))


def plan_box(step: Resize, width: int, height: int) -> Box:
    """The `Box` of a resolved step (see `resolve`) for an image of `width` × `height`."""
    tw, th = step.width, step.height
    assert not isinstance(tw, float) and not isinstance(th, float), "resolve() first"
    if tw is None and th is None:
        if step.crop is CropMode.CROP and step.zoom:
            return Box(_scaled(width, height, step.zoom), (width, height))
        return Box((width, height), (width, height))
    given = [s for s in (tw and tw / width, th and th / height) if s]
    fit, cover = min(given), max(given)
    mode = step.crop
    if mode is CropMode.CROP:
        sw, sh = _scaled(width, height, step.zoom or 1.0)
        return Box((sw, sh), (min(tw or sw, sw), min(th or sh, sh)))
    if tw is None or th is None:
        # one dimension: every mode keeps the aspect ratio; limit-like modes never upscale
        s = fit
        if mode in (CropMode.LIMIT, CropMode.LFILL, CropMode.LPAD):
            s = min(s, 1.0)
        elif mode is CropMode.MFIT:
            s = max(s, 1.0)
        elif mode is CropMode.MPAD:
            s = 1.0
        return Box(_scaled(width, height, s), _scaled(width, height, s))
    if mode is CropMode.SCALE:
        return Box((tw, th), (tw, th))
    if mode in (CropMode.FIT, CropMode.LIMIT, CropMode.MFIT):
        s = {CropMode.FIT: fit, CropMode.LIMIT: min(fit, 1.0), CropMode.MFIT: max(fit, 1.0)}[mode]
        return Box(_scaled(width, height, s), _scaled(width, height, s))
    if mode in (CropMode.FILL, CropMode.THUMB, CropMode.AUTO):
        # thumb is fill around the gravity, zoomed in by `z_` (2.0 = twice as close)
        s = cover * (step.zoom or 1.0) if mode is CropMode.THUMB else cover
        sw, sh = _scaled(width, height, s)
        return Box((max(sw, tw), max(sh, th)), (tw, th))
    if mode is CropMode.LFILL:
        sw, sh = _scaled(width, height, min(cover, 1.0))
        return Box((sw, sh), (min(tw, sw), min(th, sh)))
    if mode is CropMode.FILL_PAD:
        # between fit and fill: crop a little of one side, pad a little of the other
        sw, sh = _scaled(width, height, math.sqrt(fit * cover))
        return Box((sw, sh), (tw, th))
    if mode is CropMode.PAD:
        return Box(_scaled(width, height, fit), (tw, th))
    if mode is CropMode.LPAD:
        return Box(_scaled(width, height, min(fit, 1.0)), (tw, th))
    # MPAD: pad without scaling; a source larger than the box is not scaled down either
    return Box((width, height), (max(tw, width), max(th, height)))


__all__ = ["Box", "plan_box", "resolve"]
