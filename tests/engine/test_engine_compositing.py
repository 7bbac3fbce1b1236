"""Compositing a cut-out: layers, shadows, mask controls, subject-aware geometry — goldens with
tolerances (refresh: ALPHACDN_UPDATE_GOLDEN=1) and the properties each feature promises."""

from __future__ import annotations

import pytest
import pyvips

from alphacdn.engine import render
from alphacdn.engine.masks import edit_alpha
from alphacdn.engine.subject import subject_box
from alphacdn.transform import parse_chain
from alphacdn.transform.errors import InvalidTransformation, NotFound
from tests.conftest import FIXTURES

from .imaging import MAX_PIXELS, check_golden, decode, gradient, jpeg, mad, png, solid

CUTOUT = (FIXTURES / "e2e" / "tiger-cutout.png").read_bytes()  # 320×213 RGBA, MIT (rembg)
ASSETS = {
    "backdrop": jpeg(gradient(360, 240).resize(1.0)),
    "shop/logo": CUTOUT,
}


def load_asset(public_id: str) -> bytes:
    """As the wiring's: the original's bytes, NotFound naming a missing one."""
    if public_id not in ASSETS:
        raise NotFound(f"Layer not found - {public_id}")
    return ASSETS[public_id]


def run(chain: str, source: bytes = CUTOUT) -> pyvips.Image:
    plan = parse_chain(chain + "/f_png")
    return decode(render(source, plan, max_pixels=MAX_PIXELS, load_asset=load_asset).body)


GOLDEN = [
    "e_shadow",
    "co_red,e_shadow:60,x_20,y_-20",
    "e_dropshadow",
    "e_dropshadow:azimuth_220;elevation_40;spread_20",
    "e_dropshadow:azimuth_0;elevation_30",
    "e_mask:expand_3;feather_2",
    "e_mask:shrink_4",
    "e_mask:invert;alpha",
    "c_scale,w_200/e_dropshadow/u_backdrop/c_fill,h_240,w_360/fl_layer_apply,g_south,y_10",
    "l_shop:logo,w_0.25,fl_relative,g_north_east,x_8,y_8",
    "l_shop:logo,w_200,g_north_west,x_-50,y_-50",
    "l_shop:logo,w_200,g_north_west,x_-50,y_-50,fl_no_overflow",
    "b_lightblue,c_pad,w_1.0/e_trim",
    "c_fill,g_auto,w_120,h_120",
    "e_grayscale/e_dropshadow/b_rgb:f0e8d8",
]


@pytest.mark.parametrize("chain", GOLDEN)
def test_golden(chain: str) -> None:
    check_golden(chain, "tiger", run(chain), tolerance=1.5)


def test_text_overlay() -> None:
    chain = "l_text:DejaVu Sans_24_bold:Tiger%2C 2026,co_rgb:ffffff,g_south,y_8/b_black"
    out = run(chain)
    assert (out.width, out.height) == (320, 213)
    # white ink in the bottom band only, on the black backdrop
    assert out.crop(0, 160, 320, 45).max() == 255 and out.crop(0, 0, 320, 20).max() < 40
    check_golden("l_text-tiger-2026", "tiger", out, tolerance=4.0)  # fonts differ a little


def test_shadows_grow_the_canvas_and_never_clip() -> None:
    for chain in ("e_shadow:100,x_40,y_40", "e_dropshadow:azimuth_90;elevation_10;spread_100"):
        out = run(chain)
        assert out.width > 320 or out.height > 213, chain
        w, h = out.width, out.height
        edges = [out.crop(0, 0, w, 1), out.crop(0, h - 1, w, 1),
                 out.crop(0, 0, 1, h), out.crop(w - 1, 0, 1, h)]  # fmt: skip
        assert max(e[3].max() for e in edges) <= 2, chain


def test_default_dropshadow_is_soft() -> None:
    src = decode(CUTOUT).embed(150, 150, 620, 513, background=[0, 0, 0, 0])  # room: no growth
    out = run("e_dropshadow", png(src))
    assert (out.width, out.height) == (src.width, src.height)
    shadow_only = (out[3].cast("float") - src[3]) * (src[3] == 0) / 255
    peak = shadow_only.max() / 255
    assert 0.08 <= peak <= 0.25, peak  # a soft 10–20 % shadow, never a black blob


def test_dropshadow_needs_transparency() -> None:
    opaque = jpeg(gradient(120, 80))
    with pytest.raises(InvalidTransformation, match="e_dropshadow"):
        run("e_dropshadow", opaque)
    with pytest.raises(InvalidTransformation, match="e_mask"):
        run("e_mask:feather_2", opaque)
    assert run("e_shadow", opaque).width > 120  # e_shadow casts the rectangle


def test_missing_layer_asset_names_it() -> None:
    with pytest.raises(NotFound, match="nope"):
        run("l_nope")


def test_effects_after_removal_keep_alpha() -> None:
    src = decode(CUTOUT)
    for chain in ("e_grayscale", "e_blur:300", "e_sepia", "e_brightness:30", "e_pixelate:4"):
        out = run(chain)
        assert out.bands == 4 and mad(out[3], src[3]) < 0.5, chain
    gray = run("e_grayscale")
    subject = gray[3] > 200
    assert ((gray[0].cast("float") - gray[1]).abs() * (subject / 255)).max() <= 1


def test_trim_removes_transparent_borders() -> None:
    padded = decode(CUTOUT).embed(40, 30, 400, 280, background=[0, 0, 0, 0])
    box = subject_box(decode(CUTOUT)[3])
    assert box is not None
    out = run("e_trim", png(padded))
    assert abs(out.width - box[2]) <= 2 and abs(out.height - box[3]) <= 2


def test_g_auto_centres_on_the_subject() -> None:
    # a subject in the left corner of a wide transparent canvas: the crop must hold it
    wide = decode(CUTOUT).resize(0.4).embed(0, 0, 600, 200, background=[0, 0, 0, 0])
    box = subject_box(wide[3])
    out_box = subject_box(run("c_crop,g_auto,w_150,h_150", png(wide))[3])
    assert box is not None and out_box is not None and out_box[2:] == box[2:]


def test_b_auto_pads_with_the_border_colour() -> None:
    framed = solid(100, 60, (200, 30, 40)).insert(gradient(80, 40), 10, 10)
    out = run("c_pad,b_auto,w_200,h_60", jpeg(framed, 95))
    corner = out.crop(0, 0, 20, 60).avg()
    assert abs(corner - (200 + 30 + 40) / 3) < 6
    assert run("c_pad,b_auto,w_400,h_400").getpoint(0, 0)[3] == 0  # a cut-out pads clear


def test_mask_functions_are_pure_and_ordered() -> None:
    alpha = solid(40, 40, (0,))[0].draw_rect(255, 10, 10, 20, 20, fill=True)
    grown = edit_alpha(alpha, expand_px=3)
    shrunk = edit_alpha(alpha, shrink_px=3)
    assert subject_box(grown) == (7, 7, 26, 26) and subject_box(shrunk) == (13, 13, 14, 14)
    assert edit_alpha(alpha, inverted=True).getpoint(0, 0)[0] == 255
    soft = edit_alpha(alpha, feather_px=4)
    assert 0 < soft.getpoint(10, 20)[0] < 255
