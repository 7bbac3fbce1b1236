"""Issue 14's grammar on real pixels: expressions and conditions, c_auto / g_auto modes, client
hints, the accessibility effects, e_vectorize to SVG, and shadows inside a fixed card."""

from __future__ import annotations

import re

import pytest
import pyvips
from hypothesis import given, settings
from hypothesis import strategies as st

from alphacdn.engine import render
from alphacdn.engine.vectorize import MAX_SVG_BYTES
from alphacdn.transform import parse_chain
from alphacdn.transform.dynamic import ClientHints

from .imaging import MAX_PIXELS, decode, gradient, halves, mad, png, red_disc, solid


def run(chain: str, source: bytes, hints: ClientHints | None = None) -> pyvips.Image:
    out = render(source, parse_chain(chain), max_pixels=MAX_PIXELS, hints=hints or ClientHints())
    return decode(out.body)


@settings(max_examples=25, deadline=None)
@given(st.integers(20, 300), st.integers(20, 300), st.integers(10, 400))
def test_conditions_pick_the_branch_the_image_size_says(w: int, h: int, limit: int) -> None:
    source = png(gradient(w, h))
    out = run(f"if_w_gt_{limit}/c_scale,h_iw_div_2,w_7/if_else/c_scale,h_ih,w_5/if_end", source)
    assert out.width == (7 if w > limit else 5)
    assert out.height == (round(w / 2) if w > limit else h)


def test_variables_carry_a_size_through_the_chain() -> None:
    # the legacy predominant-colour placeholder: remember the size, shrink to a few pixels of
    # the padded corner, fill back to the size remembered
    source = png(halves(200, 100))
    out = run(
        "$currWidth_w,$currHeight_h/ar_1,b_auto,c_pad,w_iw_div_2/c_crop,g_north_east,h_10,w_10/"
        "c_fill,h_$currHeight,w_$currWidth",
        source,
    )
    assert (out.width, out.height) == (200, 100)
    assert max(out[band].deviate() for band in range(3)) < 3  # one colour, as a placeholder


def test_the_sdk_predominant_colour_placeholder_is_one_colour_at_full_size() -> None:
    source = png(solid(160, 120, (20, 120, 220)))
    out = run("ar_1.0,b_auto,c_pad,w_iw_div_2/c_crop,g_north_east,h_1,w_1/c_fill,h_ih,w_iw", source)
    assert (out.width, out.height) == (160, 120)
    assert mad(out, solid(160, 120, (20, 120, 220))) < 3


@pytest.mark.parametrize(
    ("chain", "hints", "want"),
    [
        ("c_scale,w_auto", ClientHints(None, None, True, False), 300),  # no hint: as is
        ("c_scale,w_auto", ClientHints(555, None, True, False), 600),  # rounded up to 100
        ("c_scale,w_auto:50", ClientHints(555, None, True, False), 600),
        ("c_scale,w_auto:1", ClientHints(555, None, True, False), 555),
        ("c_scale,w_auto:100:120", ClientHints(None, None, True, False), 120),  # fallback
        ("c_scale,w_100/dpr_auto", ClientHints(None, 2.0, False, True), 200),
        ("c_scale,w_100/dpr_auto", ClientHints(None, None, False, True), 100),
    ],
)
def test_client_hints_size_the_image(chain: str, hints: ClientHints, want: int) -> None:
    assert run(chain, png(gradient(300, 200)), hints).width == want


def test_c_auto_and_g_auto_modes_fill_the_box_on_the_interesting_part() -> None:
    # a small textured patch on a flat grey field: every auto mode keeps it in the crop
    field = solid(400, 200, (128, 128, 128))
    image = field.insert(gradient(60, 60), 320, 70)
    source = png(image)
    chains = ("c_auto,h_100,w_100", "c_auto,g_auto,h_100,w_100",
              "c_fill,g_auto:subject,h_200,w_100", "c_fill,g_auto:classic,h_200,w_100")  # fmt: skip
    for chain in chains:
        out = run(chain, source)
        assert (out.width, out.height) == ((100, 100) if "h_100" in chain else (100, 200))
        assert out.deviate() > 20, chain  # the texture is in, not the flat field
    flat = run("c_fill,g_center,h_200,w_100", source)
    assert flat.deviate() < 1


def test_legacy_accessibility_tints_darken_and_lighten() -> None:
    source = png(gradient(120, 80))
    image = decode(source)
    dark, bright = run("e_tint:75:black", source), run("e_tint:50:white", source)
    assert dark.avg() < image.avg() * 0.5 < bright.avg()
    two = run("e_tint:100:black:white", source)  # a gradient map from black to white: grey
    assert two[0].avg() == pytest.approx(two[1].avg(), abs=1)


def test_assist_colorblind_stripes_red_and_green_but_not_blue() -> None:
    red, blue = solid(200, 100, (220, 30, 30)), solid(200, 100, (30, 30, 220))
    for image in (red, blue):
        out = run("e_assist_colorblind:60", png(image))
        changed = mad(out, image)
        assert (changed > 10) if image is red else (changed < 1)
    xray = run("e_assist_colorblind:xray", png(solid(50, 50, (200, 60, 40))))
    assert xray.getpoint(5, 5)[2] > 100  # the red–green difference moves into blue


def test_vectorize_delivers_bounded_svg_of_few_colours() -> None:
    source = png(gradient(240, 160))
    out = render(source, parse_chain("e_vectorize:colors:3/f_svg"), max_pixels=MAX_PIXELS)
    svg = out.body.decode()
    assert out.content_type == "image/svg+xml" and svg.startswith("<svg")
    assert 'width="240"' in svg and 'height="160"' in svg and len(out.body) < MAX_SVG_BYTES
    fills = set(re.findall(r'fill="(#[0-9A-Fa-f]{6})"', svg))
    assert 1 <= len(fills) <= 3
    raster = pyvips.Image.svgload_buffer(out.body)
    assert (raster.width, raster.height) == (240, 160)
    # it still looks like the image: much closer to it than to its negative
    assert mad(raster[0:3], decode(source)) < 0.5 * mad(decode(source).invert(), decode(source))
    flat = run("e_vectorize:2/f_png", source)  # a raster format gets the traced look
    assert (flat.width, flat.height) == (240, 160)


def test_svg_without_vectorize_wraps_the_raster() -> None:
    out = render(png(gradient(50, 40)), parse_chain("f_svg"), max_pixels=MAX_PIXELS)
    assert out.body.startswith(b"<svg") and b"data:image/png;base64," in out.body


def test_a_fixed_card_keeps_its_size_with_a_shadow() -> None:
    source = png(red_disc(200))
    card = run("c_fill,w_150,h_150/e_dropshadow", source)
    assert (card.width, card.height) == (150, 150)
    free = run("e_dropshadow", source)
    assert free.width > 200 or free.height > 200  # nothing fixed the size: the canvas grows
    # nothing visible is clipped: the disc and some shadow are inside the frame, not on its edge
    alpha = card[3]
    assert alpha.crop(0, 0, 150, 1).max() < 40 and alpha.crop(0, 149, 150, 1).max() < 40
    assert (card[0] > 200).ifthenelse(1, 0).avg() > 0.3  # the red subject is still there
    low = run("c_pad,w_150,h_150/e_dropshadow:azimuth_90;elevation_5", source)
    assert (low.width, low.height) == (150, 150)
