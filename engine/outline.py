"""`e_outline`: a band of colour along the edge of the image's alpha (see `transform.shapes`).

The band is found with a blur instead of a disc-shaped dilation (whose cost grows with the
square of the width): the alpha blurred with sigma = width / 2 crosses a low threshold about
`width` px outside a straight edge, so thresholding it there (antialiased over ~1 px) grows the
shape by the width, with rounded corners. The inner band is the same done on the inverted alpha.
"""

from __future__ import annotations

import pyvips

from alphacdn.transform.errors import InvalidTransformation
from alphacdn.transform.shapes import Outline, OutlineMode

from . import alpha as _alpha
from .registry import Context, applies

#: where the blurred edge is cut: 2 sigma outside a straight edge (Φ(-2) ≈ 0.023)
_LEVEL = 0.0228 * 255
#: the blurred edge's slope there, per px, times sigma (255 × φ(2))
_SLOPE = 255 * 0.054


def grow(alpha: pyvips.Image, px: int) -> pyvips.Image:
    """The shape of a uchar alpha grown by `px` px (rounded corners, antialiased), as float
    0..255. The image must have `px` px of room around the shape (embed it first)."""
    sigma = px / 2
    blurred = alpha.gaussblur(sigma, precision="float")
    inside = (blurred - _LEVEL) * (sigma / _SLOPE) + 0.5  # ≈ px inside the grown edge
    grown = (inside * 255).cast("float")
    grown = (grown > 255).ifthenelse(255, grown)
    grown = (grown < 0).ifthenelse(0, grown)
    # the original shape is always inside (blur thins a 1-px line below the threshold)
    a = alpha.cast("float")
    return (a > grown).ifthenelse(a, grown)


def _band_colour(image: pyvips.Image, a: pyvips.Image, step: Outline) -> pyvips.Image:
    """A layer of the outline colour whose alpha is `a` (float 0..255) times the colour's."""
    c = step.color
    ink = (a * (c.a / 255)).cast("uchar")
    return (
        ink.new_from_image([c.r, c.g, c.b]).cast("uchar").bandjoin(ink).copy(interpretation="srgb")
    )


def _soften(a: pyvips.Image, step: Outline) -> pyvips.Image:
    return a.gaussblur(step.sigma, precision="float") if step.sigma > 0 else a


@applies(Outline)
def apply_outline(image: pyvips.Image, step: Outline, ctx: Context) -> pyvips.Image:
    """`e_outline[:mode][:width][:blur],co_`: see `transform.shapes`."""
    image = _alpha.with_alpha(image)
    w, h = image.width, image.height
    if step.mode in (OutlineMode.OUTER, OutlineMode.FILL):
        m = step.reach
        if (w + 2 * m) * (h + 2 * m) > ctx.max_pixels:
            raise InvalidTransformation("outline canvas is over the pixel limit")
        base = image.embed(m, m, w + 2 * m, h + 2 * m, background=[0, 0, 0, 0])
        # the shape: any alpha from 1/4 up counts as inside (a half-transparent subject is
        # outlined as far out as an opaque one, and the ring stays outside it)
        shape = (base[3].cast("float") * 4).cast("float")
        shape = (shape > 255).ifthenelse(255, shape).cast("uchar")
        grown = grow(shape, step.width)
        band = grown if step.mode is OutlineMode.FILL else grown * (1 - shape / 255)
        band = _soften(band, step)
        out = _band_colour(base, band, step).composite2(base, "over")
        return out.cast("uchar").copy(interpretation="srgb")
    # inner modes: the band inside the edge (the image's own border counts as an edge)
    m = step.width
    a = image[3]
    padded = a.embed(m, m, w + 2 * m, h + 2 * m, background=[0])
    outside = grow(padded.invert(), step.width).crop(m, m, w, h)
    band = outside * (a.cast("float") / 255)
    band = _soften(band, step)
    if step.mode is OutlineMode.INNER_FILL:
        under = _band_colour(image, a.cast("float"), step)
        image = under.composite2(image, "over").cast("uchar")
    over = _band_colour(image, band, step)
    rgb = image.composite2(over, "over")[0:3].cast("uchar")
    return rgb.bandjoin(a).copy(interpretation="srgb")


__all__ = ["apply_outline", "grow"]
