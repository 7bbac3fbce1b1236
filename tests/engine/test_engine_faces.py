"""Face gravities, face thumbnails and crops, face effects, and their no-face fallbacks.

The engine is handed face boxes (the wiring detects them): a synthetic scene with red squares
for faces checks the geometry exactly; the fixture photo checks the effects on real faces.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import pyvips

from alphacdn.engine import render
from alphacdn.transform import parse_chain
from alphacdn.transform.plan import Plan

from .imaging import MAX_PIXELS, decode, png, solid

FACES = Path(__file__).resolve().parents[1] / "fixtures" / "faces"
RED = [255, 0, 0]
GREY = [90, 90, 90]


def scene() -> bytes:
    """400×300 grey; "faces": a 40 px red square at (300, 40) and a 20 px one at (40, 200)."""
    image = solid(400, 300, tuple(GREY))
    image = image.draw_rect(RED, 300, 40, 40, 40, fill=True)
    image = image.draw_rect(RED, 40, 200, 20, 20, fill=True)
    return png(image)


BIG = (300 / 400, 40 / 300, 340 / 400, 80 / 300)
SMALL = (40 / 400, 200 / 300, 60 / 400, 220 / 300)


def run(chain: str, faces: list[tuple[float, float, float, float]] | None) -> pyvips.Image:
    plan = parse_chain(chain + "/f_png")
    return decode(render(scene(), plan, max_pixels=MAX_PIXELS, faces=faces).body)


def px(image: pyvips.Image, x: int, y: int) -> list[float]:
    return [round(v) for v in image(x, y)][:3]


def red_box(image: pyvips.Image) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the red pixels."""
    mask = (image[0] > 200) & (image[1] < 60)
    columns, rows = mask.project()
    xs = [i for i in range(image.width) if columns(i, 0)[0] > 0]
    ys = [i for i in range(image.height) if rows(0, i)[0] > 0]
    return xs[0], ys[0], xs[-1] + 1, ys[-1] + 1


def test_fill_centres_on_the_largest_face() -> None:
    out = run("c_fill,g_face,w_100,h_100", [SMALL, BIG])
    assert (out.width, out.height) == (100, 100)
    # scaled by 1/3 to 133×100: the window is pushed right as far as it goes (x 33..133), where
    # a centre or north crop keeps x 16..116 (the face then at 84..97)
    left, _, right, _ = red_box(out)
    assert abs(left - 67) <= 1 and abs(right - 80) <= 1


def test_faces_keeps_every_face_in_a_crop() -> None:
    out = run("c_crop,g_faces", [SMALL, BIG])  # no size: the box around all faces
    assert (out.width, out.height) == (300, 180)  # x 40..340, y 40..220
    assert px(out, 5, 170) == RED and px(out, 290, 5) == RED and px(out, 150, 90) == GREY


def test_crop_without_size_is_the_face_and_zoom_widens_it() -> None:
    out = run("c_crop,g_face", [SMALL, BIG])
    assert (out.width, out.height) == (40, 40) and px(out, 20, 20) == RED
    wider = run("c_crop,g_face,z_0.5", [SMALL, BIG])
    assert (wider.width, wider.height) == (80, 80)
    assert red_box(wider) == (20, 20, 60, 60)
    square = run("ar_2.0,c_crop,g_face", [BIG])
    assert (square.width, square.height) == (80, 40)


def test_crop_with_size_ignores_x_y_on_a_face() -> None:
    out = run("c_crop,g_face,w_100,h_100,x_5,y_5", [BIG])
    assert red_box(out) == (30, 30, 70, 70)  # the face centred, not moved by x/y


def test_thumb_frames_the_face_and_zoom_comes_closer() -> None:
    out = run("c_thumb,g_face,w_40,h_40", [BIG])
    assert (out.width, out.height) == (40, 40)
    left, _, right, _ = red_box(out)
    assert abs((right - left) - 40 / 1.8) <= 1.5 and abs((left + right) / 2 - 20) <= 1
    closer = run("c_thumb,g_face,w_40,h_40,z_1.5", [BIG])
    left, _, right, _ = red_box(closer)
    assert abs((right - left) - 40 * 1.5 / 1.8) <= 1.5
    # a small face is not blown up past the source: the region is at least the thumbnail
    small = run("c_thumb,g_face,w_90,h_90", [SMALL])
    left, _, right, _ = red_box(small)
    assert abs((right - left) - 20) <= 1


@pytest.mark.parametrize(
    ("gravity", "faces"), [("face", []), ("face", None), ("faces", []), ("face", [SMALL])]
)
def test_no_face_falls_back_to_north(
    gravity: str, faces: list[tuple[float, float, float, float]] | None
) -> None:
    # [], or None (not detected): north keeps rows 0..100, the big square (rows 40..80)
    out = run(f"c_crop,g_{gravity},w_400,h_100", faces)
    if faces:  # a face found: the window is on it (rows 160..260 hold the small square)
        assert red_box(out) == (40, 40, 60, 60)
    else:
        assert red_box(out) == (300, 40, 340, 80)


def test_center_and_auto_fallbacks() -> None:
    centre = run("c_crop,g_face:center,w_400,h_120", [])
    assert red_box(centre) == (40, 110, 60, 120)  # rows 90..210 hold the small square's top
    auto = run("c_fill,g_auto:faces,w_100,h_100", [])  # attention: lands on a red square
    assert red_box(auto)[2] > 0
    thumb = run("c_thumb,g_face,w_100,h_50", [])  # north, as fill: the top of the image
    assert (thumb.width, thumb.height) == (100, 50)
    assert red_box(thumb) == (75, 10, 85, 20)


def test_plain_auto_gravity_takes_faces_as_a_hint() -> None:
    out = run("c_fill,g_auto,w_100,h_300", [SMALL])
    assert red_box(out) == (40, 200, 60, 220)  # the window on the face (x 0..100)
    other = run("c_fill,g_auto,w_100,h_300", [BIG])  # x 270..370: the big square
    assert red_box(other) == (30, 40, 70, 80)
    both = run("c_fill,g_auto,w_100,h_300", [SMALL, BIG])  # both do not fit: the larger
    assert red_box(both) == (30, 40, 70, 80)


def test_pixelate_and_blur_faces_change_only_faces() -> None:
    source = (FACES / "two-women.jpg").read_bytes()
    faces = [(0.05, 0.42, 0.5, 0.66), (0.55, 0.39, 0.87, 0.6)]  # the two faces, roughly
    original = decode(render(source, parse_chain("f_png"), max_pixels=MAX_PIXELS).body)
    for chain in ("e_pixelate_faces:12", "e_blur_faces"):
        plan: Plan = parse_chain(chain + "/f_png")
        out = decode(render(source, plan, max_pixels=MAX_PIXELS, faces=faces).body)
        diff = (out.cast("float") - original.cast("float")).abs()
        inside = diff.crop(40, 230, 80, 60).avg()
        outside = diff.crop(0, 0, 320, 150).avg()
        assert inside > 4 and outside == 0, (chain, inside, outside)
        none = decode(render(source, plan, max_pixels=MAX_PIXELS, faces=[]).body)
        assert (none.cast("float") - original.cast("float")).abs().max() == 0


def test_faces_follow_a_resize_and_are_lost_to_a_rotation() -> None:
    moved = run("w_200/c_crop,g_face", [BIG])  # half size: the face is 20 px
    assert (moved.width, moved.height) == (20, 20) and px(moved, 10, 10) == RED
    rotated = run("a_90/c_crop,g_face,w_100,h_100", [BIG])  # forgotten: north of the rotated
    assert (rotated.width, rotated.height) == (100, 100)


def test_getinfo_lists_the_faces() -> None:
    import json

    plan = parse_chain("c_thumb,g_face,w_50,h_50/fl_getinfo")
    info = json.loads(render(scene(), plan, max_pixels=MAX_PIXELS, faces=[BIG]).body)
    assert info["faces"] == [{"x": 300, "y": 40, "width": 40, "height": 40}]
    assert info["g_auto"][0]["by"] == "face"


def test_a_layer_does_not_take_the_base_faces() -> None:
    layer = solid(100, 100, (0, 0, 255)).draw_rect(RED, 40, 0, 20, 20, fill=True)
    plan = parse_chain("l_pic,c_crop,g_face,w_20,h_20/fl_layer_apply,g_north_west/f_png")
    body = render(
        scene(), plan, max_pixels=MAX_PIXELS, faces=[BIG], load_asset=lambda _: png(layer)
    ).body
    out = decode(body)
    # no face of its own: north (x 40..60, y 0..20), not the base's face box (x 70..90, y 3..23)
    assert px(out, 10, 10) == RED and px(out, 1, 1) == RED
