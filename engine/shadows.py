"""Shadows from the alpha: `e_shadow` (Cloudinary's offset shadow) and `e_dropshadow` (a soft
shadow cast on the ground by a light from a direction). Both grow the canvas so that nothing is
clipped; new areas are transparent (JPEG output flattens them on white). When an earlier resize
fixed the output size (`c_fill,w_400,h_400`: a card in a grid), `e_dropshadow` keeps that size:
the subject moves, or shrinks, to make room for its shadow inside the frame (`fit_in_frame`)."""

from __future__ import annotations

import math

import pyvips

from alphacdn.transform.compositing import DropShadow, Shadow, shadow_geometry
from alphacdn.transform.errors import InvalidTransformation
from alphacdn.transform.values import BLACK, Color

from . import alpha as _alpha
from .registry import Context, applies
from .subject import has_transparency, subject_box

#: peak opacity of a cast shadow and of the contact shadow under the subject (e_dropshadow)
CAST_OPACITY = 0.16
CONTACT_OPACITY = 0.22
#: how flat the ground looks from the camera (1 = seen from above)
FORESHORTEN = 0.35
#: longest cast shadow, in subject heights (low sun)
MAX_REACH = 2.5

Rect = tuple[int, int, int, int]  # left, top, right, bottom


def _union(*rects: Rect) -> Rect:
    return (min(r[0] for r in rects), min(r[1] for r in rects),
            max(r[2] for r in rects), max(r[3] for r in rects))  # fmt: skip


def _check_canvas(rect: Rect, ctx: Context) -> None:
    if (rect[2] - rect[0]) * (rect[3] - rect[1]) > ctx.max_pixels:
        raise InvalidTransformation("shadow canvas is over the pixel limit")


def composite_shadow(image: pyvips.Image, shadow: pyvips.Image, canvas: Rect,
                     color: Color = BLACK) -> pyvips.Image:  # fmt: skip
    """`image` over a `color` shadow whose alpha (float 0..1, covering `canvas`) is given."""
    left, top, right, bottom = canvas
    width, height = right - left, bottom - top
    a = (shadow * (255 * color.a / 255)).cast("uchar")
    layer = a.new_from_image([color.r, color.g, color.b]).cast("uchar").bandjoin(a)
    base = _alpha.with_alpha(image).embed(-left, -top, width, height, background=[0, 0, 0, 0])
    out = layer.copy(interpretation="srgb").composite2(base, "over")
    return out.cast("uchar").copy(interpretation="srgb")


@applies(Shadow)
def apply_shadow(image: pyvips.Image, step: Shadow, ctx: Context) -> pyvips.Image:
    """`e_shadow[:<0-100>],co_,x_,y_`: the blurred alpha (an opaque image casts its rectangle)."""
    dx, dy, sigma = shadow_geometry(step, image.width, image.height)
    m = math.ceil(3 * sigma)
    w, h = image.width, image.height
    canvas = _union((0, 0, w, h), (dx - m, dy - m, dx + w + m, dy + h + m))
    _check_canvas(canvas, ctx)
    a = _alpha.with_alpha(image)[3].cast("float") / 255
    a = a.embed(dx - canvas[0], dy - canvas[1], canvas[2] - canvas[0], canvas[3] - canvas[1])
    return composite_shadow(image, a.gaussblur(sigma) * (step.strength / 100), canvas, step.color)


def _contact(alpha: pyvips.Image, box: tuple[int, int, int, int], sigma: float) -> tuple[
        pyvips.Image, Rect]:  # fmt: skip
    """The subject squashed flat onto its ground line: where it touches, the shadow is darkest."""
    left, top, bw, bh = box
    flat = max(2, round(bh * 0.06))
    footprint = alpha.crop(left, top, bw, bh).resize(1.0, vscale=flat / bh)
    ground = top + bh
    m = math.ceil(3 * sigma)
    y0 = ground - footprint.height * 2 // 3
    rect = (left - m, y0 - m, left + bw + m, y0 + footprint.height + m)
    padded = footprint.embed(m, m, footprint.width + 2 * m, footprint.height + 2 * m)
    return padded.gaussblur(sigma), rect


def _cast(alpha: pyvips.Image, box: tuple[int, int, int, int], step: DropShadow,
          sigma: float) -> tuple[pyvips.Image, Rect] | None:  # fmt: skip
    """The silhouette projected on the ground away from the light, fading with height."""
    left, top, bw, bh = box
    elevation = math.radians(max(step.elevation, 1))
    reach = min(MAX_REACH, math.cos(elevation) / math.sin(elevation))
    az = math.radians(step.azimuth)
    ka, kb = -math.sin(az) * reach, math.cos(az) * reach * FORESHORTEN
    if abs(kb) < 0.02 and abs(ka) < 0.02:
        return None  # light from overhead: the contact shadow is all there is
    kb = kb if abs(kb) >= 0.02 else math.copysign(0.02, kb or -1.0)
    ground = top + bh
    ys = pyvips.Image.xyz(bw, bh)[1] + top
    fade = 1 - 0.6 * (ground - ys) / bh  # the top of the subject casts the faintest part
    silhouette = alpha.crop(left, top, bw, bh).cast("float") / 255 * fade

    def project(x: float, y: float) -> tuple[float, float]:
        return x + ka * (ground - y), ground + kb * (ground - y)

    corners = [project(x, y) for x in (left, left + bw) for y in (top, ground)]
    m = math.ceil(3 * sigma)
    rect = (
        math.floor(min(c[0] for c in corners)) - m,
        math.floor(min(c[1] for c in corners)) - m,
        math.ceil(max(c[0] for c in corners)) + m,
        math.ceil(max(c[1] for c in corners)) + m,
    )
    # x' = x - ka·y + ka·ground, y' = -kb·y + ground·(1 + kb), in the crop's own coordinates
    odx = left + ka * ground - ka * top - rect[0]
    ody = ground * (1 + kb) - kb * top - rect[1]
    width, height = rect[2] - rect[0], rect[3] - rect[1]
    cast = silhouette.affine([1, -ka, 0, -kb], odx=odx, ody=ody, oarea=[0, 0, width, height],
                             interpolate=pyvips.Interpolate.new("bilinear"))  # fmt: skip
    return cast.gaussblur(sigma), rect  # fmt: skip


def _place(layer: pyvips.Image, rect: Rect, canvas: Rect) -> pyvips.Image:
    w, h = canvas[2] - canvas[0], canvas[3] - canvas[1]
    return layer.embed(rect[0] - canvas[0], rect[1] - canvas[1], w, h)


@applies(DropShadow)
def apply_dropshadow(image: pyvips.Image, step: DropShadow, ctx: Context) -> pyvips.Image:
    """`e_dropshadow[:azimuth_;elevation_;spread_]`: a grounded, light-aware soft shadow."""
    if not has_transparency(image):
        raise InvalidTransformation(
            "Invalid transformation component: e_dropshadow (needs an image with transparency: "
            "put e_background_removal first or deliver a transparent image)"
        )
    box = subject_box(image[3])
    if box is None:
        return image
    sigma = max(0.8, max(box[2], box[3]) * (0.004 + 0.05 * step.spread / 100))
    # the shadow is soft: draw it where its blur is ~3 px, then scale it up (much faster)
    scale = min(1.0, 3.0 / sigma)
    alpha = image[3] if scale == 1.0 else image[3].resize(scale)
    box = subject_box(alpha) or box
    sigma *= scale
    contact, contact_rect = _contact(alpha.cast("float") / 255, box, max(0.8, sigma * 0.4))
    layers = [(contact * CONTACT_OPACITY, contact_rect)]
    cast = _cast(alpha, box, step, sigma)
    if cast is not None:
        layers.append((cast[0] * CAST_OPACITY, cast[1]))
    small = _union((0, 0, alpha.width, alpha.height), *(r for _, r in layers))
    placed = [_place(layer, rect, small) for layer, rect in layers]
    shadow = placed[0]
    for other in placed[1:]:
        shadow = (other > shadow).ifthenelse(other, shadow)
    rect = (round(small[0] / scale), round(small[1] / scale),
            round(small[2] / scale), round(small[3] / scale))  # fmt: skip
    if scale < 1.0:
        shadow = shadow.resize(1 / scale, kernel="linear")
    rect = (rect[0], rect[1], rect[0] + shadow.width, rect[1] + shadow.height)
    canvas = _union((0, 0, image.width, image.height), rect)
    _check_canvas(canvas, ctx)
    out = composite_shadow(image, _place(shadow, rect, canvas), canvas)
    if (
        ctx.env is not None
        and ctx.env.fixed_size
        and (out.width, out.height)
        != (
            image.width,
            image.height,
        )
    ):
        return fit_in_frame(out, (-canvas[0], -canvas[1]), image.width, image.height)
    return out


def fit_in_frame(
    image: pyvips.Image, origin: tuple[int, int], width: int, height: int
) -> pyvips.Image:
    """A grown canvas back into the `width` × `height` frame the chain fixed (a card in a grid):
    its content (subject and shadow: alpha above the subject threshold) is moved as little as
    possible from where the frame was (`origin`, in the canvas) to fit, and shrunk only when
    moving is not enough. Nothing visible is clipped."""
    box = subject_box(image[3])
    if box is None:
        return image.crop(*origin, width, height)
    left, top, bw, bh = box
    if bw > width or bh > height:
        scale = min(width / bw, height / bh)
        content = image.crop(left, top, bw, bh).resize(scale)
        w, h = min(width, content.width), min(height, content.height)
        content = content.crop(0, 0, w, h)
        # centred across, on the frame's bottom when the height was the limit (the ground)
        x = (width - w) // 2
        y = (height - h) // 2 if bh * scale < height - 1 else height - h
        return content.embed(x, y, width, height, background=[0, 0, 0, 0])
    x = min(max(origin[0], left + bw - width), left)
    y = min(max(origin[1], top + bh - height), top)
    return image.embed(-x, -y, width, height, background=[0, 0, 0, 0])


__all__ = ["apply_dropshadow", "apply_shadow", "composite_shadow", "fit_in_frame"]
