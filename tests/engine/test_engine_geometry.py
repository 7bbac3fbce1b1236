"""Resize/crop modes per Cloudinary's documented semantics, gravity, rotation, corners, borders."""

from __future__ import annotations

import pytest

from alphacdn.engine import render
from alphacdn.engine.resize import plan_box, resolve
from alphacdn.transform.errors import InvalidTransformation
from alphacdn.transform.steps import (
    Background,
    Border,
    Opacity,
    Resize,
    Rotate,
    RotateMode,
    RoundCorners,
)
from alphacdn.transform.values import RED, Color, CropMode, Format, Gravity

from .imaging import MAX_PIXELS, decode, halves, jpeg, mad, plan, png, red_disc, solid

C = CropMode
# (mode, source w×h, w, h) → output w×h, from Cloudinary's resize / crop / padding mode pages
SIZES = [
    (C.SCALE, (400, 200), 100, None, (100, 50)),
    (C.SCALE, (400, 200), None, 50, (100, 50)),
    (C.SCALE, (400, 200), 100, 100, (100, 100)),  # both given: distorts
    (C.SCALE, (400, 200), 800, None, (800, 400)),  # upscales
    (C.FIT, (400, 200), 100, 100, (100, 50)),
    (C.FIT, (400, 200), 800, 800, (800, 400)),
    (C.LIMIT, (400, 200), 100, 100, (100, 50)),
    (C.LIMIT, (400, 200), 800, 800, (400, 200)),  # never upscales
    (C.MFIT, (400, 200), 100, 100, (400, 200)),  # never downscales
    (C.MFIT, (400, 200), 800, 800, (800, 400)),
    (C.FILL, (400, 200), 100, 100, (100, 100)),
    (C.FILL, (400, 200), 800, 800, (800, 800)),
    (C.FILL, (400, 200), 100, None, (100, 50)),
    (C.LFILL, (400, 200), 100, 100, (100, 100)),
    (C.LFILL, (400, 200), 800, 800, (400, 200)),  # smaller in both: delivered as is
    (C.LFILL, (400, 200), 300, 300, (300, 200)),  # no upscale: crops what it can
    (C.PAD, (400, 200), 100, 100, (100, 100)),
    (C.PAD, (400, 200), 800, 800, (800, 800)),
    (C.PAD, (400, 200), None, 100, (200, 100)),
    (C.LPAD, (400, 200), 100, 100, (100, 100)),
    (C.LPAD, (400, 200), 800, 800, (800, 800)),  # padded, not scaled up
    (C.MPAD, (400, 200), 800, 800, (800, 800)),  # padded without scaling
    (C.MPAD, (400, 200), 100, 100, (400, 200)),  # a larger source is not scaled down
    (C.FILL_PAD, (400, 200), 100, 100, (100, 100)),
    (C.CROP, (400, 200), 100, 100, (100, 100)),
    (C.CROP, (400, 200), 800, 800, (400, 200)),  # a region cannot exceed the image
    (C.CROP, (400, 200), 100, None, (100, 200)),
    (C.THUMB, (400, 200), 100, 100, (100, 100)),
]


@pytest.mark.parametrize(("mode", "src", "w", "h", "expected"), SIZES)
def test_output_size_per_mode(
    mode: CropMode, src: tuple[int, int], w: int | None, h: int | None, expected: tuple[int, int]
) -> None:
    gravity = Gravity.AUTO if mode in (C.FILL_PAD, C.THUMB) else Gravity.CENTER
    step = Resize(width=w, height=h, crop=mode, gravity=gravity)
    assert plan_box(resolve(step, *src), *src).out == expected
    out = render(png(halves(*src)), plan(step), max_pixels=MAX_PIXELS)
    assert (out.width, out.height) == expected


def test_lpad_does_not_scale_up_the_image() -> None:
    out = decode(
        render(
            png(solid(40, 20, (255, 0, 0))),
            plan(Resize(100, 100, CropMode.LPAD, background=Color(0, 0, 255))),
            max_pixels=MAX_PIXELS,
        ).body
    )
    assert out(50, 50)[:3] == [255, 0, 0]
    assert out(50, 35)[:3] == [0, 0, 255]  # 40×20 centred: rows 40..59 only


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        (Resize(width=0.5), (200, 100)),  # relative to the current width
        (Resize(width=100, dpr=2.0), (200, 100)),
        (Resize(width=100, aspect_ratio=1.0, crop=C.FILL), (100, 100)),
        (Resize(height=50, aspect_ratio=2.0, crop=C.FILL), (100, 50)),
        (Resize(aspect_ratio=1.0, crop=C.CROP), (200, 200)),  # the largest square region
        (Resize(aspect_ratio=1.0, crop=C.PAD), (400, 400)),  # the smallest square canvas
        (Resize(width=100, height=100, crop=C.CROP, zoom=2.0), (100, 100)),
    ],
)
def test_relative_dpr_aspect_ratio(step: Resize, expected: tuple[int, int]) -> None:
    out = render(png(halves(400, 200)), plan(step), max_pixels=MAX_PIXELS)
    assert (out.width, out.height) == expected


@pytest.mark.parametrize(
    ("step", "rgb"),
    [
        (Resize(50, 100, C.CROP, Gravity.WEST), [255, 0, 0]),
        (Resize(50, 100, C.CROP, Gravity.EAST), [0, 0, 255]),
        (Resize(100, 100, C.FILL, Gravity.WEST), [255, 0, 0]),
        (Resize(100, 100, C.FILL, Gravity.EAST), [0, 0, 255]),
        (Resize(50, 50, C.CROP, x=150, y=0), [0, 0, 255]),  # x/y: top-left coordinates
        (Resize(50, 50, C.CROP, Gravity.NORTH_EAST, x=150), [255, 0, 0]),  # 150 in from the right
    ],
)
def test_gravity_and_offsets(step: Resize, rgb: list[int]) -> None:
    out = decode(render(png(halves(200, 100)), plan(step), max_pixels=MAX_PIXELS).body)
    assert mad(out, solid(out.width, out.height, tuple(rgb))) < 1


def test_auto_gravity_finds_the_subject() -> None:
    # a busy red square on the right of a flat grey field
    field = solid(300, 100, (128, 128, 128)).insert(halves(60, 60), 220, 20)
    step = Resize(100, 100, C.FILL, Gravity.AUTO)
    out = decode(render(png(field), plan(step), max_pixels=MAX_PIXELS).body)
    assert out.crop(0, 0, 100, 100).stats()(4, 0)[0] > 10  # not flat: the subject is in


def test_pad_colour_defaults() -> None:
    src = png(solid(40, 20, (255, 0, 0)))
    step = Resize(40, 40, C.PAD)
    as_png = decode(render(src, plan(step, fmt=Format.PNG), max_pixels=MAX_PIXELS).body)
    assert as_png.bands == 4 and as_png(0, 0)[3] == 0  # transparent where alpha is possible
    as_jpg = decode(render(src, plan(step, fmt=Format.JPG), max_pixels=MAX_PIXELS).body)
    assert min(as_jpg(0, 0)) > 250  # white otherwise
    red = Resize(40, 40, C.PAD, background=RED)
    out = decode(render(src, plan(red, fmt=Format.JPG), max_pixels=MAX_PIXELS).body)
    assert out(20, 2)[0] > 240 and out(20, 2)[1] < 20


def test_resize_with_alpha_has_no_dark_fringe() -> None:
    for step in (Resize(50, 50, C.SCALE), Resize(60, 60, C.PAD), Rotate(degrees=33.0)):
        out = decode(render(png(red_disc()), plan(step), max_pixels=MAX_PIXELS).body)
        visible = out[3] > 8
        red = visible.ifthenelse(out[0], 255)
        assert red.min() > 235, f"{step}: dark fringe (min red {red.min()})"


def test_rotate() -> None:
    src = png(halves(200, 100))
    out = decode(render(src, plan(Rotate(degrees=90.0)), max_pixels=MAX_PIXELS).body)
    assert (out.width, out.height) == (100, 200) and out(50, 10)[:3] == [255, 0, 0]
    out = decode(render(src, plan(Rotate(degrees=30.0)), max_pixels=MAX_PIXELS).body)
    assert out.width > 200 and out.height > 100 and out(0, 0)[3] == 0
    out = decode(
        render(src, plan(Rotate(degrees=30.0), fmt=Format.JPG), max_pixels=MAX_PIXELS).body
    )
    assert min(out(0, 0)) > 245
    flipped = decode(render(src, plan(Rotate(RotateMode.HFLIP)), max_pixels=MAX_PIXELS).body)
    assert flipped(10, 50)[:3] == [0, 0, 255]
    flipped = decode(render(src, plan(Rotate(RotateMode.VFLIP)), max_pixels=MAX_PIXELS).body)
    assert flipped(10, 10)[:3] == [255, 0, 0]


def test_auto_rotate_follows_the_requested_orientation() -> None:
    src = png(halves(200, 100))
    step = (Rotate(RotateMode.AUTO_RIGHT), Resize(50, 100, C.FILL))
    out = decode(render(src, plan(step), max_pixels=MAX_PIXELS).body)
    assert (out.width, out.height) == (50, 100)
    assert out(25, 5)[:3] == [255, 0, 0] and out(25, 95)[:3] == [0, 0, 255]  # turned, not cropped
    same = decode(render(src, plan(Rotate(RotateMode.AUTO_RIGHT)), max_pixels=MAX_PIXELS).body)
    assert (same.width, same.height) == (200, 100)


def test_round_corners_border_opacity_background() -> None:
    src = png(solid(100, 60, (0, 128, 0)))
    out = decode(render(src, plan(RoundCorners(20)), max_pixels=MAX_PIXELS).body)
    assert out(0, 0)[3] == 0 and out(50, 30)[3] == 255 and out(50, 0)[3] == 255
    assert 0 < out(5, 5)[3] < 255 or out(4, 4)[3] < 255  # antialiased edge
    out = decode(render(src, plan(RoundCorners(None)), max_pixels=MAX_PIXELS).body)
    assert out(0, 0)[3] == 0 and out(5, 30)[3] == 255 and out(50, 30)[3] == 255
    out = decode(render(src, plan(RoundCorners(20), fmt=Format.JPG), max_pixels=MAX_PIXELS).body)
    assert min(out(0, 0)) > 245
    out = decode(render(src, plan(Border(4, RED)), max_pixels=MAX_PIXELS).body)
    assert (out.width, out.height) == (108, 68) and out(0, 0)[:3] == [255, 0, 0]
    assert out(50, 30)[:3] == [0, 128, 0]
    out = decode(render(src, plan(Opacity(50)), max_pixels=MAX_PIXELS).body)
    assert abs(out(10, 10)[3] - 128) <= 1
    disc = decode(
        render(png(red_disc()), plan(Background(Color(0, 0, 255))), max_pixels=MAX_PIXELS).body
    )
    assert disc.bands == 3 and disc(0, 0) == [0, 0, 255] and disc(100, 100) == [255, 0, 0]


def test_steps_keep_alpha() -> None:
    steps = [Resize(80, 80, C.FILL), Resize(90, 60, C.PAD), Rotate(degrees=180.0), Border(2)]
    for step in steps:
        out = decode(render(png(red_disc()), plan(step), max_pixels=MAX_PIXELS).body)
        assert out.bands == 4 and out[3].min() == 0 and out[3].max() == 255, step


def test_output_over_the_pixel_limit_is_refused() -> None:
    with pytest.raises(InvalidTransformation):
        render(jpeg(halves()), plan(Resize(100_000, 100_000, C.SCALE)), max_pixels=MAX_PIXELS)
