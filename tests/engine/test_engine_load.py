"""Decoding: orientation, colour profiles, CMYK, bit depth, corrupt files, bombs, animation."""

from __future__ import annotations

import time

import pytest
import pyvips

from alphacdn.engine import load, probe, render
from alphacdn.transform.errors import InvalidImage, UnsupportedImage
from alphacdn.transform.steps import Resize
from alphacdn.transform.values import CropMode, Format

from .imaging import (
    MAX_PIXELS,
    decode,
    fixture,
    gradient,
    jpeg,
    mad,
    plan,
    png,
    png_header_bomb,
    solid,
)


@pytest.mark.parametrize("name", ["waterfall-exif6.jpg", "waterfall-exif3.jpg"])
def test_exif_orientation_is_applied(name: str) -> None:
    info = probe(fixture(name))
    assert info.orientation in (3, 6) and (info.width, info.height) == (240, 180)
    out = decode(render(fixture(name), plan(), max_pixels=MAX_PIXELS).body)
    upright = decode(fixture("waterfall-upright.png"))
    assert mad(out, upright) < 5  # JPEG Q92 with chroma subsampling
    assert mad(out.rot("d180"), upright) > 20
    # and through the shrink-on-load path
    small = render(fixture(name), plan(Resize(width=120)), max_pixels=MAX_PIXELS)
    assert mad(decode(small.body), upright.resize(0.5)) < 4


def test_display_p3_renders_like_its_srgb_original() -> None:
    srgb = decode(fixture("sunset-srgb.png"))
    out = decode(render(fixture("sunset-p3.jpg"), plan(), max_pixels=MAX_PIXELS).body)
    assert mad(out, srgb) < 2.5
    untagged = decode(fixture("sunset-p3.jpg"))  # read as if it were sRGB: visibly off
    assert mad(untagged, srgb) > 2 * mad(out, srgb)
    small = decode(
        render(fixture("sunset-p3.jpg"), plan(Resize(width=80)), max_pixels=MAX_PIXELS).body
    )
    assert mad(small, srgb.resize(80 / srgb.width)) < 3


def test_cmyk_jpeg_becomes_srgb() -> None:
    srgb = decode(fixture("sunset-srgb.png"))
    # what the sRGB original looks like after a trip through the CMYK gamut
    expected = srgb.icc_transform("cmyk", intent="relative").icc_transform(
        "srgb", input_profile="cmyk", intent="relative"
    )
    out = decode(render(fixture("sunset-cmyk.jpg"), plan(), max_pixels=MAX_PIXELS).body)
    assert out.bands == 3 and mad(out, expected) < 2


def test_truncated_jpeg_is_invalid() -> None:
    data = jpeg(gradient(400, 300))
    cut = data[: len(data) // 2]
    with pytest.raises(InvalidImage):
        load(cut, max_pixels=MAX_PIXELS)
    with pytest.raises(InvalidImage):
        render(cut, plan(Resize(100, 100, CropMode.FILL)), max_pixels=MAX_PIXELS)


@pytest.mark.parametrize("data", [b"", b"hello world", b"\x89PNG\r\n\x1a\n broken"])
def test_not_an_image_is_unsupported(data: bytes) -> None:
    with pytest.raises(UnsupportedImage):
        probe(data)


def test_decompression_bomb_is_refused_from_the_header() -> None:
    bomb = png_header_bomb(100_000, 100_000)
    assert len(bomb) < 200 and probe(bomb).pixels == 10**10
    started = time.perf_counter()
    with pytest.raises(InvalidImage, match="over the limit"):
        render(bomb, plan(Resize(100, 100, CropMode.FILL)), max_pixels=MAX_PIXELS)
    with pytest.raises(InvalidImage):
        load(bomb, max_pixels=MAX_PIXELS)
    assert time.perf_counter() - started < 0.5


def test_gif_bomb_header() -> None:
    gif = bytearray(solid(4, 4, (1, 2, 3)).gifsave_buffer())
    frame = gif.index(0x2C)  # the image descriptor: a 4×4 frame claims 60000 × 60000
    gif[frame + 5 : frame + 9] = (60000).to_bytes(2, "little") * 2
    with pytest.raises(InvalidImage, match="over the limit"):
        render(bytes(gif), plan(), max_pixels=MAX_PIXELS)


def test_sixteen_bit_and_grey_sources_become_8bit_srgb() -> None:
    deep = (gradient(60, 40).cast("ushort") * 257).copy(interpretation="rgb16")
    out = load(bytes(deep.pngsave_buffer(bitdepth=16)), max_pixels=MAX_PIXELS)
    assert out.format == "uchar" and out.bands == 3 and mad(out, gradient(60, 40)) < 1
    grey = gradient(60, 40)[0].copy(interpretation="b-w")
    out = load(png(grey), max_pixels=MAX_PIXELS)
    assert out.bands == 3 and out.interpretation == "srgb" and mad(out[1], grey) < 1


def test_animated_gif_delivers_its_first_frame() -> None:
    frames = [solid(30, 20, c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    strip = pyvips.Image.arrayjoin(frames, across=1).copy()
    strip.set_type(pyvips.GValue.gint_type, "page-height", 20)
    data = bytes(strip.gifsave_buffer())
    assert probe(data).pages == 3
    out = render(data, plan(fmt=Format.PNG), max_pixels=MAX_PIXELS)
    assert (out.width, out.height) == (30, 20)
    assert decode(out.body)(5, 5)[:3] == [255, 0, 0]


def test_shrink_on_load_matches_thumbnail() -> None:
    data = jpeg(gradient(2000, 1500))
    out = render(data, plan(Resize(400, 300, CropMode.FILL)), max_pixels=MAX_PIXELS)
    thumb = pyvips.Image.thumbnail_buffer(data, 400, height=300, crop="centre")
    assert (out.width, out.height) == (400, 300)
    assert mad(decode(out.body), thumb) < 1.5


def test_metadata_is_stripped_by_default() -> None:
    out = render(fixture("sunset-p3.jpg"), plan(fmt=Format.JPG), max_pixels=MAX_PIXELS)
    header = decode(out.body)
    for field in ("exif-data", "icc-profile-data", "xmp-data"):
        assert header.get_typeof(field) == 0, field
