"""Blend modes, tiles, cuts and text layer options on small generated images (issue 17)."""

from __future__ import annotations

import pytest
import pyvips

from alphacdn.engine import render
from alphacdn.engine.layers import render_text
from alphacdn.transform import parse_chain
from alphacdn.transform.layers import Text, TextAlign

from .imaging import MAX_PIXELS, decode, jpeg, mad, png, red_disc, solid

BASE = png(solid(120, 80, (100, 150, 200)))
ASSETS = {
    "gray": png(solid(40, 40, (128, 128, 128))),
    "disc": png(red_disc(40)),  # radius 16 around (20, 20), transparent outside
}


def run(chain: str, source: bytes = BASE) -> pyvips.Image:
    plan = parse_chain(chain + "/f_png")
    return decode(render(source, plan, max_pixels=MAX_PIXELS, load_asset=ASSETS.__getitem__).body)


def at(img: pyvips.Image, x: int, y: int) -> list[float]:
    return [round(v) for v in img.getpoint(x, y)]


@pytest.mark.parametrize(("mode", "expected"), [
    ("multiply", [50, 75, 100]),  # base × 0.5
    ("screen", [177, 202, 227]),  # 1 - (1 - base)(1 - 0.5)
    ("overlay", [100, 150, 200]),  # 50 % gray leaves an overlay unchanged
])  # fmt: skip
def test_blend_modes_follow_their_formulas(mode: str, expected: list[int]) -> None:
    img = run(f"l_gray,e_{mode}")
    assert (img.width, img.height) == (120, 80)
    assert max(abs(a - b) for a, b in zip(at(img, 60, 40)[:3], expected, strict=True)) <= 2
    assert at(img, 5, 5)[:3] == [100, 150, 200]  # outside the layer: the base


def test_mask_and_cutter_keep_the_base_where_the_overlay_is_opaque() -> None:
    for chain in ("l_disc,e_mask", "l_disc,fl_cutter", "l_disc/fl_layer_apply.cutter"):
        img = run(chain)
        assert (img.width, img.height, img.bands) == (120, 80, 4)
        assert at(img, 60, 40) == [100, 150, 200, 255]  # the disc's centre: base colours
        assert at(img, 5, 5)[3] == 0 and at(img, 60 + 19, 40 + 19)[3] == 0


def test_tiled_overlay_covers_the_base() -> None:
    img = run("l_disc,fl_tiled")
    assert (img.width, img.height) == (120, 80)
    # the centre tile sits at the placement (centred: 40..80, 20..60); copies every 40 px
    for x, y in [(60, 40), (20, 40), (100, 40), (60, 0), (60, 79)]:
        assert at(img, x, y)[0] > 200 and at(img, x, y)[2] < 30, (x, y)
    assert at(img, 40, 20)[:3] == [100, 150, 200]  # between discs: the base


def test_tiled_layer_starts_at_its_offset() -> None:
    img = run("l_disc,fl_tiled,g_north_west,x_10,y_10")
    assert at(img, 30, 30)[0] > 200 and at(img, 70, 30)[0] > 200 and at(img, 30, 70)[0] > 200
    assert at(img, 12, 12)[:3] == [100, 150, 200]


def test_anti_removal_distorts_the_overlay_a_little_and_the_same_way_each_time() -> None:
    plain, guarded = run("l_disc"), run("l_disc,e_anti_removal:100")
    again = run("l_disc,e_anti_removal:100")
    assert mad(guarded, again) == 0  # a fixed pattern: cacheable, reproducible bytes
    diff = mad(plain, guarded)
    assert 0.2 < diff < 20  # changed, but still the same watermark
    assert at(guarded, 5, 5)[:3] == [100, 150, 200]  # the base around it is untouched


def test_blended_layer_never_grows_the_canvas() -> None:
    img = run("l_gray,e_multiply,g_north_west,x_-20,y_-20")
    assert (img.width, img.height) == (120, 80)
    assert run("l_gray,g_north_west,x_-20,y_-20").width == 140  # a plain overlay does


# ── text layers ───────────────────────────────────────────────────────────────────────────

LONG = "The quick brown fox jumps over the lazy dog"


def test_text_wraps_at_the_c_fit_width() -> None:
    wide = render_text(Text(LONG, size=20))
    narrow = render_text(Text(LONG, size=20, width=120))
    assert wide.width > 300 and narrow.width <= 120
    assert narrow.height > 3 * wide.height  # several lines


def test_text_layer_c_fit_wraps_through_the_chain() -> None:
    base = png(solid(400, 300, (255, 255, 255)))
    img = run(f"l_text:Arial_20:{LONG},c_fit,w_120,co_black", base)
    ink = (img[0] < 128).cast("uchar").project()[0]  # columns with ink
    cols = [x for x in range(img.width) if ink.getpoint(x, 0)[0] > 0]
    assert cols and cols[-1] - cols[0] <= 120  # wrapped within 120 px, centred on the base


def test_text_height_cuts_what_is_taller() -> None:
    assert render_text(Text(LONG, size=20, width=120, height=30)).height == 30


def test_line_and_letter_spacing_add_pixels() -> None:
    base = render_text(Text(LONG, size=20, width=150))
    spaced = render_text(Text(LONG, size=20, width=150, line_spacing=10))
    lines = round(base.height / 23)
    assert spaced.height - base.height >= 10 * (lines - 1) - 2
    plain, loose = (
        render_text(Text("Hello", size=20)),
        render_text(Text("Hello", size=20, letter_spacing=5)),
    )
    assert loose.width - plain.width >= 4 * 5 - 2


def test_text_no_trim_keeps_the_line_height() -> None:
    a, cap = render_text(Text("a", size=40)), render_text(Text("A", size=40))
    assert a.height < cap.height  # trimmed to the ink
    a_full = render_text(Text("a", size=40, no_trim=True))
    cap_full = render_text(Text("A", size=40, no_trim=True))
    assert a_full.height == cap_full.height >= 40 * 0.9  # the whole line, whatever the glyphs
    assert a_full.width > a.width  # side bearings kept too


def test_alignment_moves_short_lines() -> None:
    text = "wide line of text here\nhi"
    left = render_text(Text(text, size=20, align=TextAlign.LEFT))
    right = render_text(Text(text, size=20, align=TextAlign.RIGHT))
    # the short last line sits at the left or at the right edge
    bottom = left.height - 12
    assert left[3].crop(0, bottom, left.width // 2, 10).max() > 0
    assert right[3].crop(0, bottom, right.width // 2, 10).max() == 0


def test_text_layer_on_a_jpeg_base() -> None:
    img = run("l_text:Arial_30_bold:Sale,co_red,e_multiply", jpeg(solid(200, 100, (255, 255, 0))))
    assert (img.width, img.height) == (200, 100)
    assert min(at(img, 0, 0)[:3][0:2]) > 240
    reds = (img[1] < 50).cast("uchar").avg()
    assert reds > 0  # the text multiplied into the yellow: red where it is
