"""`Resize` with every crop mode, following Cloudinary's documented semantics.

A resize is planned as a `Box` from the current size alone (`transform.sizes`, pure): scale the
whole image to `scaled`, then crop to `out` where `out` is smaller (at the gravity, `x_`/`y_`
offsets, or libvips attention for `g_auto`), then pad to `out` where it is larger (at the
gravity, with `b_` or the default fill). `render` uses the same plan to shrink on load.
"""

from __future__ import annotations

import pyvips

from alphacdn.transform.errors import InvalidTransformation
from alphacdn.transform.sizes import Box, plan_box, resolve
from alphacdn.transform.steps import Resize
from alphacdn.transform.values import AutoColor, Color, CropMode, Gravity

from . import alpha, subject
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
}


def _offset(free: int, anchor: float, shift: int | None) -> int:
    """Where a region starts along one axis: anchored, then moved inwards by `shift`."""
    start = anchor * free
    if shift:
        start += -shift if anchor == 1.0 else shift
    return max(0, min(free, round(start)))


def _note_auto(ctx: Context, image: pyvips.Image, out: pyvips.Image, how: str,
               point: tuple[int, int] | None = None) -> None:  # fmt: skip
    """`fl_getinfo`: the region a `g_auto` crop kept, in the image it cropped."""
    if ctx.notes is None:
        return
    note: dict[str, object] = {
        "x": -int(out.xoffset), "y": -int(out.yoffset), "width": out.width,
        "height": out.height, "of": {"width": image.width, "height": image.height}, "by": how,
    }  # fmt: skip
    if point is not None:
        note["attention"] = {"x": point[0], "y": point[1]}
    ctx.notes.setdefault("g_auto", []).append(note)


def _crop(image: pyvips.Image, step: Resize, cw: int, ch: int, ctx: Context) -> pyvips.Image:
    if (cw, ch) == (image.width, image.height):
        return image
    gravity = step.gravity
    if (
        step.crop is CropMode.AUTO
        and gravity is Gravity.CENTER
        and step.x is None
        and step.y is None
    ):
        gravity = Gravity.AUTO  # c_auto: g_auto unless a gravity is given
    if gravity is Gravity.AUTO_CLASSIC:
        return image.smartcrop(cw, ch, interesting="entropy")
    if gravity in (Gravity.AUTO, Gravity.AUTO_SUBJECT):
        # a cut-out: centre on its subject's box; else libvips attention (saliency: skin,
        # saturated colour, edges)
        on_subject = subject.subject_crop(image, cw, ch)
        if on_subject is not None:
            _note_auto(ctx, image, on_subject, "subject")
            return on_subject
        out, found = image.smartcrop(
            cw, ch, interesting="attention", attention_x=True, attention_y=True
        )
        _note_auto(ctx, image, out, "attention", (found["attention_x"], found["attention_y"]))
        return out
    if step.crop is CropMode.CROP and gravity is Gravity.CENTER and (step.x or step.y):
        gravity = Gravity.NORTH_WEST  # c_crop with x/y and no gravity: top-left coordinates
    ax, ay = ANCHORS[gravity]
    left = _offset(image.width - cw, ax, None if step.x is None else int(step.x))
    top = _offset(image.height - ch, ay, None if step.y is None else int(step.y))
    return image.crop(left, top, cw, ch)


def _pad(image: pyvips.Image, step: Resize, ctx: Context, ow: int, oh: int) -> pyvips.Image:
    color = step.background
    if isinstance(color, Color) and image.hasalpha():
        # as Cloudinary: a pad colour also fills the image's own transparent areas (so
        # `e_background_removal/b_lightblue,c_pad,w_1.0/e_trim` puts the subject on light blue)
        image = alpha.flatten(image, color)
    if (ow, oh) == (image.width, image.height):
        return image
    if isinstance(color, AutoColor):  # `b_auto`: picked from the image before padding
        color = subject.auto_color(image, color)
    image, fill = alpha.canvas_fill(image, color, ctx.transparent_ok(image))
    ax, ay = ANCHORS[step.gravity]
    left, top = round(ax * (ow - image.width)), round(ay * (oh - image.height))
    return alpha.embed(image, left, top, ow, oh, fill)


@applies(Resize)
def apply_resize(image: pyvips.Image, step: Resize, ctx: Context) -> pyvips.Image:
    """`w_ h_ c_<mode> g_ x_ y_ z_ ar_ dpr_ b_`: resize/crop/pad per Cloudinary's crop modes."""
    step = resolve(step, image.width, image.height)
    box = plan_box(step, image.width, image.height)
    ow, oh = box.out
    if max(box.scaled[0] * box.scaled[1], ow * oh) > ctx.max_pixels:
        raise InvalidTransformation(f"requested size {ow}x{oh} is over the pixel limit")
    image = alpha.resize_to(image, *box.scaled)
    image = _crop(image, step, min(ow, image.width), min(oh, image.height), ctx)
    return _pad(image, step, ctx, ow, oh)


__all__ = ["ANCHORS", "Box", "apply_resize", "plan_box", "resolve"]
