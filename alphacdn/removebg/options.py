"""The enumerated values of `/v1.0/removebg` parameters, spelled as the reference spells them."""

from __future__ import annotations

from enum import StrEnum


class Size(StrEnum):
    PREVIEW = "preview"
    MEDIUM = "medium"
    HD = "hd"
    FULL = "full"
    MP50 = "50MP"
    AUTO = "auto"


SIZE_ALIASES = {"small": Size.PREVIEW, "regular": Size.PREVIEW, "4k": Size.FULL}


class OutputFormat(StrEnum):
    AUTO = "auto"
    PNG = "png"
    WEBP = "webp"
    JPG = "jpg"
    ZIP = "zip"


class ForegroundType(StrEnum):
    AUTO = "auto"
    PERSON = "person"
    PRODUCT = "product"
    ANIMAL = "animal"
    CAR = "car"
    GRAPHIC = "graphic"
    TRANSPORTATION = "transportation"


class TypeLevel(StrEnum):
    NONE = "none"
    COARSE = "1"
    SPECIFIC = "2"
    LATEST = "latest"


class Channels(StrEnum):
    RGBA = "rgba"
    ALPHA = "alpha"


class ShadowType(StrEnum):
    NONE = "none"
    DROP = "drop"
    THREE_D = "3D"
    CAR = "car"
    AUTO = "auto"


__all__ = [
    "SIZE_ALIASES",
    "Channels",
    "ForegroundType",
    "OutputFormat",
    "ShadowType",
    "Size",
    "TypeLevel",
]
