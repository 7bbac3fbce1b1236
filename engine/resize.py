"""`Resize` with every crop mode, following Cloudinary's documented semantics.

A resize is planned as a `Box` from the current size alone (`transform.sizes`, pure): scale the
whole image to `scaled`, then crop to `out` where `out` is smaller (at the gravity, `x_`/`y_`
offsets, or libvips attention for `g_auto`), then pad to `out` where it is larger (at the
gravity, with `b_` or the default fill). `render` uses the same plan to shrink on load.
"""

from __future__ import annotations

import dataclasses

import pyvips

from alphacdn.transform.errors import InvalidTransformation
from alphacdn.transform.sizes import Box, plan_box, resolve
from alphacdn.transform.steps import Resize
from alphacdn.transform.values import FACE_GRAVITIES, AutoColor, Color, CropMode, Gravity

from . import alpha, faces, subject
from .registry import Context, applies

#: gravity → anchor fractions (0 = left/top, 1 = right/bottom)
ANCHORS: dict[Gravity, tuple[float, float]] = {
    Gravity.NORTH_WEST: (0.0, 0.0),
    Gravity.NORTH: (0.5, 0.0),
    Gravity.NORTH_EAST: (1.0, 0.0),
    Gravity.WEST: (0.0, 0.5),
    Gravity.CENTER: (0.5, 0.5),
    Gravity.AUTO: (0.5, 0.5),
    Gravity.AUTO_SUBJECT: (0.5, 0.5),
    Gravity.AUTO_CLASSIC: (0.5, 0.5),
    Gravity.EAST: (1.0, 0.5),
    Gravity.SOUTH_WEST: (0.0, 1.0),
    Gravity.SOUTH: (0.5, 1.0),
    Gravity.SOUTH_EAST: (1.0, 1.0),
    # a face gravity pads (c_pad, the pad of c_fill_pad) centred: faces decide crops only
    **{gravity: (0.5, 0.5) for gravity in FACE_GRAVITIES},
}


def _offset(free: int, anchor: float, shift: int | None) -> int:
    """Where a region starts along one axis: anchored, then moved inwards by `shift`."""
    start = anchor * free
    if shift:
        start += -shift if anchor == 1.0 else shift
    return max(0, min(free, round(start)))


def _note_auto(ctx: Context, image: pyvips.Image, out: pyvips.Image, how: str,
               point: tuple[int, int] | None = None, *,
               origin: tuple[int, int] | None = None) -> None:  # fmt: skip
    """`fl_getinfo`: the region a `g_auto` (or face) crop kept, in the image it cropped."""
    if ctx.notes is None:
        return
    x, y = origin if origin is not None else (-int(out.xoffset), -int(out.yoffset))
    note: dict[str, object] = {
        "x": x, "y": y, "width": out.width,
        "height": out.height, "of": {"width": image.width, "height": image.height}, "by": how,
    }  # fmt: skip
    if point is not None:
        note["attention"] = {"x": point[0], "y": point[1]}
    ctx.notes.setdefault("g_auto", []).append(note)


def _crop(
    image: pyvips.Image, step: Resize, cw: int, ch: int, ctx: Context
) -> tuple[pyvips.Image, int, int]:
    """The `cw` × `ch` region the gravity keeps, and its top-left in `image`."""
    if (cw, ch) == (image.width, image.height):
        return image, 0, 0
    gravity = step.gravity
    if (
        step.crop is CropMode.AUTO
        and gravity is Gravity.CENTER
        and step.x is None
        and step.y is None
    ):
        gravity = Gravity.AUTO  # c_auto: g_auto unless a gravity is given
    if gravity in FACE_GRAVITIES:  # a face was found (the caller fell back otherwise)
        box = faces.focus(ctx, gravity, image.width, image.height)
        assert box is not None
        x, y = faces.window_on(box, image.width, image.height, cw, ch)
        out = image.crop(x, y, cw, ch)
        _note_auto(ctx, image, out, "face", origin=(x, y))
        return out, x, y
    if gravity is Gravity.AUTO_CLASSIC:
        out = image.smartcrop(cw, ch, interesting="entropy")
        _note_auto(ctx, image, out, "entropy")
        return out, -int(out.xoffset), -int(out.yoffset)
    if gravity in (Gravity.AUTO, Gravity.AUTO_SUBJECT):
        # a cut-out: centre on its subject's box; else (plain g_auto) on the faces; else libvips
        # attention (saliency: skin, saturated colour, edges)
        if subject.has_transparency(image):
            found = subject.subject_box(image[image.bands - 1])
            if found is not None:
                x, y = subject.crop_origin(found, image.width, image.height, cw, ch)
                out = image.crop(x, y, cw, ch)
                _note_auto(ctx, image, out, "subject", origin=(x, y))
                return out, x, y
        box = faces.focus(ctx, Gravity.AUTO, image.width, image.height)
        if gravity is Gravity.AUTO and box is not None:
            if box[2] - box[0] > cw or box[3] - box[1] > ch:
                # the faces do not fit together: the largest one
                box = faces.focus(ctx, Gravity.AUTO_FACE, image.width, image.height)
            if box is not None:
                x, y = faces.window_on(box, image.width, image.height, cw, ch)
                out = image.crop(x, y, cw, ch)
                _note_auto(ctx, image, out, "faces", origin=(x, y))
                return out, x, y
        out, found_at = image.smartcrop(
            cw, ch, interesting="attention", attention_x=True, attention_y=True
        )
        _note_auto(ctx, image, out, "attention", (found_at["attention_x"], found_at["attention_y"]))
        return out, -int(out.xoffset), -int(out.yoffset)
    if step.crop is CropMode.CROP and gravity is Gravity.CENTER and (step.x or step.y):
        gravity = Gravity.NORTH_WEST  # c_crop with x/y and no gravity: top-left coordinates
    ax, ay = ANCHORS[gravity]
    left = _offset(image.width - cw, ax, None if step.x is None else int(step.x))
    top = _offset(image.height - ch, ay, None if step.y is None else int(step.y))
    return image.crop(left, top, cw, ch), left, top


def _pad(
    image: pyvips.Image, step: Resize, ctx: Context, ow: int, oh: int
) -> tuple[pyvips.Image, int, int]:
    """The image on an `ow` × `oh` canvas at the gravity, and where it went on the canvas."""
    color = step.background
    if isinstance(color, Color) and image.hasalpha():
        # as Cloudinary: a pad colour also fills the image's own transparent areas (so
        # `e_background_removal/b_lightblue,c_pad,w_1.0/e_trim` puts the subject on light blue)
        image = alpha.flatten(image, color)
    if (ow, oh) == (image.width, image.height):
        return image, 0, 0
    if isinstance(color, AutoColor):  # `b_auto`: picked from the image before padding
        color = subject.auto_color(image, color)
    image, fill = alpha.canvas_fill(image, color, ctx.transparent_ok(image))
    ax, ay = ANCHORS[step.gravity]
    left, top = round(ax * (ow - image.width)), round(ay * (oh - image.height))
    return alpha.embed(image, left, top, ow, oh, fill), left, top


@applies(Resize)
def apply_resize(image: pyvips.Image, step: Resize, ctx: Context) -> pyvips.Image:
    """`w_ h_ c_<mode> g_ x_ y_ z_ ar_ dpr_ b_`: resize/crop/pad per Cloudinary's crop modes."""
    focus = FACE_GRAVITIES.get(step.gravity)
    if focus is not None:
        face = faces.focus(ctx, step.gravity, image.width, image.height)
        if face is None:  # no face: the gravity's documented fallback
            step = dataclasses.replace(step, gravity=focus.fallback)
        elif step.crop is CropMode.THUMB or (
            step.crop is CropMode.CROP and step.width is None and step.height is None
        ):
            return _face_frame(image, step, face, ctx)
        else:  # face crops ignore x/y (Cloudinary: no positional effect with a face gravity)
            step = dataclasses.replace(step, x=None, y=None)
    step = resolve(step, image.width, image.height)
    box = plan_box(step, image.width, image.height)
    ow, oh = box.out
    if max(box.scaled[0] * box.scaled[1], ow * oh) > ctx.max_pixels:
        raise InvalidTransformation(f"requested size {ow}x{oh} is over the pixel limit")
    image = alpha.resize_to(image, *box.scaled)
    cw, ch = min(ow, image.width), min(oh, image.height)
    image, left, top = _crop(image, step, cw, ch, ctx)
    out, pad_left, pad_top = _pad(image, step, ctx, ow, oh)
    if ctx.faces is not None:
        ctx.faces.reframe(box.scaled, left, top, (cw, ch))
        ctx.faces.reframe((cw, ch), -pad_left, -pad_top, (ow, oh))
    return out


def _face_frame(image: pyvips.Image, step: Resize, box: faces.Box, ctx: Context) -> pyvips.Image:
    """`c_thumb` and size-less `c_crop` on a face: a region framed around the face (or faces),
    `z_` closer or further. The thumbnail then scales to `w_`×`h_`; the crop is the region."""
    width, height = image.width, image.height
    zoom = step.zoom or 1.0
    if step.crop is CropMode.CROP:  # the face box itself (`ar_` widens it to that shape)
        region = faces.region_around(box, width, height, step.aspect_ratio, 1.0 / zoom, (1, 1))
        size: tuple[int, int] | None = None
    else:
        r = resolve(step, width, height)
        tw, th = r.width, r.height
        assert not isinstance(tw, float) and not isinstance(th, float)
        aspect = tw / th if tw and th else None
        region = faces.region_around(
            # never blown up past the source, unless `z_` asks to come closer
            box, width, height, aspect, faces.THUMB_ROOM / zoom,
            (round((tw or 1) / zoom), round((th or 1) / zoom)),
        )  # fmt: skip
        rw, rh = region[2], region[3]
        size = (
            tw or max(1, round(rw * (th or rh) / rh)),
            th or max(1, round(rh * (tw or rw) / rw)),
        )
        if size[0] * size[1] > ctx.max_pixels:
            raise InvalidTransformation(
                f"requested size {size[0]}x{size[1]} is over the pixel limit"
            )
    left, top, rw, rh = region
    out = image.crop(left, top, rw, rh)
    _note_auto(ctx, image, out, "face", origin=(left, top))
    if ctx.faces is not None:
        ctx.faces.reframe((width, height), left, top, (rw, rh))
    return out if size is None else alpha.resize_to(out, *size)


__all__ = ["ANCHORS", "Box", "apply_resize", "plan_box", "resolve"]
