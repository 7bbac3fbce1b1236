"""Shapes on small generated images: per-corner radii, outlines, the default shadow's reach.
Pixels are checked where each feature promises something (tolerances, never bytes)."""

from __future__ import annotations

import pytest
import pyvips

from alphacdn.engine import render
from alphacdn.engine.geometry import corner_mask, corners_mask
from alphacdn.transform import parse_chain
from alphacdn.transform.errors import InvalidTransformation
from tests.conftest import FIXTURES

from .imaging import MAX_PIXELS, check_golden, decode, png, red_disc, solid

CUTOUT = (FIXTURES / "e2e" / "tiger-cutout.png").read_bytes()  # 320×213 RGBA, MIT (rembg)
GREEN = png(solid(100, 60, (0, 200, 0)))


def run(chain: str, source: bytes = GREEN) -> pyvips.Image:
    return decode(render(source, parse_chain(chain + "/f_png"), max_pixels=MAX_PIXELS).body)


def alpha_at(img: pyvips.Image, x: int, y: int) -> float:
    return float(img[3].getpoint(x, y)[0])


# ── per-corner radii ──────────────────────────────────────────────────────────────────────


def test_each_corner_takes_its_own_radius() -> None:
    img = run("r_0:20:30:5")  # top-left square, top-right 20, bottom-right 30, bottom-left 5
    assert (img.width, img.height, img.bands) == (100, 60, 4)
    assert alpha_at(img, 0, 0) == 255  # square
    assert alpha_at(img, 99, 0) == 0 and alpha_at(img, 99 - 20, 0) == 255
    assert alpha_at(img, 95, 55) == 0 and alpha_at(img, 99, 59 - 30) == 255
    assert alpha_at(img, 0, 59) == 0 and alpha_at(img, 2, 57) == 255
    assert alpha_at(img, 50, 30) == 255


@pytest.mark.parametrize(("short", "full"), [("r_10:30", "r_10:30:10:30"),
                                             ("r_10:30:20", "r_10:30:20:30")])  # fmt: skip
def test_css_shorthands_match_the_four_values(short: str, full: str) -> None:
    a, b = run(short), run(full)
    assert (a[3].cast("float") - b[3]).abs().max() == 0


def test_equal_corners_draw_as_r_n() -> None:
    same = corners_mask(80, 50, (12,) * 4).cast("float") - corner_mask(80, 50, 12)
    assert same.abs().max() == 0


def test_radii_too_large_for_a_side_shrink_together() -> None:
    mask = corners_mask(100, 60, (100, 100, 0, 0))  # scaled by 1/2: two 50 px arcs on top
    assert mask.getpoint(0, 0)[0] == 0 and mask.getpoint(99, 0)[0] == 0
    assert mask.getpoint(0, 59)[0] == 255 and mask.getpoint(99, 59)[0] == 255
    assert mask.getpoint(50, 1)[0] > 200  # the two arcs meet at the top centre


def test_per_corner_on_jpeg_flattens_to_white() -> None:
    out = decode(render(GREEN, parse_chain("r_30:0/f_jpg"), max_pixels=MAX_PIXELS).body)
    assert out.bands == 3 and min(out.getpoint(0, 0)) > 240 and out.getpoint(99, 0)[1] > 150


# ── outlines ──────────────────────────────────────────────────────────────────────────────


def disc() -> bytes:
    return png(red_disc(100))  # radius 40 around (50, 50), transparent outside


def test_outer_outline_surrounds_the_shape_and_grows_the_canvas() -> None:
    img = run("co_blue,e_outline:6", disc())
    assert (img.width, img.height) == (112, 112)  # 6 px on each side
    cx = cy = 56
    # along a ray from the centre: red inside, blue in the band, transparent past it
    assert img.getpoint(cx + 30, cy)[0] > 200  # subject
    band = img.getpoint(cx + 43, cy)
    assert band[2] > 200 and band[0] < 40 and band[3] > 240
    assert alpha_at(img, cx + 50, cy) == 0
    assert alpha_at(img, 0, 0) == 0


def test_inner_outline_paints_inside_the_edge_only() -> None:
    img = run("co_blue,e_outline:inner:6", disc())
    assert (img.width, img.height) == (100, 100)
    assert img.getpoint(50 + 37, 50)[2] > 200  # 3 px inside the edge: blue
    assert img.getpoint(50 + 20, 50)[0] > 200  # deeper inside: still the red subject
    assert alpha_at(img, 50 + 45, 50) == 0  # the shape itself is unchanged


def test_inner_outline_of_an_opaque_image_is_a_frame() -> None:
    img = run("co_black,e_outline:inner:4")
    assert max(img.getpoint(1, 30)[0:3]) < 30 and img.getpoint(50, 30)[1] > 180
    assert img.bands == 3 or img[3].min() == 255  # still opaque (the encoder may drop alpha)


def test_fill_modes_put_the_colour_behind_the_whole_shape() -> None:
    half = red_disc(100)
    half = half[0:3].bandjoin((half[3] * 0.5).cast("uchar")).copy(interpretation="srgb")
    outer = run("co_blue,e_outline:4", png(half))
    fill = run("co_blue,e_outline:fill:4", png(half))
    # at the centre the half-transparent red shows blue through it only with fill
    assert outer.getpoint(54, 54)[2] < 20 and fill.getpoint(54, 54)[2] > 100
    inner_fill = run("co_blue,e_outline:inner_fill:4", png(half))
    assert inner_fill.getpoint(50, 50)[2] > 100


def test_blurred_outline_is_soft_and_reaches_further() -> None:
    sharp = run("co_blue,e_outline:10", disc())
    soft = run("co_blue,e_outline:10:400", disc())
    assert soft.width > sharp.width
    # a sharp band is fully opaque; a blurred one fades out gradually
    values = [alpha_at(soft, soft.width // 2 + 40 + d, soft.height // 2) for d in range(4, 29, 4)]
    assert values == sorted(values, reverse=True) and 0 < values[3] < 250


def test_outline_canvas_over_the_limit_is_a_400() -> None:
    with pytest.raises(InvalidTransformation):
        render(GREEN, parse_chain("e_outline:100"), max_pixels=100 * 60 + 10)


@pytest.mark.parametrize("chain", ["co_red,e_outline:8", "co_rgb:2060c0,e_outline:inner:6:100"])
def test_outline_goldens(chain: str) -> None:
    check_golden(chain, "tiger", run(chain, CUTOUT), tolerance=1.5)


# ── the default shadow shows ──────────────────────────────────────────────────────────────


def test_default_shadow_shows_past_a_cutout() -> None:
    """Cloudinary's examples cast a shadow that clearly shows to the bottom right of the
    subject: the band just past the disc's bottom-right edge must be visibly shaded."""
    img = run("e_shadow", disc())
    assert img.width >= 100 + 5 and img.height >= 100 + 5  # offset 5 % of the side (min 4)
    # just outside the disc's edge towards the bottom right, where the shadow is offset to
    x = y = 50 + round(40 / 2**0.5) + 3
    assert alpha_at(img, x, y) > 0.25 * 0.4 * 255  # a good part of the 40 % strength
    # and nothing to the top left (the shadow is offset away from it)
    assert alpha_at(img, 50 - 32, 50 - 32) < 15


def test_shadow_offsets_are_honoured() -> None:
    img = run("e_shadow:100,x_-20,y_0", disc())
    assert img.width >= 120 and alpha_at(img, 20, 55) > 60  # cast 20 px to the left
