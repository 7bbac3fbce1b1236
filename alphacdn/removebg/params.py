"""Every parameter of `POST /v1.0/removebg`, parsed once into a frozen `RemoveBgParams`.

`parse_params(fields, files)` takes the request's text fields and uploaded files (multipart, form
or JSON all reduce to these two mappings) and raises a 400 `ApiError` naming the parameter on the
first bad value. Empty values count as absent, as in the reference. Unknown parameter names are
ignored; unknown *values* are errors.

Mask controls (Topaz-style, applied to the matte before compositing, in this order):
`mask_shrink` (erode, 0–250 px), `mask_expand` (dilate, 0–250 px), `mask_feather` (gaussian
blur of the alpha, 0–250 px radius) and `mask_invert` (true/false). `fine_edges=true` (an
alphacdn extension) asks for the slower fur/hair edge refinement.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, TypeVar

from alphacdn.engine.cutout import Margin, MaskEdit, Position, Region
from alphacdn.removebg.errors import ApiError, bad_param, limit_error, unknown_value
from alphacdn.removebg.options import (
    SIZE_ALIASES,
    Channels,
    ForegroundType,
    OutputFormat,
    ShadowType,
    Size,
    TypeLevel,
)
from alphacdn.removebg.values import (
    CENTER,
    NO_MARGIN,
    parse_bool,
    parse_int,
    parse_margin,
    parse_percent,
    parse_position,
    parse_region,
)
from alphacdn.transform.colors import parse_css_color
from alphacdn.transform.values import Color

#: largest accepted image file (upload, base64 or URL), from the reference
MAX_FILE_BYTES = 22 * 1024 * 1024
MAX_MASK_PX = 250


@dataclass(frozen=True, slots=True)
class Source:
    """An image given inline (`data`) or by `url` (fetched by the route)."""

    kind: Literal["file", "b64", "url"]
    data: bytes = b""
    url: str = ""


@dataclass(frozen=True, slots=True)
class RemoveBgParams:
    image: Source
    size: Size = Size.PREVIEW
    type: ForegroundType = ForegroundType.AUTO
    type_level: TypeLevel = TypeLevel.COARSE
    format: OutputFormat = OutputFormat.AUTO
    roi: Region | None = None
    crop: bool = False
    crop_margin: Margin = NO_MARGIN
    scale: float | None = None
    #: None: where the subject is (`original`)
    position: Position | None = None
    channels: Channels = Channels.RGBA
    bg_color: Color | None = None
    bg_image: Source | None = None
    shadow_type: ShadowType = ShadowType.NONE
    shadow_opacity: int | None = None
    semitransparency: bool = True
    mask: MaskEdit = field(default_factory=MaskEdit)
    #: alphacdn extension: refine fur/hair edges (slower), as `fineedges_y` on delivery URLs
    fine_edges: bool = False


E = TypeVar("E", bound=StrEnum)


def _enum(name: str, raw: str, enum: type[E], aliases: Mapping[str, E] | None = None) -> E:
    by_value = {m.value.lower(): m for m in enum}
    text = raw.strip().lower()
    if text in by_value:
        return by_value[text]
    if aliases and text in aliases:
        return aliases[text]
    allowed = tuple(m.value for m in enum) + tuple(aliases or ())
    raise unknown_value(name, raw, allowed)


def _decode_b64(raw: str) -> bytes:
    text = raw.strip()
    if text.startswith("data:") and "," in text:
        text = text.split(",", 1)[1]
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise bad_param(
            "image_file_b64", "Invalid base64 data in image_file_b64.", "invalid_image_file_b64"
        ) from None


def _check_file_size(name: str, data: bytes) -> bytes:
    if not data:
        raise bad_param(name, f"The file in {name} is empty.", "empty_file")
    if len(data) > MAX_FILE_BYTES:
        raise limit_error("limit_file_22mb", f"The file in {name} is larger than 22 MB.")
    return data


def _image_source(fields: Mapping[str, str], files: Mapping[str, bytes]) -> Source:
    given = [
        n for n in ("image_file", "image_file_b64", "image_url") if fields.get(n) or files.get(n)
    ]
    if len(given) > 1:
        raise ApiError(
            400,
            "multiple_sources",
            "Multiple image sources given: Please provide "
            "either the image_url, image_file or image_file_b64 parameter.",
            "parameters: " + ", ".join(given),
        )
    if not given:
        raise ApiError(
            400,
            "missing_source",
            "No image given: Please provide either the "
            "image_url, image_file or image_file_b64 parameter.",
        )
    if given[0] == "image_file":
        data = files.get("image_file") or fields["image_file"].encode()
        return Source("file", _check_file_size("image_file", data))
    if given[0] == "image_file_b64":
        return Source(
            "b64", _check_file_size("image_file_b64", _decode_b64(fields["image_file_b64"]))
        )
    return Source("url", url=fields["image_url"].strip())


def _background(
    fields: Mapping[str, str], files: Mapping[str, bytes]
) -> tuple[Color | None, Source | None]:
    given = [
        n for n in ("bg_color", "bg_image_url", "bg_image_file") if fields.get(n) or files.get(n)
    ]
    if len(given) > 1:
        raise ApiError(
            400,
            "multiple_bg_sources",
            "Multiple backgrounds given: Please provide "
            "either bg_color, bg_image_url or bg_image_file.",
            "parameters: " + ", ".join(given),
        )
    if not given:
        return None, None
    if given[0] == "bg_color":
        color = parse_css_color(fields["bg_color"])
        if color is None:
            raise bad_param(
                "bg_color",
                "Invalid bg_color: use a hex code (fff, 81d4fa, 81d4fa77) or a colour name.",
                "invalid_bg_color",
            )
        return color, None
    if given[0] == "bg_image_url":
        return None, Source("url", url=fields["bg_image_url"].strip())
    data = files.get("bg_image_file") or fields["bg_image_file"].encode()
    return None, Source("file", _check_file_size("bg_image_file", data))


def _mask(get: Mapping[str, str]) -> MaskEdit:
    def px(name: str) -> int:
        return parse_int(name, get[name], 0, MAX_MASK_PX) if get.get(name) else 0

    invert = parse_bool("mask_invert", get["mask_invert"]) if get.get("mask_invert") else False
    return MaskEdit(px("mask_shrink"), px("mask_expand"), px("mask_feather"), invert)


def parse_params(fields: Mapping[str, str], files: Mapping[str, bytes]) -> RemoveBgParams:
    """Validate every parameter; raise a 400 `ApiError` naming the first bad one."""
    get = {k: v for k, v in fields.items() if v != ""}
    image = _image_source(get, files)
    bg_color, bg_image = _background(get, files)
    scale = None
    if get.get("scale") and get["scale"].strip().lower() != "original":
        scale = parse_percent("scale", get["scale"], 10, 100)
    default_position = CENTER if scale is not None else None
    position = (
        parse_position("position", get["position"]) if "position" in get else default_position
    )
    shadow = (
        _enum("shadow_type", get["shadow_type"], ShadowType)
        if "shadow_type" in get
        else ShadowType.CAR
        if parse_bool("add_shadow", get.get("add_shadow", "false"))
        else ShadowType.NONE
    )
    opacity = None
    if get.get("shadow_opacity", "auto").strip().lower() != "auto":
        opacity = parse_int("shadow_opacity", get["shadow_opacity"], 0, 100)
    return RemoveBgParams(
        image=image,
        size=_enum("size", get["size"], Size, SIZE_ALIASES) if "size" in get else Size.PREVIEW,
        type=_enum("type", get["type"], ForegroundType) if "type" in get else ForegroundType.AUTO,
        type_level=_enum("type_level", get["type_level"], TypeLevel)
        if "type_level" in get
        else TypeLevel.COARSE,
        format=_enum("format", get["format"], OutputFormat)
        if "format" in get
        else OutputFormat.AUTO,
        roi=parse_region("roi", get["roi"]) if "roi" in get else None,
        crop=parse_bool("crop", get["crop"]) if "crop" in get else False,
        crop_margin=parse_margin("crop_margin", get["crop_margin"])
        if "crop_margin" in get
        else NO_MARGIN,
        scale=scale,
        position=position,
        channels=_enum("channels", get["channels"], Channels)
        if "channels" in get
        else Channels.RGBA,
        bg_color=bg_color,
        bg_image=bg_image,
        shadow_type=shadow,
        shadow_opacity=opacity,
        semitransparency=parse_bool("semitransparency", get["semitransparency"])
        if "semitransparency" in get
        else True,
        mask=_mask(get),
        fine_edges=parse_bool("fine_edges", get["fine_edges"]) if "fine_edges" in get else False,
    )


__all__ = [
    "MAX_FILE_BYTES",
    "Channels",
    "ForegroundType",
    "OutputFormat",
    "RemoveBgParams",
    "ShadowType",
    "Size",
    "Source",
    "TypeLevel",
    "parse_params",
]
