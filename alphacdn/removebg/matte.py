"""Small pure pyvips functions on a cut-out: alpha edits, premultiplied resize, shadows, backdrop.

Each takes and returns `pyvips.Image` values (RGBA uchar unless stated) and does no I/O, so they
can move into `alphacdn.engine` when it offers the same primitives.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyvips
from numpy.typing import NDArray

from alphacdn.engine import masks
from alphacdn.removebg.params import MaskControls

Image = Any  # pyvips.Image (pyvips ships no type information)


def to_rgba(image: Image | NDArray[np.uint8]) -> Image:
    """A 4-band sRGB uchar vips image from a vips image or an HxWx4 uint8 array."""
    if isinstance(image, np.ndarray):
        arr = np.ascontiguousarray(image, dtype=np.uint8)
        if arr.ndim != 3 or arr.shape[2] not in (3, 4):
            raise ValueError("cut-out array must be HxWx4 uint8")
        h, w, bands = arr.shape
        image = pyvips.Image.new_from_memory(arr.tobytes(), w, h, bands, "uchar")
    if image.format != "uchar" and image.interpretation in ("multiband", "b-w", "srgb"):
        image = image.cast("uchar")
    if image.interpretation != "srgb" or image.bands < 3:
        image = image.colourspace("srgb")  # grey, 16-bit, CMYK … → 8-bit sRGB (alpha kept)
    if image.bands == 3:
        image = image.bandjoin(255)
    return image.extract_band(0, n=4).cast("uchar").copy(interpretation="srgb")


def resize_premultiplied(rgba: Image, scale: float) -> Image:
    """Resize an RGBA image by `scale` with alpha premultiplied (no dark fringes)."""
    if abs(scale - 1.0) < 1e-6:
        return rgba
    out = rgba.premultiply().resize(scale, kernel="lanczos3" if scale < 1 else "linear")
    return out.unpremultiply().cast("uchar").copy(interpretation="srgb")


def limit_pixels(rgba: Image, max_pixels: int) -> Image:
    """Downscale (never up) so that width × height ≤ max_pixels."""
    pixels = rgba.width * rgba.height
    if pixels <= max_pixels:
        return rgba
    return resize_premultiplied(rgba, math.sqrt(max_pixels / pixels) * 0.999)


def with_alpha(rgba: Image, alpha: Image) -> Image:
    return rgba.extract_band(0, n=3).bandjoin(alpha.cast("uchar")).copy(interpretation="srgb")


def edit_alpha(alpha: Image, mask: MaskControls) -> Image:
    """shrink → expand → feather → invert: the engine's mask controls (`e_mask:` in URLs)."""
    return masks.edit_alpha(
        alpha,
        shrink_px=mask.shrink,
        expand_px=mask.expand,
        feather_px=mask.feather,
        inverted=mask.invert,
    )


def restrict_to_region(alpha: Image, left: int, top: int, width: int, height: int) -> Image:
    """Zero the alpha outside the rectangle (the `roi`)."""
    inside = alpha.extract_area(left, top, width, height)
    return inside.embed(left, top, alpha.width, alpha.height, extend="black")


def _nonzero_span(profile: Image) -> tuple[int, int]:
    values = np.frombuffer(profile.cast("double").write_to_memory(), dtype=np.float64)
    hits = np.flatnonzero(values)
    return int(hits[0]), int(hits[-1]) + 1


def foreground_box(alpha: Image, threshold: int = 8) -> tuple[int, int, int, int]:
    """(left, top, width, height) of the pixels with alpha above `threshold`; width 0 if none."""
    if alpha.max() <= threshold:
        return (0, 0, 0, 0)
    columns, rows = (alpha > threshold).project()  # sums per column and per row
    x0, x1 = _nonzero_span(columns)
    y0, y1 = _nonzero_span(rows)
    return (x0, y0, x1 - x0, y1 - y0)


def _place(image: Image, x: int, y: int, width: int, height: int) -> Image:
    """`image` at (x, y) on a black width × height canvas, clipped (any offset is fine)."""
    canvas_w, canvas_h = max(width, x + image.width), max(height, y + image.height)
    return image.embed(x, y, canvas_w, canvas_h, extend="black").extract_area(0, 0, width, height)


def shadow_layer(rgba: Image, kind: str, opacity: int, box: tuple[int, int, int, int]) -> Image:
    """A black RGBA layer the size of `rgba` holding a soft shadow of its alpha."""
    left, top, width, height = box
    alpha = rgba.extract_band(3)
    size = max(width, height, 1)
    if kind == "drop":
        offset = max(1, round(size * 0.02))
        blurred = alpha.gaussblur(max(1.0, size * 0.015))
        shadow = _place(blurred, offset, offset, alpha.width, alpha.height)
    else:  # "3D" / "car": a ground contact shadow, the subject's footprint squashed flat
        flat_h = max(2, round(height * 0.12))
        footprint = alpha.extract_area(left, top, width, height).resize(1.0, vscale=flat_h / height)
        base = top + height - flat_h // 2
        shadow = _place(footprint, left, base, alpha.width, alpha.height + flat_h)
        shadow = shadow.gaussblur(max(1.0, flat_h * 0.35))
        shadow = shadow.extract_area(0, 0, alpha.width, alpha.height)
    shadow = (shadow * (opacity / 100.0)).cast("uchar")
    black = rgba.new_from_image([0, 0, 0]).cast("uchar")
    return black.bandjoin(shadow).copy(interpretation="srgb")


def over(top: Image, bottom: Image) -> Image:
    """`top` over `bottom` (same size), composited premultiplied by libvips."""
    return bottom.composite2(top, "over").cast("uchar").copy(interpretation="srgb")


def backdrop_color(rgba: Image, color: tuple[int, int, int, int]) -> Image:
    return rgba.new_from_image(list(color)).cast("uchar").copy(interpretation="srgb")


def backdrop_image(bg: Image, width: int, height: int) -> Image:
    """Resize `bg` to cover width × height (centred, aspect kept) unless it already matches."""
    bg = to_rgba(bg)
    if (bg.width, bg.height) == (width, height):
        return bg
    scale = max(width / bg.width, height / bg.height)
    resized = resize_premultiplied(bg, scale)
    left = max(0, (resized.width - width) // 2)
    top = max(0, (resized.height - height) // 2)
    w, h = min(width, resized.width - left), min(height, resized.height - top)
    return resized.extract_area(left, top, w, h).embed(0, 0, width, height, extend="copy")


__all__ = [
    "backdrop_color",
    "backdrop_image",
    "edit_alpha",
    "foreground_box",
    "limit_pixels",
    "over",
    "resize_premultiplied",
    "restrict_to_region",
    "shadow_layer",
    "to_rgba",
    "with_alpha",
]
