"""From a full-resolution RGBA cut-out and the parsed params to the response image and headers.

Order (each step a small function in `matte.py`): roi → size cap (premultiplied downscale) →
mask controls → foreground box → crop + crop_margin → scale / position → shadow → background →
channels → encode (`png`, `jpg`, `webp`, or `zip` = `color.jpg` + `alpha.png`).
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

from alphacdn.removebg import matte
from alphacdn.removebg.errors import ApiError, bad_param, limit_error
from alphacdn.removebg.matte import Image
from alphacdn.removebg.params import Channels, OutputFormat, RemoveBgParams, ShadowType
from alphacdn.removebg.values import Margin, Placement

PNG_MAX_PIXELS = 10_000_000
_AUTO_SHADOW = {"car": "car", "person": "3D", "transportation": "3D"}  # others: drop
_DEFAULT_OPACITY = {"car": 90}  # others: 50


@dataclass(frozen=True, slots=True)
class Composed:
    body: bytes
    media_type: str
    extension: str
    width: int
    height: int
    #: (top, left, width, height) of the foreground in the result
    foreground: tuple[int, int, int, int]


def _roi(rgba: Image, params: RemoveBgParams) -> Image:
    if params.roi is None:
        return rgba
    r, w, h = params.roi, rgba.width, rgba.height
    x1, x2 = (max(0, min(w, round(v.resolve(w)))) for v in (r.x1, r.x2))
    y1, y2 = (max(0, min(h, round(v.resolve(h)))) for v in (r.y1, r.y2))
    if x2 <= x1 or y2 <= y1:
        raise bad_param("roi", "Invalid roi: the region lies outside the image.", "invalid_roi")
    return matte.with_alpha(rgba, matte.restrict_to_region(rgba[3], x1, y1, x2 - x1, y2 - y1))


def _crop(rgba: Image, box: tuple[int, int, int, int], margin: Margin) -> tuple[Image, int, int]:
    """Crop to the box plus margins (transparent beyond the image); return the subject offset."""
    left, top, width, height = box
    m_top, m_bottom = (min(500, round(v.resolve(height))) for v in (margin.top, margin.bottom))
    m_left, m_right = (min(500, round(v.resolve(width))) for v in (margin.left, margin.right))
    subject = rgba.extract_area(left, top, width, height)
    canvas = subject.embed(
        m_left,
        m_top,
        width + m_left + m_right,
        height + m_top + m_bottom,
        extend="background",
        background=[0, 0, 0, 0],
    )
    return canvas, m_left, m_top


def _place(
    rgba: Image, box: tuple[int, int, int, int], params: RemoveBgParams
) -> tuple[Image, tuple[int, int, int, int]]:
    """Apply `scale` and `position` to the subject inside an unchanged canvas."""
    left, top, width, height = box
    if params.scale is None and params.position.placement is Placement.ORIGINAL:
        return rgba, box
    subject = rgba.extract_area(left, top, width, height)
    if params.scale is not None:
        factor = min(rgba.width * params.scale / width, rgba.height * params.scale / height)
        subject = matte.resize_premultiplied(subject, factor)
    width, height = subject.width, subject.height
    fx, fy = (0.5, 0.5)
    if params.position.placement is Placement.PERCENT:
        fx, fy = params.position.x, params.position.y
    elif params.position.placement is Placement.ORIGINAL:  # scaled about the original centre
        fx = (left + box[2] / 2 - width / 2) / max(1, rgba.width - width)
        fy = (top + box[3] / 2 - height / 2) / max(1, rgba.height - height)
        fx, fy = min(1.0, max(0.0, fx)), min(1.0, max(0.0, fy))
    x, y = round((rgba.width - width) * fx), round((rgba.height - height) * fy)
    canvas = subject.embed(
        x, y, rgba.width, rgba.height, extend="background", background=[0, 0, 0, 0]
    )
    return canvas, (x, y, width, height)


def _shadow(
    rgba: Image, params: RemoveBgParams, detected: str, box: tuple[int, int, int, int]
) -> Image:
    kind = params.shadow_type.value
    if kind == ShadowType.AUTO:
        kind = _AUTO_SHADOW.get(detected, "drop")
    if kind == ShadowType.NONE:
        return rgba
    opacity = params.shadow_opacity
    if opacity is None:
        opacity = _DEFAULT_OPACITY.get(detected, 50)
    return matte.over(rgba, matte.shadow_layer(rgba, kind, opacity, box))


def compose(
    cutout: Image,
    params: RemoveBgParams,
    *,
    detected_type: str,
    max_pixels: int,
    bg_image: Image | None = None,
) -> Composed:
    """The response image for `params` (pure: pyvips in, bytes out). Raises 400 `ApiError`."""
    rgba = matte.limit_pixels(_roi(matte.to_rgba(cutout), params), max_pixels)
    if params.mask.active:
        rgba = matte.with_alpha(rgba, matte.edit_alpha(rgba[3], params.mask))
    box = matte.foreground_box(rgba[3])
    if box[2] == 0:
        raise ApiError(
            400, "unknown_foreground", "Could not identify foreground in image.", "parameter: image"
        )
    if params.crop:
        rgba, x, y = _crop(rgba, box, params.crop_margin)
        box = (x, y, box[2], box[3])
    rgba, box = _place(rgba, box, params)
    rgba = _shadow(rgba, params, detected_type, box)
    if params.bg_color is not None:
        rgba = matte.over(rgba, matte.backdrop_color(rgba, params.bg_color))
    elif bg_image is not None:
        rgba = matte.over(rgba, matte.backdrop_image(bg_image, rgba.width, rgba.height))
    foreground = (box[1], box[0], box[2], box[3])
    return encode(rgba, params, foreground)


def encode(rgba: Image, params: RemoveBgParams, foreground: tuple[int, int, int, int]) -> Composed:
    """Encode per `format` and `channels`; `auto` is PNG when transparency remains, else JPG."""
    fmt = params.format
    alpha_only = params.channels is Channels.ALPHA
    if fmt is OutputFormat.AUTO:
        fmt = OutputFormat.PNG if alpha_only or rgba[3].min() < 255 else OutputFormat.JPG
    if fmt is OutputFormat.PNG and rgba.width * rgba.height > PNG_MAX_PIXELS:
        raise limit_error(
            "limit_png_10mp",
            "PNG output is limited to 10 megapixels: use "
            "format=webp, zip or jpg, or a smaller size.",
        )
    image = rgba[3].copy(interpretation="b-w") if alpha_only else rgba
    if fmt is OutputFormat.ZIP:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
            archive.writestr("color.jpg", rgba.extract_band(0, n=3).write_to_buffer(".jpg", Q=90))
            archive.writestr(
                "alpha.png",
                rgba[3].copy(interpretation="b-w").write_to_buffer(".png", compression=6),
            )
        body, media_type, ext = buffer.getvalue(), "application/zip", "zip"
    elif fmt is OutputFormat.JPG:
        if not alpha_only:
            image = image.flatten(background=[255, 255, 255]).cast("uchar")
        body, media_type, ext = image.write_to_buffer(".jpg", Q=90), "image/jpeg", "jpg"
    elif fmt is OutputFormat.WEBP:
        body, media_type, ext = image.write_to_buffer(".webp", Q=90), "image/webp", "webp"
    else:
        body, media_type, ext = image.write_to_buffer(".png", compression=6), "image/png", "png"
    return Composed(body, media_type, ext, rgba.width, rgba.height, foreground)


__all__ = ["PNG_MAX_PIXELS", "Composed", "compose", "encode"]
