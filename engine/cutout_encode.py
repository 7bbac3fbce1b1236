"""A composed cut-out encoded as the remove.bg-style API answers: `png`, `jpg`, `webp`, `zip`
(`color.jpg` + `alpha.png`) or `auto` (PNG while transparency remains, else JPEG), the RGBA
image or its alpha alone. Every encoder is `encode.encode`'s (quality 90 for JPEG and WebP)."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from enum import Enum

import pyvips

from alphacdn.transform.values import Format

from .encode import CONTENT_TYPES, encode

#: the largest PNG answered (PNG is slow to encode and huge at that size)
PNG_MAX_PIXELS = 10_000_000
QUALITY = 90


class CutoutError(ValueError):
    """A cut-out that cannot be composed or encoded as asked (the caller's bad request)."""


class PngTooLarge(CutoutError):
    """PNG output over `PNG_MAX_PIXELS`."""


class CutoutFormat(Enum):
    AUTO = "auto"
    PNG = "png"
    JPG = "jpg"
    WEBP = "webp"
    ZIP = "zip"


_FORMATS = {CutoutFormat.PNG: Format.PNG, CutoutFormat.JPG: Format.JPG,
            CutoutFormat.WEBP: Format.WEBP}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Encoded:
    body: bytes
    media_type: str
    extension: str


def resolve_format(rgba: pyvips.Image, fmt: CutoutFormat, *, alpha_only: bool) -> CutoutFormat:
    """`auto`: PNG for the alpha alone or while any pixel is not opaque, else JPEG."""
    if fmt is not CutoutFormat.AUTO:
        return fmt
    return CutoutFormat.PNG if alpha_only or rgba[3].min() < 255 else CutoutFormat.JPG


def _zip(rgba: pyvips.Image) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("color.jpg", encode(rgba[0:3], Format.JPG, quality=QUALITY, fast=True))
        archive.writestr("alpha.png", encode(rgba[3].copy(interpretation="b-w"), Format.PNG))
    return buffer.getvalue()


def encode_cutout(rgba: pyvips.Image, fmt: CutoutFormat, *, alpha_only: bool) -> Encoded:
    """Encode an RGBA image (or its alpha alone); `PngTooLarge` over `PNG_MAX_PIXELS`."""
    fmt = resolve_format(rgba, fmt, alpha_only=alpha_only)
    if fmt is CutoutFormat.PNG and rgba.width * rgba.height > PNG_MAX_PIXELS:
        raise PngTooLarge(f"PNG output is limited to {PNG_MAX_PIXELS // 1_000_000} megapixels")
    if fmt is CutoutFormat.ZIP:
        return Encoded(_zip(rgba), "application/zip", "zip")
    image = rgba[3].copy(interpretation="b-w") if alpha_only else rgba
    target = _FORMATS[fmt]
    body = encode(image, target, quality=QUALITY, keep_alpha=True, fast=True)
    return Encoded(body, CONTENT_TYPES[target], fmt.value)


__all__ = [
    "PNG_MAX_PIXELS",
    "CutoutError",
    "CutoutFormat",
    "Encoded",
    "PngTooLarge",
    "encode_cutout",
    "resolve_format",
]
