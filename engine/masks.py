"""Mask controls on a matte (Topaz-style): shrink, expand, feather, invert, alpha-only output.

The functions on one alpha band are pure and public so that other callers (the remove.bg-style
API) run the same code as `e_mask`: `edit_alpha(alpha, shrink=2, feather=3)`.
"""

from __future__ import annotations

import pyvips

from alphacdn.transform.compositing import Mask
from alphacdn.transform.errors import InvalidTransformation

from .registry import Context, applies
from .subject import has_transparency


def _rank(alpha: pyvips.Image, radius: int, *, maximum: bool) -> pyvips.Image:
    """Square min (erode) or max (dilate) filter of `radius` px, separable (rows, then columns).
    The edges are extended first so windows wider than a small image still work."""
    size = 2 * radius + 1
    index = size - 1 if maximum else 0
    w, h = alpha.width, alpha.height
    padded = alpha.embed(radius, radius, w + 2 * radius, h + 2 * radius, extend="copy")
    return padded.rank(size, 1, index).rank(1, size, index).crop(radius, radius, w, h)


def shrink(alpha: pyvips.Image, px: int) -> pyvips.Image:
    """Erode the subject by `px` pixels (its edge moves inwards)."""
    return alpha if px <= 0 else _rank(alpha, px, maximum=False)


def expand(alpha: pyvips.Image, px: int) -> pyvips.Image:
    """Dilate the subject by `px` pixels (its edge moves outwards)."""
    return alpha if px <= 0 else _rank(alpha, px, maximum=True)


def feather(alpha: pyvips.Image, px: int) -> pyvips.Image:
    """Soften the edge over about `px` pixels (gaussian, sigma = px / 2)."""
    return alpha if px <= 0 else alpha.gaussblur(px / 2).cast("uchar")


def invert(alpha: pyvips.Image) -> pyvips.Image:
    """Swap subject and background."""
    return alpha.invert()


def edit_alpha(
    alpha: pyvips.Image,
    *,
    shrink_px: int = 0,
    expand_px: int = 0,
    feather_px: int = 0,
    inverted: bool = False,
) -> pyvips.Image:
    """shrink → expand → feather → invert, on one uchar alpha band."""
    out = feather(expand(shrink(alpha, shrink_px), expand_px), feather_px)
    return (invert(out) if inverted else out).cast("uchar")


def extend_colours(image: pyvips.Image, radius: int) -> pyvips.Image:
    """The RGB of an RGBA image with the subject's colours carried `radius` px out into the
    transparent area, so a grown or feathered edge shows subject colours, not the black (or
    old background) a cut-out holds under alpha 0."""
    if radius <= 0:
        return image[0:3]
    sigma = max(1.0, radius / 2)
    spread = image.premultiply().gaussblur(sigma)  # colour × alpha, and alpha, both spread
    weight = spread[3].cast("float")
    ext = (spread[0:3] / (weight + 1e-3) * 255).cast("float")
    a = image[3].cast("float") / 255
    return (image[0:3] * a + ext * (1 - a)).cast("uchar")


def alpha_image(alpha: pyvips.Image) -> pyvips.Image:
    """The matte as an opaque 3-band grayscale image (white = subject)."""
    return alpha.bandjoin([alpha, alpha]).copy(interpretation="srgb")


@applies(Mask)
def apply_mask(image: pyvips.Image, step: Mask, ctx: Context) -> pyvips.Image:
    """`e_mask:[shrink_<n>][;expand_<n>][;feather_<n>][;invert][;alpha]` on the alpha band."""
    if not has_transparency(image):
        raise InvalidTransformation(
            "Invalid transformation component: e_mask (needs an image with transparency: "
            "put e_background_removal first)"
        )
    alpha = edit_alpha(
        image[3],
        shrink_px=step.shrink,
        expand_px=step.expand,
        feather_px=step.feather,
        inverted=step.invert,
    )
    if step.alpha:
        return alpha_image(alpha)
    rgb = extend_colours(image, step.expand + step.feather) if not step.invert else image[0:3]
    return rgb.bandjoin(alpha).copy(interpretation="srgb")


__all__ = [
    "alpha_image",
    "apply_mask",
    "edit_alpha",
    "expand",
    "extend_colours",
    "feather",
    "invert",
    "shrink",
]
