"""Accessibility effects: the multi-step `e_tint` and `e_assist_colorblind` (grammar in
`transform.accessibility`)."""

from __future__ import annotations

import numpy as np
import pyvips

from alphacdn.transform.accessibility import AssistColorblind
from alphacdn.transform.steps import Tint
from alphacdn.transform.values import Color

from .effects import luma, mix, on_colour, rgb_of
from .registry import Context, applies

#: RGB → LMS, deuteranope's LMS, LMS → RGB (Viénot / Brettel, as daltonize tools use them)
_RGB_LMS = np.array([[17.8824, 43.5161, 4.11935], [3.45565, 27.1554, 3.86714],
                     [0.0299566, 0.184309, 1.46709]])  # fmt: skip
_DEUTAN = np.array([[1.0, 0.0, 0.0], [0.494207, 0.0, 1.24827], [0.0, 0.0, 1.0]])
#: where the lost red–green difference goes: into green-blue and blue, which stay distinct
_SHIFT = np.array([[0.0, 0.0, 0.0], [0.7, 1.0, 0.0], [0.7, 0.0, 1.0]])
_SEEN = np.linalg.inv(_RGB_LMS) @ _DEUTAN @ _RGB_LMS
#: daltonize in one matrix: rgb + shift · (rgb − seen · rgb)
XRAY = (np.eye(3) + _SHIFT - _SHIFT @ _SEEN).tolist()


def _stops(step: Tint) -> list[tuple[Color, float]]:
    """The gradient's colours at positions 0..1: missing positions spread evenly."""
    given = [(step.color, step.position), *step.more]
    pos: list[float | None] = [None if p is None else p / 100 for _, p in given]
    if pos[0] is None:
        pos[0] = 0.0
    if pos[-1] is None:
        pos[-1] = 1.0
    i = 0
    while i < len(pos):
        if pos[i] is None:
            j = i
            while pos[j] is None:
                j += 1
            lo, hi = pos[i - 1], pos[j]
            assert lo is not None and hi is not None
            for k in range(i, j):
                pos[k] = lo + (hi - lo) * (k - i + 1) / (j - i + 1)
            i = j
        i += 1
    return sorted(((c, p or 0.0) for (c, _), p in zip(given, pos, strict=True)),
                  key=lambda t: t[1])  # fmt: skip


def gradient_lut(step: Tint) -> pyvips.Image:
    """A 256-entry RGB lookup table: luma → the gradient's colour."""
    stops = _stops(step)
    xs = np.array([p for _, p in stops]) * 255
    table = np.stack(
        [np.interp(np.arange(256), xs, [getattr(c, band) for c, _ in stops]) for band in "rgb"],
        axis=-1,
    )
    return _lut(table)


def _lut(table: np.ndarray) -> pyvips.Image:
    data = np.ascontiguousarray(table.round().clip(0, 255).astype(np.uint8))
    return pyvips.Image.new_from_memory(data.tobytes(), 256, 1, 3, "uchar")


@applies(Tint)
def apply_tint(image: pyvips.Image, step: Tint, ctx: Context) -> pyvips.Image:
    """`e_tint[:equalize][:<amount>[:<color>[:<pos>p]…]]`: one colour blends with the colour
    scaled by the pixel's luma; several blend with the gradient's colour at the pixel's luma;
    `equalize` stretches the luma first."""

    def tint(rgb: pyvips.Image) -> pyvips.Image:
        y = luma(rgb)
        if step.equalize:
            y = y.cast("uchar").hist_equal()
        if not step.more and step.position is None:
            tinted = y / 255 * rgb_of(step.color)
        else:
            tinted = y.cast("uchar").maplut(gradient_lut(step))
        return mix(rgb, tinted, step.amount / 100)

    return on_colour(image, tint)


@applies(AssistColorblind)
def apply_assist_colorblind(
    image: pyvips.Image, step: AssistColorblind, ctx: Context
) -> pyvips.Image:
    """`e_assist_colorblind[:<strength>|xray]`: red areas get stripes one way, green areas the
    other, darker with strength; `xray` daltonizes (the red–green difference moves into what
    deuteranopes see)."""
    if step.xray:
        return on_colour(image, lambda rgb: rgb.recomb(XRAY))
    period = max(8, round(max(image.width, image.height) / 40))
    xy = pyvips.Image.xyz(image.width, image.height)
    x, y = xy[0], xy[1]
    one_way = ((x + y) % period) < period / 2
    other_way = ((x - y + 16 * period) % period) < period / 2
    darkness = 0.25 + 0.75 * step.strength / 100

    def stripes(rgb: pyvips.Image) -> pyvips.Image:
        f = rgb.cast("float")
        r, g, b = f[0], f[1], f[2]
        red = _clip01((r - (g > b).ifthenelse(g, b)) / 255 * 3)
        green = _clip01((g - (r > b).ifthenelse(r, b)) / 255 * 3)
        shade = (one_way / 255) * red + (other_way / 255) * green
        return f * (1 - darkness * _clip01(shade))

    return on_colour(image, stripes)


def _clip01(image: pyvips.Image) -> pyvips.Image:
    return (image < 0).ifthenelse(0, (image > 1).ifthenelse(1, image))


__all__ = ["XRAY", "apply_assist_colorblind", "apply_tint", "gradient_lut"]
