"""A cut-out composed as the remove.bg-style API asks: its steps, on the engine's primitives.

Order (`compose`): roi → size cap (premultiplied downscale) → mask controls → subject box →
crop + margin → scale / position → shadow → backdrop → channels → encode (`png`, `jpg`, `webp`,
or `zip` = `color.jpg` + `alpha.png`). Lengths are `transform`'s: an int is pixels, a float a
fraction of the reference (`10%` is 0.1). Every function is pure: pyvips (or bytes) in and out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum

import pyvips

from alphacdn.transform.values import Color, Length

from . import alpha as _alpha
from . import masks
from .cutout_encode import CutoutError, CutoutFormat, encode_cutout
from .load import MAX_SIDE, load, to_srgb8
from .shadows import composite_shadow
from .subject import subject_box

Box = tuple[int, int, int, int]  # left, top, width, height


class RegionOutside(CutoutError):
    """The `roi` lies outside the image."""


class NoSubject(CutoutError):
    """Nothing in the matte is foreground."""


@dataclass(frozen=True, slots=True)
class Region:
    """A rectangle by two corners (`roi`): x1 < x2, y1 < y2, each a length."""

    x1: Length
    y1: Length
    x2: Length
    y2: Length


@dataclass(frozen=True, slots=True)
class Margin:
    """Space kept around the subject when cropping to it, CSS order (lengths of the subject)."""

    top: Length = 0
    right: Length = 0
    bottom: Length = 0
    left: Length = 0


@dataclass(frozen=True, slots=True)
class Position:
    """Where the subject goes: fractions of the free space (0 = left/top, 1 = right/bottom)."""

    x: float = 0.5
    y: float = 0.5


@dataclass(frozen=True, slots=True)
class MaskEdit:
    """Edits of the matte, in this order: shrink, expand, feather (px), then invert."""

    shrink: int = 0
    expand: int = 0
    feather: int = 0
    invert: bool = False

    @property
    def active(self) -> bool:
        return bool(self.shrink or self.expand or self.feather or self.invert)


class ShadowKind(Enum):
    #: the subject's blurred alpha, offset down and right
    DROP = "drop"
    #: a contact shadow: the subject's footprint squashed flat under it (remove.bg's 3D, car)
    GROUND = "ground"


@dataclass(frozen=True, slots=True)
class CutoutShadow:
    kind: ShadowKind
    opacity: int  # 0-100


@dataclass(frozen=True, slots=True)
class CutoutSpec:
    """Everything `compose` does to a cut-out; the defaults change nothing."""

    #: the size cap: larger cut-outs are scaled down (premultiplied) to this many pixels
    max_pixels: int
    roi: Region | None = None
    mask: MaskEdit = field(default_factory=MaskEdit)
    crop: bool = False
    margin: Margin = field(default_factory=Margin)
    #: the subject's size as a fraction of the canvas (None: as it is)
    scale: float | None = None
    #: None: where the subject was (with `scale`, scaled about its centre)
    position: Position | None = None
    shadow: CutoutShadow | None = None
    background: Color | None = None
    alpha_only: bool = False
    format: CutoutFormat = CutoutFormat.AUTO


@dataclass(frozen=True, slots=True)
class Backdrop:
    """A decoded backdrop image (upright 8-bit sRGB), ready for `compose`."""

    image: pyvips.Image


@dataclass(frozen=True, slots=True)
class Composed:
    """The encoded result, its size and where its subject is."""

    body: bytes
    media_type: str
    extension: str
    width: int
    height: int
    #: the subject's (left, top, width, height) in the result
    subject: Box


def _px(length: Length, reference: int) -> int:
    # round away float noise first: 10% of 25 is 2.5 (→ 2), not 2.5000000000000004 (→ 3)
    return round(round(length * reference, 6)) if isinstance(length, float) else length


def rescale(image: pyvips.Image, scale: float) -> pyvips.Image:
    """Premultiplied resize: lanczos3 down, bilinear up (as the remove.bg-style API always has:
    a subject or backdrop enlarged with lanczos3 differs by ~1.6 mean levels)."""
    return _alpha.resize(image, scale, kernel="lanczos3" if scale < 1 else "linear")


def decode_cutout(png: bytes) -> pyvips.Image:
    """The RGBA (8-bit sRGB) image of an encoded cut-out, in memory (it is read several times)."""
    image = pyvips.Image.new_from_buffer(png, "")
    return _alpha.with_alpha(to_srgb8(image)).copy_memory()


def load_backdrop(data: bytes, *, max_pixels: int, max_side: int = MAX_SIDE) -> Backdrop:
    """Decode a backdrop (refused from its header over a size limit: `SourceTooLarge`)."""
    return Backdrop(load(data, max_pixels=max_pixels, max_side=max_side))


def replace_alpha(rgba: pyvips.Image, alpha: pyvips.Image) -> pyvips.Image:
    return rgba[0:3].bandjoin(alpha.cast("uchar")).copy(interpretation="srgb")


def restrict_to_region(rgba: pyvips.Image, region: Region) -> pyvips.Image:
    """Zero the alpha outside `region` (clipped to the image); `RegionOutside` if it is empty."""
    w, h = rgba.width, rgba.height
    x1, x2 = (max(0, min(w, _px(v, w))) for v in (region.x1, region.x2))
    y1, y2 = (max(0, min(h, _px(v, h))) for v in (region.y1, region.y2))
    if x2 <= x1 or y2 <= y1:
        raise RegionOutside("the region lies outside the image")
    inside = rgba[3].crop(x1, y1, x2 - x1, y2 - y1).embed(x1, y1, w, h, extend="black")
    return replace_alpha(rgba, inside)


def limit_pixels(image: pyvips.Image, max_pixels: int) -> pyvips.Image:
    """Scale down (never up) so that width × height ≤ `max_pixels`."""
    pixels = image.width * image.height
    if pixels <= max_pixels:
        return image
    return rescale(image, math.sqrt(max_pixels / pixels) * 0.999)


def edit_mask(rgba: pyvips.Image, mask: MaskEdit) -> pyvips.Image:
    """The mask controls on the alpha (the colour is kept as it is)."""
    if not mask.active:
        return rgba
    edited = masks.edit_alpha(
        rgba[3],
        shrink_px=mask.shrink,
        expand_px=mask.expand,
        feather_px=mask.feather,
        inverted=mask.invert,
    )
    return replace_alpha(rgba, edited)


def crop_to_subject(rgba: pyvips.Image, box: Box, margin: Margin) -> tuple[pyvips.Image, Box]:
    """Crop to the subject plus margins (≤ 500 px a side, transparent beyond the image)."""
    left, top, width, height = box
    m_top, m_bottom = (min(500, _px(v, height)) for v in (margin.top, margin.bottom))
    m_left, m_right = (min(500, _px(v, width)) for v in (margin.left, margin.right))
    canvas = _alpha.embed(
        rgba.crop(left, top, width, height),
        m_left,
        m_top,
        width + m_left + m_right,
        height + m_top + m_bottom,
        [0, 0, 0, 0],
    )
    return canvas, (m_left, m_top, width, height)


def place_subject(
    rgba: pyvips.Image, box: Box, scale: float | None, position: Position | None
) -> tuple[pyvips.Image, Box]:
    """Scale the subject to `scale` of the canvas and move it to `position` (same canvas)."""
    if scale is None and position is None:
        return rgba, box
    left, top, width, height = box
    subject = rgba.crop(left, top, width, height)
    if scale is not None:
        subject = rescale(subject, min(rgba.width * scale / width, rgba.height * scale / height))
    free_w, free_h = rgba.width - subject.width, rgba.height - subject.height
    if position is None:  # scaled about where its centre was
        fx = (left + width / 2 - subject.width / 2) / max(1, free_w)
        fy = (top + height / 2 - subject.height / 2) / max(1, free_h)
        position = Position(min(1.0, max(0.0, fx)), min(1.0, max(0.0, fy)))
    x, y = round(free_w * position.x), round(free_h * position.y)
    canvas = _alpha.embed(subject, x, y, rgba.width, rgba.height, [0, 0, 0, 0])
    return canvas, (x, y, subject.width, subject.height)


def _clip(image: pyvips.Image, x: int, y: int, width: int, height: int) -> pyvips.Image:
    """`image` at (x, y) on a black `width` × `height` canvas, clipped."""
    canvas_w, canvas_h = max(width, x + image.width), max(height, y + image.height)
    return image.embed(x, y, canvas_w, canvas_h, extend="black").crop(0, 0, width, height)


def shadow_alpha(alpha: pyvips.Image, kind: ShadowKind, box: Box) -> pyvips.Image:
    """The shadow's alpha (uchar, the size of `alpha`) cast by the subject in `box`."""
    left, top, width, height = box
    if kind is ShadowKind.DROP:
        size = max(width, height, 1)
        offset = max(1, round(size * 0.02))
        blurred = alpha.gaussblur(max(1.0, size * 0.015))
        return _clip(blurred, offset, offset, alpha.width, alpha.height)
    flat_h = max(2, round(height * 0.12))
    footprint = alpha.crop(left, top, width, height).resize(1.0, vscale=flat_h / height)
    shadow = _clip(footprint, left, top + height - flat_h // 2, alpha.width, alpha.height + flat_h)
    return shadow.gaussblur(max(1.0, flat_h * 0.35)).crop(0, 0, alpha.width, alpha.height)


def add_shadow(rgba: pyvips.Image, shadow: CutoutShadow, box: Box) -> pyvips.Image:
    """`rgba` over a black shadow of its subject (the canvas does not grow)."""
    strength = shadow_alpha(rgba[3], shadow.kind, box).cast("float") * (shadow.opacity / 100 / 255)
    return composite_shadow(rgba, strength, (0, 0, rgba.width, rgba.height))


def cover(image: pyvips.Image, width: int, height: int) -> pyvips.Image:
    """Scale to cover `width` × `height` (aspect kept) and crop the centre; RGBA."""
    image = _alpha.with_alpha(image)
    if (image.width, image.height) == (width, height):
        return image
    scaled = rescale(image, max(width / image.width, height / image.height))
    left, top = max(0, (scaled.width - width) // 2), max(0, (scaled.height - height) // 2)
    w, h = min(width, scaled.width - left), min(height, scaled.height - top)
    return scaled.crop(left, top, w, h).embed(0, 0, width, height, extend="copy")


def put_on(rgba: pyvips.Image, background: Color | Backdrop) -> pyvips.Image:
    """`rgba` over a solid colour or over a backdrop image scaled to cover it."""
    if isinstance(background, Color):
        base = rgba.new_from_image([background.r, background.g, background.b, background.a])
    else:
        base = cover(background.image, rgba.width, rgba.height)
    return _alpha.composite_over(base.cast("uchar").copy(interpretation="srgb"), rgba, 0, 0)


def compose(png: bytes, spec: CutoutSpec, backdrop: Backdrop | None = None) -> Composed:
    """The encoded result of `spec` on an encoded cut-out (`CutoutError` if it cannot be)."""
    rgba = decode_cutout(png)
    if spec.roi is not None:
        rgba = restrict_to_region(rgba, spec.roi)
    rgba = edit_mask(limit_pixels(rgba, spec.max_pixels), spec.mask)
    box = subject_box(rgba[3])
    if box is None:
        raise NoSubject("no foreground in the image")
    if spec.crop:
        rgba, box = crop_to_subject(rgba, box, spec.margin)
    rgba, box = place_subject(rgba, box, spec.scale, spec.position)
    if spec.shadow is not None:
        rgba = add_shadow(rgba, spec.shadow, box)
    background = spec.background if spec.background is not None else backdrop
    if background is not None:
        rgba = put_on(rgba, background)
    e = encode_cutout(rgba, spec.format, alpha_only=spec.alpha_only)
    return Composed(e.body, e.media_type, e.extension, rgba.width, rgba.height, box)


__all__ = [
    "Backdrop",
    "Box",
    "Composed",
    "CutoutError",
    "CutoutShadow",
    "CutoutSpec",
    "Margin",
    "MaskEdit",
    "NoSubject",
    "Position",
    "Region",
    "RegionOutside",
    "ShadowKind",
    "add_shadow",
    "compose",
    "cover",
    "crop_to_subject",
    "decode_cutout",
    "edit_mask",
    "limit_pixels",
    "load_backdrop",
    "place_subject",
    "put_on",
    "restrict_to_region",
    "shadow_alpha",
]
