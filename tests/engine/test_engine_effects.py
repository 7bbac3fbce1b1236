"""Each `e_` effect changes the pixels as expected and leaves alpha untouched."""

from __future__ import annotations

import pytest
import pyvips

from alphacdn.engine.registry import Context, apply_step
from alphacdn.transform.steps import (
    EFFECTS,
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
    Tint,
    Trim,
    Vignette,
)
from alphacdn.transform.values import Color

from .imaging import gradient, mad, solid, with_ramp_alpha

CTX = Context()


def run(image: pyvips.Image, step: object) -> pyvips.Image:
    out = apply_step(image, step, CTX)  # type: ignore[arg-type]
    assert out.format == "uchar" and out.interpretation == "srgb"
    return out


def spread(image: pyvips.Image) -> float:
    return float(image[0:3].deviate())


def edges(image: pyvips.Image) -> float:
    """Mean absolute horizontal difference: the amount of fine detail."""
    a = image[0:3].cast("float")
    return float(
        (a.crop(1, 0, a.width - 1, a.height) - a.crop(0, 0, a.width - 1, a.height)).abs().avg()
    )


@pytest.mark.parametrize("effect", EFFECTS, ids=lambda c: c.__name__)
def test_alpha_is_untouched(effect: type) -> None:
    image = with_ramp_alpha(gradient())
    out = run(image, effect())
    assert out.bands == 4
    if effect is not Trim:
        assert mad(out[3], image[3]) == 0


def test_grayscale_and_blackwhite() -> None:
    out = run(gradient(), Grayscale())
    assert float((out[0].cast("float") - out[1]).abs().max()) <= 1
    assert float((out[1].cast("float") - out[2]).abs().max()) <= 1
    bw = run(gradient(), BlackWhite())
    between = (bw[0:3] > 0) & (bw[0:3] < 255)
    assert between.max() == 0 and bw.max() == 255 and bw.min() == 0  # only 0 and 255 remain


def test_sepia_warms_grey() -> None:
    out = run(solid(10, 10, (128, 128, 128)), Sepia(100))
    r, g, b = out(5, 5)
    assert r > g > b


def test_blur_and_sharpen_change_detail() -> None:
    image = gradient()
    assert edges(run(image, Blur(300))) < edges(image) * 0.7
    soft = run(image, Blur(100))
    assert edges(run(soft, Sharpen(400))) > edges(soft) * 1.2


@pytest.mark.parametrize(("level", "sign"), [(50, 1), (-50, -1)])
def test_brightness(level: int, sign: int) -> None:
    image = solid(10, 10, (100, 100, 100))
    delta = run(image, Brightness(level))(5, 5)[0] - 100
    assert sign * delta > 40


def test_contrast_and_saturation() -> None:
    image = gradient()
    assert spread(run(image, Contrast(50))) > spread(image) * 1.2
    assert spread(run(image, Contrast(-100))) < 1
    grey = run(image, Saturation(-100))
    assert float((grey[0].cast("float") - grey[2]).abs().avg()) < 2
    vivid = run(solid(4, 4, (150, 100, 100)), Saturation(80))(1, 1)
    assert vivid[0] - vivid[1] > 50


def test_negate() -> None:
    image = gradient()
    assert mad(run(image, Negate()), image.invert()) == 0


def test_pixelate_makes_blocks() -> None:
    out = run(gradient(100, 100), Pixelate(10))
    block = out.crop(10, 10, 10, 10)
    assert max(float(block[b].deviate()) for b in range(3)) < 1 and (out.width, out.height) == (
        100,
        100,
    )


def test_vignette_darkens_corners_only() -> None:
    image = solid(101, 101, (200, 200, 200))
    out = run(image, Vignette(80))
    assert out(50, 50)[0] >= 199 and out(0, 0)[0] < 100


def test_trim_cuts_uniform_borders() -> None:
    framed = solid(100, 80, (255, 255, 255)).insert(solid(60, 40, (0, 0, 200)), 10, 25)
    out = run(framed, Trim())
    assert (out.width, out.height) == (60, 40)
    cutout = with_ramp_alpha(solid(50, 10, (9, 9, 9))).embed(20, 20, 90, 50)
    assert run(cutout, Trim()).height == 10
    assert run(solid(30, 30, (7, 7, 7)), Trim()).width == 30  # nothing but background: kept


def test_colorize_and_tint() -> None:
    green = Color(0, 255, 0)
    out = run(gradient(), Colorize(100, green))
    assert mad(out, solid(out.width, out.height, (0, 255, 0))) < 1
    tinted = run(solid(10, 10, (128, 128, 128)), Tint(60, Color(255, 0, 0)))(5, 5)
    assert tinted[0] > tinted[1] + 20 and tinted[1] == tinted[2]
