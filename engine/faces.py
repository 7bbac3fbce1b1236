"""Faces in the render: where they are in the current image, face crops, face effects.

The wiring detects faces once per source content and hands the boxes (source pixels, upright) to
`render`; the engine never runs a model. A `FaceTrack` follows them through the steps as
fractions of the current image: a resize maps them through its scale, crop and pad; a step that
moves pixels otherwise (rotation, trim, a size change) forgets them, and face steps after it fall
back as if no face had been found.

Cloudinary's fallbacks when no face is found: `g_face`/`g_faces` → north, `…:center` → center,
`…:auto` and `g_auto:face(s)` → automatic gravity; `e_pixelate_faces`/`e_blur_faces` leave the
image as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pyvips

from alphacdn.transform.faces import BlurFaces, PixelateFaces
from alphacdn.transform.values import FACE_GRAVITIES, Gravity

from .registry import Context, applies

Box = tuple[float, float, float, float]
#: a face thumbnail frames the face (or faces) with this much room: the face's longer side is
#: 1 / THUMB_ROOM of the thumbnail's matching side at `z_1.0`
THUMB_ROOM = 1.8
#: a face blurred or pixelated is grown by this share of its size on each side (hair line, chin)
EFFECT_MARGIN = 0.15


@dataclass(slots=True)
class FaceTrack:
    """Face boxes as fractions (x1, y1, x2, y2) of the current image; None: not known (no
    detection, or lost to a step that moved pixels)."""

    boxes: list[Box] | None = None
    #: what the detector found in the source, for `fl_getinfo` (fractions of the source)
    source: list[Box] = field(default_factory=list)

    @classmethod
    def of(cls, faces: Sequence[Box] | None) -> FaceTrack:
        """From boxes as fractions of the upright source; None: not detected."""
        if faces is None:
            return cls(None)
        return cls([tuple(b) for b in faces], list(faces))  # type: ignore[misc]

    def copy(self) -> FaceTrack:
        return FaceTrack(None if self.boxes is None else list(self.boxes), self.source)

    def pixels(self, width: int, height: int) -> list[Box]:
        """The boxes in pixels of a `width` × `height` image (empty when not known)."""
        return [(x1 * width, y1 * height, x2 * width, y2 * height)
                for x1, y1, x2, y2 in self.boxes or ()]  # fmt: skip

    def reframe(self, inner: tuple[int, int], left: int, top: int, outer: tuple[int, int]) -> None:
        """The image (`inner` w × h, scaled whole) became a window of `outer` size whose
        origin is at (`left`, `top`) of it (negative: padding)."""
        if self.boxes is None:
            return
        iw, ih = inner
        ow, oh = outer
        kept = []
        for x1, y1, x2, y2 in self.boxes:
            nx1, nx2 = (x1 * iw - left) / ow, (x2 * iw - left) / ow
            ny1, ny2 = (y1 * ih - top) / oh, (y2 * ih - top) / oh
            cx1, cy1 = max(nx1, 0.0), max(ny1, 0.0)
            cx2, cy2 = min(nx2, 1.0), min(ny2, 1.0)
            area = (nx2 - nx1) * (ny2 - ny1)
            # a face mostly cut off is no face of this image any more
            if cx2 > cx1 and cy2 > cy1 and (cx2 - cx1) * (cy2 - cy1) >= 0.5 * area:
                kept.append((cx1, cy1, cx2, cy2))
        self.boxes = kept

    def forget(self) -> None:
        self.boxes = None


def focus(ctx: Context, gravity: Gravity, width: int, height: int) -> Box | None:
    """The box a face gravity aims at in a `width` × `height` image (the largest face, or the
    box around all of them), or None when no face is known there. Plain `g_auto` takes all."""
    track = ctx.faces
    if track is None:
        return None
    boxes = track.pixels(width, height)
    if not boxes:
        return None
    spec = FACE_GRAVITIES.get(gravity)
    if spec is None or spec.every_face:
        return (min(b[0] for b in boxes), min(b[1] for b in boxes),
                max(b[2] for b in boxes), max(b[3] for b in boxes))  # fmt: skip
    return max(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))


def window_on(box: Box, width: int, height: int, cw: int, ch: int) -> tuple[int, int]:
    """Top-left of a `cw` × `ch` window inside the image, centred on `box` (clamped)."""
    x = round((box[0] + box[2]) / 2 - cw / 2)
    y = round((box[1] + box[3]) / 2 - ch / 2)
    return max(0, min(width - cw, x)), max(0, min(height - ch, y))


def region_around(
    box: Box, width: int, height: int, aspect: float | None, room: float, least: tuple[int, int]
) -> tuple[int, int, int, int]:
    """(left, top, w, h): the smallest window of `aspect` (w / h; None: the box's own) holding
    `box` grown `room` times about its centre, at least `least` when the image allows, at most
    the image (keeping the aspect), centred on the box and clamped inside the image."""
    bw, bh = max(1.0, (box[2] - box[0]) * room), max(1.0, (box[3] - box[1]) * room)
    if aspect is None:
        rw, rh = bw, bh
    else:
        rw = max(bw, bh * aspect)
        rh = rw / aspect
        if rw < least[0] or rh < least[1]:  # never blow a small face up past the source
            rw = max(rw, least[0], least[1] * aspect)
            rh = rw / aspect
    shrink = min(1.0, width / rw, height / rh)
    rw, rh = rw * shrink, rh * shrink
    w, h = max(1, min(width, round(rw))), max(1, min(height, round(rh)))
    left, top = window_on(box, width, height, w, h)
    return left, top, w, h


def _grown(box: Box, width: int, height: int) -> tuple[int, int, int, int]:
    """A face's box grown by EFFECT_MARGIN, in whole pixels inside the image: (x, y, w, h)."""
    mx, my = (box[2] - box[0]) * EFFECT_MARGIN, (box[3] - box[1]) * EFFECT_MARGIN
    x1, y1 = max(0, int(box[0] - mx)), max(0, int(box[1] - my))
    x2, y2 = min(width, round(box[2] + mx + 0.5)), min(height, round(box[3] + my + 0.5))
    return x1, y1, max(0, x2 - x1), max(0, y2 - y1)


def _each_face(
    ctx: Context, image: pyvips.Image, change: Callable[[pyvips.Image], pyvips.Image]
) -> pyvips.Image:
    """`change` applied to each face's (grown) region; the image as it is without faces."""
    track = ctx.faces
    if track is None:
        return image
    for box in track.pixels(image.width, image.height):
        x, y, w, h = _grown(box, image.width, image.height)
        if w < 2 or h < 2:
            continue
        image = image.insert(change(image.crop(x, y, w, h)), x, y)
    return image


def _premultiplied(
    region: pyvips.Image, fn: Callable[[pyvips.Image], pyvips.Image]
) -> pyvips.Image:
    """Apply `fn` to the region, premultiplied when it has alpha (transparent pixels lend no
    colour), and back to uchar."""
    if not region.hasalpha():
        return fn(region).cast("uchar")
    out = fn(region.premultiply()).unpremultiply()
    return out.cast("uchar").copy(interpretation=region.interpretation)


@applies(PixelateFaces)
def apply_pixelate_faces(image: pyvips.Image, step: PixelateFaces, ctx: Context) -> pyvips.Image:
    """`e_pixelate_faces[:<1-200>]`: squares of `size` pixels over each face (a bit beyond it)."""

    def pixelate(region: pyvips.Image) -> pyvips.Image:
        size = min(step.size, region.width, region.height)
        if size <= 1:
            return region
        w, h = region.width, region.height

        def blocks(r: pyvips.Image) -> pyvips.Image:
            return r.shrink(size, size).zoom(size, size).embed(0, 0, w, h, extend="copy")

        return _premultiplied(region, blocks)

    return _each_face(ctx, image, pixelate)


@applies(BlurFaces)
def apply_blur_faces(image: pyvips.Image, step: BlurFaces, ctx: Context) -> pyvips.Image:
    """`e_blur_faces[:<1-2000>]`: a gaussian over each face, sigma = strength / 100 × the
    face's longer side / 40 (the default 500 leaves nobody recognisable)."""

    def blur(region: pyvips.Image) -> pyvips.Image:
        sigma = step.strength / 100 * max(region.width, region.height) / 40
        return _premultiplied(region, lambda r: r.gaussblur(max(0.3, sigma)))

    return _each_face(ctx, image, blur)


__all__ = [
    "FaceTrack",
    "apply_blur_faces",
    "apply_pixelate_faces",
    "focus",
    "region_around",
    "window_on",
]
