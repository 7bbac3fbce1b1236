"""Decode sources: header probe, size limits, shrink-on-load, EXIF orientation, sRGB, 8 bit.

Every image the server decodes from outside (originals, uploads, remote fetches, layer assets,
remove.bg sources and backdrops, the pictures fed to the models) passes `check_size` on its
header first: each side ≤ `max_side`, width × height ≤ `max_pixels`, and frames × width × height
≤ `max_pixels` for animations. The side limit matters as much as the area: a 95 KB PNG of
1 × 49,000,000 pixels is under 50 MP but decodes for tens of seconds into gigabytes.

Everything leaving `load` is an 8-bit sRGB image with 3 bands, or 4 when it has alpha, upright
(EXIF orientation applied) and fully decoded, so a corrupt file fails here as `InvalidImage`
and never halfway through encoding. A multi-frame source loads one frame here (`page`, the
first by default); `engine.frames` decodes animations.
"""

from __future__ import annotations

import contextlib
import struct
from dataclasses import dataclass

import pyvips

from alphacdn.transform.errors import InvalidImage, SourceTooLarge, UnsupportedImage

#: the default longest side of a source (`ALPHACDN_MAX_SOURCE_SIDE`)
MAX_SIDE = 16384

#: vips loader → format name as Cloudinary spells it (its upload API's `format`); any other
#: loader (vips, matlab, csv…) is refused
_LOADERS = {
    "jpegload": "jpg",
    "pngload": "png",
    "webpload": "webp",
    "gifload": "gif",
    "heifload": "heif",
    "tiffload": "tiff",
    "jxlload": "jxl",
    "jp2kload": "jp2k",
}
#: load options: decode errors and truncation raise instead of leaving grey blocks
_FAIL_ON = "error"


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """What the header says. `width`/`height` are upright (after EXIF orientation)."""

    format: str
    width: int
    height: int
    has_alpha: bool
    pages: int
    orientation: int
    interpretation: str
    has_icc: bool

    @property
    def pixels(self) -> int:
        return self.width * self.height


def _header(data: bytes) -> pyvips.Image:
    if not data:
        raise UnsupportedImage("empty file: not an image")
    try:
        image = pyvips.Image.new_from_buffer(data, "")
    except pyvips.Error as e:
        raise UnsupportedImage("not an image format we decode", detail=str(e)) from None
    loader = str(image.get("vips-loader")).removesuffix("_buffer").removesuffix("_source")
    if loader not in _LOADERS:
        raise UnsupportedImage(f"unsupported image format ({loader})")
    return image


def _field(image: pyvips.Image, name: str, default: int) -> int:
    return int(image.get(name)) if image.get_typeof(name) != 0 else default


def _info(image: pyvips.Image) -> SourceInfo:
    fmt = _LOADERS[str(image.get("vips-loader")).removesuffix("_buffer").removesuffix("_source")]
    if fmt == "heif" and image.get_typeof("heif-compression") != 0:
        fmt = "avif" if image.get("heif-compression") == "av1" else "heic"
    orientation = _field(image, "orientation", 1)
    width, height = image.width, image.height
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return SourceInfo(
        format=fmt,
        width=width,
        height=height,
        has_alpha=bool(image.hasalpha()),
        pages=_field(image, "n-pages", 1),
        orientation=orientation,
        interpretation=str(image.interpretation),
        has_icc=image.get_typeof("icc-profile-data") != 0,
    )


def probe(data: bytes) -> SourceInfo:
    """Read the header only: format, upright size, alpha, pages, orientation, profile."""
    return _info(_header(data))


def check_size(info: SourceInfo, *, max_pixels: int, max_side: int = MAX_SIDE) -> None:
    """The one size check before any decode: refuse (`SourceTooLarge`, 400) a source whose
    header claims more than `max_pixels`, a side over `max_side`, or, animated, more than
    `max_pixels` in all its frames (decompression bombs, extreme aspect ratios)."""
    check_dimensions(info.width, info.height, info.pages, max_pixels=max_pixels, max_side=max_side)


def check_dimensions(
    width: int, height: int, pages: int = 1, *, max_pixels: int, max_side: int = MAX_SIDE
) -> None:
    """`check_size` on sizes already known (an asset's stored record): no bytes needed."""
    size = f"source image is {width}x{height}"
    pixels = width * height
    if pixels > max_pixels:
        raise SourceTooLarge(
            f"{size} ({pixels / 1e6:.1f} MP), over the limit of {max_pixels / 1e6:.1f} MP",
            limit="pixels",
        )
    if max(width, height) > max_side:
        raise SourceTooLarge(f"{size}, a side over the limit of {max_side} px", limit="side")
    frames = pixels * pages
    if frames > max_pixels:
        raise SourceTooLarge(
            f"{size} in {pages} frames ({frames / 1e6:.1f} MP in all), over the limit of "
            f"{max_pixels / 1e6:.1f} MP",
            limit="frames",
        )


def probe_checked(data: bytes, *, max_pixels: int, max_side: int = MAX_SIDE) -> SourceInfo:
    """`probe`, then `check_size`: the header of a source about to be decoded."""
    info = probe(data)
    check_size(info, max_pixels=max_pixels, max_side=max_side)
    return info


def _description(profile: bytes) -> str:
    """The `desc` text of an ICC profile (v2 `desc` or v4 `mluc`), '' if unreadable."""
    try:
        count = int.from_bytes(profile[128:132], "big")
        for i in range(min(count, 64)):
            sig, offset, size = struct.unpack_from(">4sII", profile, 132 + 12 * i)
            if sig != b"desc":
                continue
            data = profile[offset : offset + size]
            if data[:4] == b"desc":
                return data[12 : 12 + int.from_bytes(data[8:12], "big")].decode("latin-1")
            if data[:4] == b"mluc":
                length, start = struct.unpack_from(">II", data, 20)
                return data[start : start + length].decode("utf-16-be", "replace")
    except (struct.error, ValueError):
        pass
    return ""


def _is_srgb(image: pyvips.Image) -> bool:
    """Whether the embedded profile is an sRGB one (transforming through it is a no-op)."""
    if image.interpretation != "srgb" or image.format != "uchar":
        return False
    return "srgb" in _description(bytes(image.get("icc-profile-data"))).lower()


def to_srgb8(image: pyvips.Image) -> pyvips.Image:
    """Convert any decoded image to 8-bit sRGB, 3 or 4 bands, through its ICC profile if any."""
    if image.get_typeof("icc-profile-data") != 0 and not _is_srgb(image):
        # a broken profile: fall back to the colourspace conversion below
        with contextlib.suppress(pyvips.Error):
            image = image.icc_transform("srgb", embedded=True, intent="relative")
    elif image.interpretation == "cmyk":
        image = image.icc_transform("srgb", input_profile="cmyk", intent="relative")
    if image.interpretation != "srgb" or image.format != "uchar":
        image = image.colourspace("srgb")
    if image.format != "uchar":
        image = image.cast("uchar")
    bands = 4 if image.hasalpha() else 3
    if image.bands > bands:
        image = image[0:3].bandjoin(image[image.bands - 1]) if bands == 4 else image[0:3]
    return image.copy(interpretation="srgb")


def load(
    data: bytes,
    *,
    max_pixels: int,
    max_side: int = MAX_SIDE,
    target: tuple[int, int] | None = None,
    page: int = 0,
) -> pyvips.Image:
    """Decode `data` upright in 8-bit sRGB once its header passed `check_size`. With `target`
    (the upright size the first resize scales the whole source to) the decoder shrinks on load
    when that is a reduction. `page`: the frame of a multi-frame source to load (0-based)."""
    info = probe_checked(data, max_pixels=max_pixels, max_side=max_side)
    try:
        if target is not None and target[0] * target[1] < info.pixels:
            image = pyvips.Image.thumbnail_buffer(
                data,
                target[0],
                height=target[1],
                size="force",
                option_string=f"fail_on={_FAIL_ON}" + (f",page={page}" if page else ""),
            )
        else:
            # only multi-frame loaders take `page`: pass it only when it is not the first frame
            paged = {"page": page} if page else {}
            image = pyvips.Image.new_from_buffer(data, "", fail_on=_FAIL_ON, **paged).autorot()
        # decode now: a truncated or corrupt file must fail here, as a 422
        return to_srgb8(image).copy_memory()
    except pyvips.Error as e:
        raise InvalidImage("corrupt or truncated image", detail=str(e)) from None


__all__ = [
    "MAX_SIDE",
    "SourceInfo",
    "check_dimensions",
    "check_size",
    "load",
    "probe",
    "probe_checked",
    "to_srgb8",
]
