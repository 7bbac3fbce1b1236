"""Format choice (`f_auto`, extension, source), quality presets, JPEG flattening, flags."""

from __future__ import annotations

import pytest
import pyvips

from alphacdn.engine import negotiate_format, quality_for, render
from alphacdn.transform.values import Flag, Format, QualityPreset

from .imaging import MAX_PIXELS, decode, gradient, jpeg, plan, png, red_disc

CHROME = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"


@pytest.mark.parametrize(
    ("accept", "alpha", "expected"),
    [
        (CHROME, False, Format.AVIF),
        (CHROME, True, Format.AVIF),
        ("image/webp,*/*", False, Format.WEBP),
        ("image/avif;q=0, image/webp", True, Format.WEBP),
        ("*/*", False, Format.JPG),
        ("*/*", True, Format.PNG),
        ("", False, Format.JPG),
        ("", True, Format.PNG),
    ],
)
def test_negotiation_table(accept: str, alpha: bool, expected: Format) -> None:
    assert negotiate_format(accept, alpha) is expected


@pytest.mark.parametrize(
    ("source", "accept", "expected"),
    [
        ("photo", CHROME, "image/avif"),
        ("photo", "image/webp", "image/webp"),
        ("photo", "", "image/jpeg"),
        ("cutout", "", "image/png"),  # f_auto never drops alpha
        ("cutout", "image/webp", "image/webp"),
    ],
)
def test_f_auto_render(source: str, accept: str, expected: str) -> None:
    data = jpeg(gradient()) if source == "photo" else png(red_disc(60))
    out = render(data, plan(fmt=Format.AUTO), accept=accept, max_pixels=MAX_PIXELS)
    assert out.negotiated and out.content_type == expected
    assert decode(out.body).hasalpha() == (source == "cutout")


def test_format_precedence() -> None:
    data = jpeg(gradient())
    assert render(data, plan(fmt=None), max_pixels=MAX_PIXELS).format is Format.JPG
    out = render(data, plan(fmt=None), default_format=Format.WEBP, max_pixels=MAX_PIXELS)
    assert out.format is Format.WEBP and not out.negotiated
    out = render(data, plan(fmt=Format.PNG), default_format=Format.WEBP, max_pixels=MAX_PIXELS)
    assert out.format is Format.PNG
    tiff = bytes(gradient().tiffsave_buffer())
    assert render(tiff, plan(fmt=None), max_pixels=MAX_PIXELS).format is Format.JPG
    tiff_alpha = bytes(red_disc(40).tiffsave_buffer())
    assert render(tiff_alpha, plan(fmt=None), max_pixels=MAX_PIXELS).format is Format.PNG
    gif = bytes(gradient().gifsave_buffer())
    assert render(gif, plan(fmt=None), max_pixels=MAX_PIXELS).content_type == "image/gif"


def test_jpeg_of_alpha_is_flattened_on_white() -> None:
    out = decode(render(png(red_disc(60)), plan(fmt=Format.JPG), max_pixels=MAX_PIXELS).body)
    assert out.bands == 3 and min(out(0, 0)) > 240 and out(30, 30)[0] > 240  # JPEG ringing


@pytest.mark.parametrize("fmt", [Format.PNG, Format.WEBP, Format.AVIF, Format.GIF])
def test_alpha_formats_keep_alpha(fmt: Format) -> None:
    out = decode(render(png(red_disc(60)), plan(fmt=fmt), max_pixels=MAX_PIXELS).body)
    assert out.hasalpha() and out[out.bands - 1].min() == 0


def test_quality_presets_order_file_sizes() -> None:
    data = jpeg(gradient(300, 200), q=98)
    sizes = {
        p: len(render(data, plan(fmt=Format.JPG, preset=p), max_pixels=MAX_PIXELS).body)
        for p in (QualityPreset.LOW, QualityPreset.GOOD, QualityPreset.BEST)
    }
    assert sizes[QualityPreset.LOW] < sizes[QualityPreset.GOOD] < sizes[QualityPreset.BEST]
    assert quality_for(Format.JPG, 55, QualityPreset.BEST) == 55
    assert quality_for(Format.AVIF, None, None) == quality_for(
        Format.AVIF, None, QualityPreset.GOOD
    )


def test_progressive_jpeg_for_large_outputs_and_on_request() -> None:
    big = render(jpeg(gradient(500, 400)), plan(fmt=Format.JPG), max_pixels=MAX_PIXELS)
    assert decode(big.body).get("interlaced") == 1
    small_data = jpeg(gradient(100, 80))
    small = render(small_data, plan(fmt=Format.JPG), max_pixels=MAX_PIXELS)
    assert decode(small.body).get_typeof("interlaced") == 0 or not decode(small.body).get(
        "interlaced"
    )
    asked = render(
        small_data, plan(fmt=Format.JPG, flags=frozenset({Flag.PROGRESSIVE})), max_pixels=MAX_PIXELS
    )
    assert decode(asked.body).get("interlaced") == 1


def test_attachment_flag_is_exposed() -> None:
    out = render(
        jpeg(gradient()),
        plan(fmt=Format.JPG, flags=frozenset({Flag.ATTACHMENT})),
        max_pixels=MAX_PIXELS,
    )
    assert out.attachment


def test_keep_iptc_keeps_xmp() -> None:
    image = gradient().copy()
    image.set_type(pyvips.GValue.blob_type, "xmp-data", b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>")
    data = bytes(image.jpegsave_buffer(keep="xmp"))
    kept = render(
        data, plan(fmt=Format.JPG, flags=frozenset({Flag.KEEP_IPTC})), max_pixels=MAX_PIXELS
    )
    assert decode(kept.body).get_typeof("xmp-data") != 0
    stripped = render(data, plan(fmt=Format.JPG), max_pixels=MAX_PIXELS)
    assert decode(stripped.body).get_typeof("xmp-data") == 0
