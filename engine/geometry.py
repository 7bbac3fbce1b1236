"""Rotation, flips, rounded corners, borders, opacity and standalone backgrounds."""

from __future__ import annotations

import pyvips

from alphacdn.transform.steps import (
    Background,
    Border,
    Opacity,
    Rotate,
    RotateMode,
    RoundCorners,
)

from . import alpha
from .registry import Context, applies

_RIGHT_ANGLES = {90: "d90", 180: "d180", 270: "d270"}


def _rotate_degrees(image: pyvips.Image, degrees: float, ctx: Context) -> pyvips.Image:
    turn = float(degrees) % 360
    if abs(turn) < 1e-9:
        return image
    if turn.is_integer() and int(turn) in _RIGHT_ANGLES:
        return image.rot(_RIGHT_ANGLES[int(turn)])
    image, fill = alpha.canvas_fill(image, None, ctx.transparent_ok(image))
    if not image.hasalpha():
        return image.rotate(turn, background=fill)
    # interpolate premultiplied so the transparent corners do not darken the edges
    premultiplied = image.premultiply()
    return premultiplied.rotate(turn, background=fill).unpremultiply().cast("uchar")


@applies(Rotate)
def apply_rotate(image: pyvips.Image, step: Rotate, ctx: Context) -> pyvips.Image:
    """`a_<deg>` clockwise (other angles grow the canvas), `a_hflip`, `a_vflip`, `a_auto_right`,
    `a_auto_left` (90° when the requested aspect ratio has the other orientation)."""
    if step.mode is RotateMode.DEGREES:
        return _rotate_degrees(image, step.degrees, ctx)
    if step.mode is RotateMode.HFLIP:
        return image.flip("horizontal")
    if step.mode is RotateMode.VFLIP:
        return image.flip("vertical")
    if ctx.target_aspect is None:
        return image
    landscape = image.width >= image.height
    if landscape == (ctx.target_aspect >= 1.0):
        return image
    return image.rot("d90" if step.mode is RotateMode.AUTO_RIGHT else "d270")


def _ramp(coord: pyvips.Image, size: int, radius: float) -> pyvips.Image:
    """Distance past the straight part of the edge along one axis (0 in the middle)."""
    centre = coord + 0.5
    before = (radius - centre).relational_const("more", 0).ifthenelse(radius - centre, 0)
    after_pos = centre - (size - radius)
    after = after_pos.relational_const("more", 0).ifthenelse(after_pos, 0)
    return before + after


def corner_mask(width: int, height: int, radius: int | None) -> pyvips.Image:
    """An antialiased 0..255 mask: a rounded rectangle, or an ellipse when `radius` is None."""
    xy = pyvips.Image.xyz(width, height)
    x, y = xy[0].cast("float"), xy[1].cast("float")
    if radius is None:
        rx, ry = width / 2, height / 2
        d = (((x + 0.5 - rx) / rx) ** 2 + ((y + 0.5 - ry) / ry) ** 2) ** 0.5
        coverage = (1 - d) * min(rx, ry) + 0.5
    else:
        r = float(min(radius, width // 2, height // 2))
        d = (_ramp(x, width, r) ** 2 + _ramp(y, height, r) ** 2) ** 0.5
        coverage = r - d + 0.5
    return (coverage * 255).cast("uchar")


def fit_corners(width: int, height: int, radii: tuple[int, int, int, int]) -> tuple[float, ...]:
    """Per-corner radii scaled down together, as CSS does, until adjacent corners fit a side."""
    tl, tr, br, bl = radii
    scale = min(
        1.0,
        *(side / pair for side, pair in ((width, tl + tr), (width, bl + br),
                                         (height, tl + bl), (height, tr + br)) if pair > 0),
    )  # fmt: skip
    return tuple(r * scale for r in radii)


def corners_mask(width: int, height: int, radii: tuple[int, int, int, int]) -> pyvips.Image:
    """An antialiased 0..255 mask rounding each corner by its own radius (top-left, top-right,
    bottom-right, bottom-left); a radius of 0 leaves that corner square."""
    xy = pyvips.Image.xyz(width, height)
    x, y = xy[0].cast("float") + 0.5, xy[1].cast("float") + 0.5
    coverage: pyvips.Image | None = None
    anchors = ((False, False), (True, False), (True, True), (False, True))
    for r, (right, bottom) in zip(fit_corners(width, height, radii), anchors, strict=True):
        if r <= 0:
            continue
        # distance past the corner's centre along each axis (0 outside the corner's square)
        dx = (x - (width - r)) if right else (r - x)
        dy = (y - (height - r)) if bottom else (r - y)
        dx = (dx > 0).ifthenelse(dx, 0)
        dy = (dy > 0).ifthenelse(dy, 0)
        cov = r - (dx**2 + dy**2) ** 0.5 + 0.5
        coverage = cov if coverage is None else (cov < coverage).ifthenelse(cov, coverage)
    if coverage is None:
        return (pyvips.Image.black(width, height) + 255).cast("uchar")
    return (coverage * 255).cast("uchar")


@applies(RoundCorners)
def apply_round_corners(image: pyvips.Image, step: RoundCorners, ctx: Context) -> pyvips.Image:
    """`r_<px>` rounds the corners, `r_max` cuts an ellipse, `r_a:b:c:d` rounds each corner by
    its own radius; outside is transparent or white."""
    if step.corners is not None:
        mask = corners_mask(image.width, image.height, step.corners)
    else:
        mask = corner_mask(image.width, image.height, step.radius)
    image = alpha.with_alpha(image)
    a = (image[3].cast("float") * mask / 255).cast("uchar")
    out = image[0:3].bandjoin(a).copy(interpretation="srgb")
    return out if ctx.transparent_ok(out) else alpha.flatten(out)


@applies(Border)
def apply_border(image: pyvips.Image, step: Border, ctx: Context) -> pyvips.Image:
    """`bo_<w>px_solid_<color>`: a solid frame around the image (the canvas grows by 2w)."""
    image, fill = alpha.canvas_fill(image, step.color, transparent_ok=True)
    w = step.width
    return alpha.embed(image, w, w, image.width + 2 * w, image.height + 2 * w, fill)


@applies(Opacity)
def apply_opacity(image: pyvips.Image, step: Opacity, ctx: Context) -> pyvips.Image:
    """`o_<0-100>`: multiply the alpha by percent / 100."""
    if step.percent == 100:
        return image
    image = alpha.with_alpha(image)
    a = (image[3] * (step.percent / 100)).cast("uchar")
    return image[0:3].bandjoin(a).copy(interpretation="srgb")


@applies(Background)
def apply_background(image: pyvips.Image, step: Background, ctx: Context) -> pyvips.Image:
    """`b_<color>` on its own: fill transparent areas with the colour."""
    return alpha.flatten(image, step.color)


__all__ = [
    "apply_background",
    "apply_border",
    "apply_opacity",
    "apply_rotate",
    "apply_round_corners",
    "corner_mask",
    "corners_mask",
    "fit_corners",
]
