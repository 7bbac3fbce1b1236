"""Alpha-aware building blocks: premultiplied resize, flatten, fill colours, canvas embedding.

Images inside the engine are 8-bit sRGB with 3 bands, or 4 with alpha (see `load`). Every
resampling of an image with alpha runs premultiplied so transparent pixels' colour never
bleeds into the edges (no dark fringes).
"""

from __future__ import annotations

import pyvips

from alphacdn.transform.values import WHITE, Color

TRANSPARENT = Color(0, 0, 0, 0)


def canvas_fill(
    image: pyvips.Image, color: Color | None, transparent_ok: bool
) -> tuple[pyvips.Image, list[float]]:
    """The image (with an alpha band added if the fill needs one) and the band values for new
    pixels: `color`, else transparent when allowed, else white."""
    if color is None:
        color = TRANSPARENT if transparent_ok else WHITE
    if color.a < 255:
        image = with_alpha(image)
    if image.hasalpha():
        return image, [color.r, color.g, color.b, color.a]
    return image, [color.r, color.g, color.b]


def with_alpha(image: pyvips.Image) -> pyvips.Image:
    """The image with an opaque alpha band added if it has none."""
    return image if image.hasalpha() else image.bandjoin(255)


def resize(
    image: pyvips.Image, hscale: float, vscale: float | None = None, *, kernel: str = "lanczos3"
) -> pyvips.Image:
    """`vips_resize` (lanczos3 unless `kernel` says), premultiplied when the image has alpha."""
    vscale = hscale if vscale is None else vscale
    if abs(hscale - 1.0) < 1e-9 and abs(vscale - 1.0) < 1e-9:
        return image
    if not image.hasalpha():
        return image.resize(hscale, vscale=vscale, kernel=kernel)
    out = image.premultiply().resize(hscale, vscale=vscale, kernel=kernel).unpremultiply()
    return out.cast("uchar")


def resize_to(image: pyvips.Image, width: int, height: int) -> pyvips.Image:
    """Resize to exactly `width` × `height` pixels (distorting if the aspect differs)."""
    if (width, height) == (image.width, image.height):
        return image
    out = resize(image, width / image.width, height / image.height)
    if (out.width, out.height) != (width, height):
        # vips rounds the scaled size; a one-pixel difference is settled by cropping/extending
        out = out.gravity("centre", width, height, extend="copy")
    return out


def flatten(image: pyvips.Image, color: Color = WHITE) -> pyvips.Image:
    """Composite over a solid colour and drop alpha (an alpha colour keeps the result's alpha)."""
    if not image.hasalpha():
        return image
    if color.a == 255:
        return image.flatten(background=[color.r, color.g, color.b]).cast("uchar")
    base = image.new_from_image([color.r, color.g, color.b, color.a]).copy(interpretation="srgb")
    return base.composite2(image, "over").cast("uchar")


def composite_over(base: pyvips.Image, overlay: pyvips.Image, x: int, y: int) -> pyvips.Image:
    """`overlay` over `base` at (x, y), premultiplied (vips composite is premultiplied inside)."""
    out = base.composite2(overlay, "over", x=x, y=y)
    return out.cast("uchar")


def embed(
    image: pyvips.Image, x: int, y: int, width: int, height: int, fill: list[float]
) -> pyvips.Image:
    """Place the image on a `width` × `height` canvas of `fill` at (x, y)."""
    return image.embed(x, y, width, height, extend="background", background=fill)


__all__ = [
    "TRANSPARENT",
    "canvas_fill",
    "composite_over",
    "embed",
    "flatten",
    "resize",
    "resize_to",
    "with_alpha",
]
