"""The subject of a cut-out, read from its alpha: is there one, where is it, what surrounds it.

Used by subject-aware geometry (`g_auto` crops on the subject box when the image has
transparency), by shadows (the ground line is the bottom of the box) and by `b_auto` pads.
"""

from __future__ import annotations

import pyvips

from alphacdn.transform.values import AutoColor, Color

#: alpha at or below this counts as background when finding the subject box
SUBJECT_THRESHOLD = 8
#: quantisation of `b_auto` colour votes (per channel)
_BINS = 8


def has_transparency(image: pyvips.Image) -> bool:
    """Whether the image has an alpha band with at least one pixel that is not opaque."""
    return bool(image.hasalpha()) and image[image.bands - 1].min() < 255


def subject_box(
    alpha: pyvips.Image, threshold: int = SUBJECT_THRESHOLD
) -> tuple[int, int, int, int] | None:
    """(left, top, width, height) of the pixels with alpha above `threshold`; None if none."""
    mask = alpha > threshold
    if mask.max() == 0:
        return None
    columns, rows = mask.project()
    (left, right), (top, bottom) = _span(columns), _span(rows)
    return left, top, right - left, bottom - top


def _span(profile: pyvips.Image) -> tuple[int, int]:
    """First and one-past-last non-zero position of a 1-D projection profile."""
    flags = bytes((profile > 0).write_to_memory())  # one 0/255 byte per position
    return flags.find(255), flags.rfind(255) + 1


def crop_origin(
    box: tuple[int, int, int, int], width: int, height: int, cw: int, ch: int
) -> tuple[int, int]:
    """Top-left of a `cw` × `ch` window inside `width` × `height`, centred on `box`."""
    left, top, bw, bh = box
    x = round(left + bw / 2 - cw / 2)
    y = round(top + bh / 2 - ch / 2)
    return max(0, min(width - cw, x)), max(0, min(height - ch, y))


def subject_crop(image: pyvips.Image, cw: int, ch: int) -> pyvips.Image | None:
    """A `cw` × `ch` crop centred on the subject of a transparent image; None for opaque ones."""
    if not has_transparency(image):
        return None
    box = subject_box(image[image.bands - 1])
    if box is None:
        return None
    x, y = crop_origin(box, image.width, image.height, cw, ch)
    return image.crop(x, y, cw, ch)


def _ring(image: pyvips.Image) -> pyvips.Image:
    """The one-pixel border of an image as one row (top, bottom, left, right edges)."""
    w, h = image.width, image.height
    top, bottom = image.crop(0, 0, w, 1), image.crop(0, h - 1, w, 1)
    left, right = image.crop(0, 0, 1, h).rot90(), image.crop(w - 1, 0, 1, h).rot90()
    return top.join(bottom, "horizontal").join(left, "horizontal").join(right, "horizontal")


def auto_color(image: pyvips.Image, mode: AutoColor) -> Color:
    """`b_auto`: the most common colour (8 levels a channel, then averaged) of the image's border
    or of the whole image. Mostly transparent borders give transparent."""
    pixels = _ring(image) if mode is AutoColor.BORDER else image
    if pixels.hasalpha():
        alpha = pixels[pixels.bands - 1]
        if alpha.avg() < 128:
            return Color(0, 0, 0, 0)
        pixels = pixels[0:3]
    hist = pixels.hist_find_ndim(bins=_BINS)  # _BINS × _BINS image of _BINS bands: r, g → b
    best, where = -1.0, (0, 0, 0)
    for band in range(_BINS):
        value, x, y = _max_pos(hist[band])
        if value > best:
            best, where = value, (x, y, band)
    lo = [v * 256 // _BINS for v in where]
    inside = (pixels >= lo) & (pixels < [v + 256 // _BINS for v in lo])
    chosen = inside.bandand()
    count = max(1.0, chosen.avg() / 255 * pixels.width * pixels.height)
    rgb = [(pixels[i] * (chosen / 255)).avg() * pixels.width * pixels.height / count
           for i in range(3)]  # fmt: skip
    return Color(*(max(0, min(255, round(v))) for v in rgb))


def _max_pos(band: pyvips.Image) -> tuple[float, int, int]:
    value, opts = band.max(x=True, y=True)
    return float(value), int(opts["x"]), int(opts["y"])


__all__ = [
    "SUBJECT_THRESHOLD",
    "auto_color",
    "crop_origin",
    "has_transparency",
    "subject_box",
    "subject_crop",
]
