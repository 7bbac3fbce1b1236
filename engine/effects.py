"""The `e_<name>` colour and filter effects. Each works on the colour bands and leaves alpha as
it was; levels follow Cloudinary's ranges and defaults (see each step's docstring)."""

from __future__ import annotations

from collections.abc import Callable

import pyvips

from alphacdn.transform.steps import (
    BlackWhite,
    Blur,
    Brightness,
    Colorize,
    Contrast,
    Grayscale,
    Negate,
    Pixelate,
    Saturation,
    Sepia,
    Sharpen,
    Trim,
    Vignette,
)
from alphacdn.transform.values import Color

from .registry import Context, applies

_SEPIA = [[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]]


def on_colour(image: pyvips.Image, fn: Callable[[pyvips.Image], pyvips.Image]) -> pyvips.Image:
    """Apply `fn` to the RGB bands (float or uchar in, clipped to uchar out), alpha untouched."""
    rgb = fn(image[0:3]).cast("uchar")
    out = rgb.bandjoin(image[3]) if image.hasalpha() else rgb
    return out.copy(interpretation="srgb")


def luma(rgb: pyvips.Image) -> pyvips.Image:
    """Rec. 601 luma of an sRGB image, one float band."""
    return rgb.recomb([[0.299, 0.587, 0.114]])


def mix(a: pyvips.Image, b: pyvips.Image | list[float], amount: float) -> pyvips.Image:
    other = b * amount if isinstance(b, pyvips.Image) else [v * amount for v in b]
    return a * (1 - amount) + other


def rgb_of(color: Color) -> list[float]:
    return [float(color.r), float(color.g), float(color.b)]


@applies(Grayscale)
def apply_grayscale(image: pyvips.Image, step: Grayscale, ctx: Context) -> pyvips.Image:
    """`e_grayscale`."""
    return on_colour(image, lambda rgb: luma(rgb).bandjoin([luma(rgb), luma(rgb)]))


@applies(BlackWhite)
def apply_blackwhite(image: pyvips.Image, step: BlackWhite, ctx: Context) -> pyvips.Image:
    """`e_blackwhite[:<0-100>]`: pixels brighter than the threshold become white, others black."""
    level = step.threshold * 255 / 100

    def threshold(rgb: pyvips.Image) -> pyvips.Image:
        bw = (luma(rgb) > level).ifthenelse(255, 0)
        return bw.bandjoin([bw, bw])

    return on_colour(image, threshold)


@applies(Sepia)
def apply_sepia(image: pyvips.Image, step: Sepia, ctx: Context) -> pyvips.Image:
    """`e_sepia[:<1-100>]`: the classic sepia matrix, blended by strength."""
    return on_colour(image, lambda rgb: mix(rgb, rgb.recomb(_SEPIA), step.strength / 100))


def _sigma(image: pyvips.Image, strength: int) -> float:
    return max(0.3, strength / 100 * max(int(image.width), int(image.height)) / 200)


@applies(Blur)
def apply_blur(image: pyvips.Image, step: Blur, ctx: Context) -> pyvips.Image:
    """`e_blur[:<1-2000>]`: gaussian, sigma = strength / 100 × longest side / 200."""
    sigma = _sigma(image, step.strength)
    if not image.hasalpha():
        return image.gaussblur(sigma).cast("uchar")
    # blur premultiplied so transparent pixels lend no colour, then restore the alpha
    blurred = image.premultiply().gaussblur(sigma).unpremultiply()
    return blurred[0:3].cast("uchar").bandjoin(image[3]).copy(interpretation="srgb")


@applies(Sharpen)
def apply_sharpen(image: pyvips.Image, step: Sharpen, ctx: Context) -> pyvips.Image:
    """`e_sharpen[:<1-2000>]`: unsharp mask whose gain and clamps grow with strength / 100."""
    k = step.strength / 100

    def sharpen(rgb: pyvips.Image) -> pyvips.Image:
        out = rgb.sharpen(
            sigma=1.0, x1=2.0, m1=0.5 * k, m2=2.0 * k, y2=min(100, 10 * k), y3=min(100, 20 * k)
        )
        return out.colourspace("srgb")

    return on_colour(image, sharpen)


@applies(Brightness)
def apply_brightness(image: pyvips.Image, step: Brightness, ctx: Context) -> pyvips.Image:
    """`e_brightness[:<-99-100>]`: add level % of half the range (100 = +128)."""
    return on_colour(image, lambda rgb: rgb + step.level * 1.28)


@applies(Contrast)
def apply_contrast(image: pyvips.Image, step: Contrast, ctx: Context) -> pyvips.Image:
    """`e_contrast[:<-100-100>]`: scale around mid-grey by 1 + level / 100."""
    return on_colour(image, lambda rgb: (rgb - 128) * (1 + step.level / 100) + 128)


@applies(Saturation)
def apply_saturation(image: pyvips.Image, step: Saturation, ctx: Context) -> pyvips.Image:
    """`e_saturation[:<-100-100>]`: LCh chroma × (1 + level / 100); -100 is grey."""

    def saturate(rgb: pyvips.Image) -> pyvips.Image:
        lch = rgb.colourspace("lch")
        lch = lch * [1.0, 1 + step.level / 100, 1.0]
        return lch.copy(interpretation="lch").colourspace("srgb")

    return on_colour(image, saturate)


@applies(Negate)
def apply_negate(image: pyvips.Image, step: Negate, ctx: Context) -> pyvips.Image:
    """`e_negate`: invert the colours."""
    return on_colour(image, lambda rgb: rgb.invert())


@applies(Pixelate)
def apply_pixelate(image: pyvips.Image, step: Pixelate, ctx: Context) -> pyvips.Image:
    """`e_pixelate[:<1-200>]`: average squares of `size` pixels (premultiplied), alpha kept."""
    size = min(step.size, image.width, image.height)
    if size <= 1:
        return image
    w, h = image.width, image.height
    src = image.premultiply() if image.hasalpha() else image
    blocks = src.shrink(size, size).zoom(size, size).embed(0, 0, w, h, extend="copy")
    if image.hasalpha():
        blocks = blocks.unpremultiply()
    return on_colour(image, lambda rgb: blocks[0:3])


@applies(Vignette)
def apply_vignette(image: pyvips.Image, step: Vignette, ctx: Context) -> pyvips.Image:
    """`e_vignette[:<0-100>]`: darken towards the corners, by strength % at the corners."""
    xy = pyvips.Image.xyz(image.width, image.height)
    cx, cy = image.width / 2, image.height / 2
    d2 = ((xy[0] - cx) / cx) ** 2 / 2 + ((xy[1] - cy) / cy) ** 2 / 2
    gain = 1 - step.strength / 100 * d2
    return on_colour(image, lambda rgb: rgb * gain)


@applies(Trim)
def apply_trim(image: pyvips.Image, step: Trim, ctx: Context) -> pyvips.Image:
    """`e_trim[:<0-100>]`: cut borders of the top-left pixel's colour (or transparency)."""
    threshold = max(1.0, step.tolerance * 255 / 100)
    if image.width < 3 or image.height < 3:
        return image  # find_trim's 3×3 median needs room; nothing that small has a border
    image = image.copy_memory()  # read three times below
    if image.hasalpha() and image[3].getpoint(0, 0)[0] < 255:
        left, top, w, h = image[3].find_trim(threshold=threshold, background=[0])
    else:
        corner = image[0:3].getpoint(0, 0)
        left, top, w, h = image[0:3].find_trim(threshold=threshold, background=corner)
    if w == 0 or h == 0:
        return image
    return image.crop(left, top, w, h)


@applies(Colorize)
def apply_colorize(image: pyvips.Image, step: Colorize, ctx: Context) -> pyvips.Image:
    """`e_colorize[:<0-100>],co_<color>`: blend towards the colour by level %."""
    return on_colour(image, lambda rgb: mix(rgb, rgb_of(step.color), step.level / 100))


__all__ = ["luma", "mix", "on_colour", "rgb_of"]
