"""Every decode is bounded by its header: a side limit beside the area limit, all frames of an
animation against the area; text layers wrap inside words and are measured before drawing."""

from __future__ import annotations

import time

import pytest
import pyvips

from alphacdn.engine import MAX_SIDE, Picture, load, probe, render
from alphacdn.engine.cutout import load_backdrop
from alphacdn.engine.layers import TEXT_MAX_HEIGHT, TEXT_WRAP, render_text, text_size
from alphacdn.transform import parse_chain
from alphacdn.transform.errors import InvalidTransformation, SourceTooLarge
from alphacdn.transform.layers import LayerKind, Text
from alphacdn.transform.steps import Resize

from .imaging import MAX_PIXELS, decode, plan, png, png_header_bomb, png_zeros, solid

TALL = png_zeros(1, 49_000_000)
WIDE = png_zeros(49_000_000, 1)


@pytest.mark.parametrize("data", [TALL, WIDE], ids=["1x49M", "49Mx1"])
def test_extreme_aspect_ratios_are_refused_from_the_header(data: bytes) -> None:
    """95 KB and under 50 MP, but gigabytes and tens of seconds to decode: refused in ms."""
    assert len(data) < 100_000 and probe(data).pixels == 49_000_000 < MAX_PIXELS
    started = time.perf_counter()
    for decode_it in (
        lambda: render(data, plan(Resize(width=200)), max_pixels=MAX_PIXELS),
        lambda: load(data, max_pixels=MAX_PIXELS, target=(64, 64)),
        lambda: Picture(data, max_pixels=MAX_PIXELS, fit_pixels=1_000_000),
        lambda: load_backdrop(data, max_pixels=MAX_PIXELS),
    ):
        with pytest.raises(SourceTooLarge) as caught:
            decode_it()
        assert caught.value.status == 400 and caught.value.limit == "side"
        assert caught.value.public.endswith(f"a side over the limit of {MAX_SIDE} px")
    assert time.perf_counter() - started < 0.5


def test_the_side_limit_is_a_parameter_and_the_limit_itself_passes() -> None:
    data = png_zeros(1200, 10)
    with pytest.raises(SourceTooLarge, match="1200x10, a side over the limit of 1000 px"):
        load(data, max_pixels=MAX_PIXELS, max_side=1000)
    with pytest.raises(SourceTooLarge, match="1000 px"):
        render(data, plan(), max_pixels=MAX_PIXELS, max_side=1000)
    assert load(data, max_pixels=MAX_PIXELS, max_side=1200).width == 1200


def test_area_is_checked_before_the_side() -> None:
    """A square bomb names the area (what remove.bg's `limit_input_50mp` reports)."""
    with pytest.raises(SourceTooLarge, match=r"over the limit of 50\.0 MP") as caught:
        load(png_header_bomb(20_000, 20_000), max_pixels=MAX_PIXELS)
    assert caught.value.limit == "pixels"


def _animated_gif(frames: int, width: int = 30, height: int = 20) -> bytes:
    tiles = [solid(width, height, (80 * i % 256, 0, 0)) for i in range(frames)]  # all differ
    strip = pyvips.Image.arrayjoin(tiles, across=1).copy()
    strip.set_type(pyvips.GValue.gint_type, "page-height", height)
    return bytes(strip.gifsave_buffer())


def test_all_frames_of_an_animation_count_against_the_area() -> None:
    gif = _animated_gif(3)  # 30×20 = 600 px a frame, 1800 px in all
    assert probe(gif).pages == 3
    with pytest.raises(SourceTooLarge, match="30x20 in 3 frames") as caught:
        render(gif, plan(), max_pixels=1000)
    assert caught.value.limit == "frames"
    assert render(gif, plan(), max_pixels=1800).width == 30


def test_layer_assets_are_held_to_the_side_limit() -> None:
    base = png(solid(64, 64, (200, 10, 10)))

    def load_asset(public_id: str) -> bytes:
        return TALL

    started = time.perf_counter()
    with pytest.raises(SourceTooLarge, match=f"a side over the limit of {MAX_SIDE} px"):
        render(base, parse_chain("l_tall/f_png"), max_pixels=MAX_PIXELS, load_asset=load_asset)
    assert time.perf_counter() - started < 0.5


# ── text ────────────────────────────────────────────────────────────────────────────────────


def test_a_word_wider_than_the_wrap_breaks_inside_instead_of_failing() -> None:
    """120 × W at 300 px is ~34,000 px on one line (cairo stops at 32767: it was a 500)."""
    image = render_text(Text("W" * 120, "Arial", 300))
    assert image.bands == 4 and image.width <= TEXT_WRAP and image.height <= TEXT_MAX_HEIGHT
    assert image.height > 5 * 300  # wrapped onto several lines
    ink = image[3].extract_area(0, image.height - 400, image.width, 400).max()
    assert ink > 0  # the last lines hold text: nothing was cut off


@pytest.mark.parametrize(
    ("text", "written"),
    [
        (Text("W" * 500, "Arial", 300), "l_text:Arial_300:WWW"),
        (Text("\n".join("W" * 200), "Arial", 200), "l_text:Arial_200:W%0AW"),  # 200 lines
        (Text("\t" * 400 + "W", "Arial", 100), "l_text:Arial_100:%09%09"),  # tabs do not wrap
        (Text("a" + "\u0301" * 499, "Arial", 300), "l_text:Arial_300:a"),  # stacked accents
    ],
    ids=["long", "newlines", "tabs", "accents"],
)
def test_text_too_large_to_draw_is_refused_before_drawing(text: Text, written: str) -> None:
    started = time.perf_counter()
    with pytest.raises(InvalidTransformation) as caught:
        render_text(text)
    assert time.perf_counter() - started < 0.5
    message = caught.value.public
    assert caught.value.status == 400 and message.startswith(written), message
    assert f"over the {TEXT_WRAP}x{TEXT_MAX_HEIGHT} px a text layer may take" in message
    assert len(message) < 200  # the text is cut short in the message


def test_an_underlay_text_is_named_as_written() -> None:
    with pytest.raises(InvalidTransformation, match=r"^u_text:Arial_300:WWW"):
        render_text(Text("W" * 500, "Arial", 300), LayerKind.UNDERLAY)


def test_the_measure_is_close_to_what_is_drawn() -> None:
    """The bound is only as good as the measure: within 10 % of the drawn size."""
    for text in (
        Text("W" * 120, "Arial", 300),
        Text("hello world " * 20, "Arial", 120),
        Text("Sale 50% off", "Arial", 60, bold=True),
    ):
        width, height = text_size(text)
        drawn = render_text(text)
        assert abs(width - drawn.width) <= 0.1 * drawn.width + 8, (text, width, drawn.width)
        assert abs(height - drawn.height) <= 0.1 * drawn.height + 8, (text, height, drawn.height)


def test_a_wrapped_text_layer_renders_through_the_chain() -> None:
    base = png(solid(64, 64, (255, 255, 255)))
    chain = parse_chain("l_text:Arial_300:" + "W" * 120 + "/f_png")
    out = decode(render(base, chain, max_pixels=MAX_PIXELS).body)
    assert TEXT_WRAP // 2 < out.width <= TEXT_WRAP and out.height <= TEXT_MAX_HEIGHT
