"""Animated sources: frames kept through the steps, `f_auto`, `pg_`, `dl_`, `e_loop`, limits."""

from __future__ import annotations

import pytest
import pyvips

from alphacdn.engine import MAX_FRAMES, render
from alphacdn.transform.errors import InvalidTransformation, SourceTooLarge
from alphacdn.transform.parse import parse_chain
from alphacdn.transform.values import Format
from tests.engine.imaging import (
    FRAME_COLOURS,
    MAX_PIXELS,
    animated,
    decode,
    frames_of,
    solid,
)


def run(source: bytes, chain: str, fmt: Format | None = None, accept: str = "") -> tuple:
    r = render(source, parse_chain(chain), accept=accept, default_format=fmt, max_pixels=MAX_PIXELS)
    return r, r.body


def colour_at(image: pyvips.Image, frame: int, height: int, x: int, y: int) -> list[float]:
    return list(image.getpoint(x, frame * height + y))[:3]


def near(got: list[float], want: tuple[int, int, int], tol: float = 24) -> bool:
    return all(abs(g - w) <= tol for g, w in zip(got, want, strict=True))


@pytest.mark.parametrize("source_fmt", ["gif", "webp"])
@pytest.mark.parametrize("out", [Format.GIF, Format.WEBP])
def test_a_resize_keeps_every_frame(source_fmt: str, out: Format) -> None:
    r, body = run(animated(5, fmt=source_fmt), "c_scale,w_40", out)
    img = frames_of(body)
    assert r.format is out and (r.width, r.height) == (40, 30)
    assert img.get("n-pages") == 5 and img.get("page-height") == 30
    for i in range(5):  # each frame is its own source frame, resized
        assert near(colour_at(img, i, 30, 30, 25), FRAME_COLOURS[i]), i
    assert list(img.get("delay")) == [80] * 5


def test_steps_run_on_every_frame() -> None:
    # crop, rounded corners and a grayscale: the same on each frame
    _r, body = run(animated(4), "c_fill,w_30,h_30,r_max/e_grayscale", Format.WEBP)
    img = frames_of(body)
    assert img.get("n-pages") == 4 and (img.width, img.get("page-height")) == (30, 30)
    for i in range(4):
        r, g, b = colour_at(img, i, 30, 15, 25)
        assert abs(r - g) <= 2 and abs(g - b) <= 2  # gray
        assert img.getpoint(0, i * 30)[3] == 0  # the rounded corner is transparent


def test_f_auto_is_animated_webp_when_accepted_and_gif_otherwise() -> None:
    src = animated(3)
    r, body = run(src, "w_40/f_auto", accept="image/avif,image/webp,*/*")
    assert r.format is Format.WEBP and r.negotiated and frames_of(body).get("n-pages") == 3
    r, body = run(src, "w_40/f_auto", accept="*/*")
    assert r.format is Format.GIF and frames_of(body).get("n-pages") == 3


def test_a_still_format_gets_one_frame() -> None:
    src = animated(5)
    r, body = run(src, "w_40", Format.JPG)
    assert r.format is Format.JPG and near(list(decode(body).getpoint(30, 25)), FRAME_COLOURS[0])
    r, body = run(src, "pg_3", Format.PNG)
    assert (r.width, r.height) == (80, 60)
    assert near(list(decode(body).getpoint(40, 40))[:3], FRAME_COLOURS[2])
    r, body = run(src, "pg_2,w_40", Format.GIF)  # one frame asked for: a still GIF
    img = frames_of(body)
    assert img.get("n-pages") == 1 and near(colour_at(img, 0, 30, 30, 25), FRAME_COLOURS[1])


def test_a_page_range_delay_and_loop() -> None:
    _r, body = run(animated(5), "pg_2-4,dl_200/e_loop:2", Format.GIF)
    img = frames_of(body)
    assert img.get("n-pages") == 3
    assert [near(colour_at(img, i, 60, 40, 40), FRAME_COLOURS[i + 1]) for i in range(3)] == [
        True
    ] * 3
    assert list(img.get("delay")) == [200] * 3
    assert img.get("loop") == 3  # two more loops: it plays three times
    endless = frames_of(run(animated(3), "e_loop", Format.GIF)[1])
    assert endless.get("loop") == 0


def test_a_page_past_the_last_frame_is_a_400() -> None:
    with pytest.raises(InvalidTransformation, match=r"pg_9 \(the image has 5 frames\)"):
        run(animated(5), "pg_9", Format.GIF)
    with pytest.raises(InvalidTransformation, match="has 1 frame"):
        run(animated(1), "pg_2", Format.PNG)


def test_an_animation_keeps_at_most_max_frames() -> None:
    _r, body = run(animated(MAX_FRAMES + 20, 16, 12), "w_8", Format.GIF)
    assert frames_of(body).get("n-pages") == MAX_FRAMES


def test_frames_of_different_sizes_are_centred_on_the_first() -> None:
    # e_trim trims each frame by its own content: a red box growing frame by frame on white
    boxes = [solid(60, 40, (255, 255, 255)).insert(solid(10 + 10 * i, 20, (220, 0, 0)), 5, 10)
             for i in range(3)]  # fmt: skip
    strip = pyvips.Image.arrayjoin(boxes, across=1).copy()
    strip.set_type(pyvips.GValue.gint_type, "page-height", 40)
    strip.set_type(pyvips.GValue.array_int_type, "delay", [100] * 3)
    r, body = run(bytes(strip.gifsave_buffer()), "e_trim", Format.WEBP)
    img = frames_of(body)
    assert (r.width, r.height) == (30, 20)  # the largest frame's trimmed size
    assert img.get("n-pages") == 3 and img.get("page-height") == 20 and img.width == 30
    assert img.getpoint(2, 10)[3] == 0 and img.getpoint(15, 10)[3] == 255  # 10 wide, centred
    assert near(colour_at(img, 2, 20, 2, 10), (220, 0, 0))  # the last frame fills it


def test_every_frame_counts_against_the_pixel_limit() -> None:
    with pytest.raises(SourceTooLarge, match="frames"):
        render(animated(10, 100, 100), parse_chain("w_50"), max_pixels=50_000)
