"""`engine.cutout`: the remove.bg-style API's composition on a real cut-out (rembg's tiger).

The goldens under `tests/golden/removebg/` were written by the API's own compositing before it
moved into the engine (`alphacdn/removebg/compose.py`), so they hold the move to "same output".
"""

from __future__ import annotations

import io
import time
import zipfile
from dataclasses import replace

import pytest
import pyvips

from alphacdn.engine.cutout import (
    CutoutShadow,
    CutoutSpec,
    Margin,
    MaskEdit,
    NoSubject,
    Position,
    Region,
    RegionOutside,
    ShadowKind,
    compose,
    crop_to_subject,
    decode_cutout,
    limit_pixels,
    load_backdrop,
    place_subject,
    restrict_to_region,
    shadow_alpha,
)
from alphacdn.engine.cutout_encode import CutoutFormat, PngTooLarge, encode_cutout
from alphacdn.engine.subject import subject_box
from alphacdn.transform.errors import InvalidImage
from alphacdn.transform.values import Color
from tests.conftest import FIXTURES

from .imaging import MAX_PIXELS, check_golden, decode, mad, png, png_header_bomb, solid

CUTOUT = (FIXTURES / "e2e" / "tiger-cutout.png").read_bytes()  # 320×213 RGBA, MIT (rembg)
BACKDROP = load_backdrop((FIXTURES / "e2e" / "cat-street.jpg").read_bytes(), max_pixels=MAX_PIXELS)
TIGER_BOX = (20, 62, 275, 123)  # left, top, width, height of the tiger in CUTOUT

#: name → (spec, backdrop, size, subject box); the same cases as the goldens' writer used
CASES = {
    "roi_mask": (
        CutoutSpec(
            MAX_PIXELS, roi=Region(0.1, 0.1, 0.6, 0.9), mask=MaskEdit(shrink=2, expand=1, feather=3)
        ),
        None,
        (320, 213),
        (31, 62, 162, 119),
    ),
    "crop_margin_drop": (
        CutoutSpec(
            MAX_PIXELS,
            crop=True,
            margin=Margin(0.1, 20, 0.1, 20),
            shadow=CutoutShadow(ShadowKind.DROP, 50),
        ),
        None,
        (315, 147),
        (20, 12, 275, 123),
    ),
    "scale_position_ground": (
        CutoutSpec(
            MAX_PIXELS,
            scale=0.6,
            position=Position(0.2, 0.8),
            shadow=CutoutShadow(ShadowKind.GROUND, 70),
        ),
        None,
        (320, 213),
        (26, 102, 192, 86),
    ),
    "backdrop_crop_scale": (
        CutoutSpec(
            MAX_PIXELS, crop=True, margin=Margin(40, 40, 40, 40), scale=0.9, position=Position()
        ),
        BACKDROP,
        (355, 203),
        (18, 30, 320, 143),
    ),
    "cap_color_invert": (
        CutoutSpec(20_000, mask=MaskEdit(invert=True), background=Color(0x81, 0xD4, 0xFA, 0x77)),
        None,
        (173, 115),
        (0, 0, 173, 115),
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_compose_matches_the_api_goldens(name: str) -> None:
    spec, backdrop, size, subject = CASES[name]
    result = compose(CUTOUT, replace(spec, format=CutoutFormat.PNG), backdrop)
    assert (result.media_type, result.extension) == ("image/png", "png")
    assert (result.width, result.height, result.subject) == (*size, subject)
    check_golden(f"removebg/{name}", "tiger", decode(result.body))


def test_the_default_spec_changes_nothing() -> None:
    result = compose(CUTOUT, CutoutSpec(MAX_PIXELS, format=CutoutFormat.PNG))
    assert result.subject == TIGER_BOX
    assert mad(decode(result.body), decode(CUTOUT)) == 0


def test_roi_zeroes_the_alpha_outside_and_refuses_an_empty_region() -> None:
    rgba = decode_cutout(CUTOUT)
    left_half = restrict_to_region(rgba, Region(0, 0, 0.5, 1.0))
    assert left_half[3].crop(160, 0, 160, 213).max() == 0
    assert mad(left_half.crop(0, 0, 160, 213), rgba.crop(0, 0, 160, 213)) == 0
    with pytest.raises(RegionOutside):
        restrict_to_region(rgba, Region(400, 0, 500, 100))  # clipped to nothing


def test_size_cap_scales_down_premultiplied_never_up() -> None:
    rgba = decode_cutout(CUTOUT)
    assert limit_pixels(rgba, 10**6) is rgba
    small = limit_pixels(rgba, 10_000)
    # vips rounds each side to the nearest pixel: at most one row and one column over
    assert small.width * small.height <= 10_000 + small.width + small.height
    assert small.width * small.height > 9_000 and small.bands == 4
    # premultiplied: fully transparent pixels' colour never darkens the subject's edge
    assert small[3].max() == 255


def test_crop_margins_are_lengths_of_the_subject_and_capped_at_500_px() -> None:
    rgba = decode_cutout(CUTOUT)
    cropped, box = crop_to_subject(rgba, TIGER_BOX, Margin(0.5, 1000, 0, 10))
    top = round(123 * 0.5)
    assert (cropped.width, cropped.height) == (10 + 275 + 500, top + 123)
    assert box == (10, top, 275, 123)
    assert cropped[3].crop(0, 0, 10, cropped.height).max() == 0  # margins are transparent


def test_position_moves_the_subject_and_original_keeps_its_centre() -> None:
    rgba = decode_cutout(CUTOUT)
    same, box = place_subject(rgba, TIGER_BOX, None, None)
    assert same is rgba and box == TIGER_BOX
    moved, box = place_subject(rgba, TIGER_BOX, None, Position(0.0, 1.0))
    assert box == (0, 213 - 123, 275, 123)
    assert subject_box(moved[3]) == box
    _, scaled = place_subject(rgba, TIGER_BOX, 0.5, None)
    centre = (TIGER_BOX[0] + TIGER_BOX[2] / 2, TIGER_BOX[1] + TIGER_BOX[3] / 2)
    assert abs(scaled[0] + scaled[2] / 2 - centre[0]) <= 1
    assert abs(scaled[1] + scaled[3] / 2 - centre[1]) <= 1


def test_shadows_fall_below_and_beside_the_subject() -> None:
    alpha = decode_cutout(CUTOUT)[3]
    left, top, width, height = TIGER_BOX
    ground = shadow_alpha(alpha, ShadowKind.GROUND, TIGER_BOX)
    assert ground.crop(left, top + height, width, 8).avg() > 0  # on the floor under it
    assert ground.crop(0, 0, 320, top).max() == 0  # nothing above it
    drop = shadow_alpha(alpha, ShadowKind.DROP, TIGER_BOX)
    assert drop.crop(left, top + height, width, 5).avg() > 0  # offset down and right
    assert drop.avg() > 0 and (drop.width, drop.height) == (320, 213)


def test_no_subject_is_refused() -> None:
    empty = png(solid(40, 30, (10, 20, 30)).bandjoin(0))
    with pytest.raises(NoSubject):
        compose(empty, CutoutSpec(MAX_PIXELS))


def test_auto_format_channels_and_zip() -> None:
    rgba = decode_cutout(CUTOUT)
    transparent = encode_cutout(rgba, CutoutFormat.AUTO, alpha_only=False)
    assert (transparent.media_type, decode(transparent.body).bands) == ("image/png", 4)
    opaque = compose(CUTOUT, CutoutSpec(MAX_PIXELS, background=Color(0, 0, 255)))
    assert (opaque.media_type, opaque.extension) == ("image/jpeg", "jpg")
    alpha = encode_cutout(rgba, CutoutFormat.WEBP, alpha_only=True)
    assert alpha.media_type == "image/webp"
    assert mad(decode(alpha.body)[0], rgba[3]) < 1.5
    # an opaque alpha band stays in PNG (the API always answers RGBA PNG)
    kept = encode_cutout(rgba.copy(), CutoutFormat.PNG, alpha_only=False)
    opaque_rgba = decode(
        encode_cutout(rgba[0:3].bandjoin(255), CutoutFormat.PNG, alpha_only=False).body
    )
    assert decode(kept.body).bands == opaque_rgba.bands == 4
    archive = zipfile.ZipFile(
        io.BytesIO(encode_cutout(rgba, CutoutFormat.ZIP, alpha_only=False).body)
    )
    assert sorted(archive.namelist()) == ["alpha.png", "color.jpg"]
    assert mad(decode(archive.read("alpha.png")), rgba[3]) == 0
    assert decode(archive.read("color.jpg")).bands == 3


def test_png_output_is_capped_at_10_megapixels() -> None:
    big = pyvips.Image.black(4000, 2600, bands=4).copy(interpretation="srgb").cast("uchar")
    with pytest.raises(PngTooLarge):
        encode_cutout(big, CutoutFormat.PNG, alpha_only=False)


def test_backdrop_header_bomb_is_refused_before_decoding() -> None:
    started = time.monotonic()
    with pytest.raises(InvalidImage, match="over the limit"):
        load_backdrop(png_header_bomb(100_000, 100_000), max_pixels=MAX_PIXELS)
    assert time.monotonic() - started < 1
