"""`e_vectorize`: the image traced into filled shapes by `vtracer` (grammar and options in
`transform.vectorize`).

The image is scaled to the trace size (`detail`, at most `MAX_TRACE_SIDE`), reduced to
`colors` colours (k-means on a sample of its pixels), traced, and the SVG is sized to the image
it replaces. The SVG text is what `f_svg` delivers (kept in the chain's `Env`); the step's pixels
are the SVG rasterised at the image's size, so later steps and raster formats see the effect.
Output size is bounded: a trace over `MAX_SVG_BYTES` is traced again, simpler (fewer colours,
larger specks dropped), and refused with a 400 if it still is.
"""

from __future__ import annotations

import re

import numpy as np
import pyvips
import vtracer

from alphacdn.transform.errors import InvalidTransformation
from alphacdn.transform.vectorize import MAX_TRACE_SIDE, Vectorize, trace_side

from . import alpha as _alpha
from .registry import Context, applies

#: the largest SVG delivered
MAX_SVG_BYTES = 2_000_000
#: pixels sampled to fit the palette
_SAMPLE = 20_000
_KMEANS_ROUNDS = 8
#: gaussian sigma (pixels of the traced size) applied before the palette
_DENOISE = 1.0
_SVG_OPEN = re.compile(r"<svg\b[^>]*>")


def palette(pixels: np.ndarray, colors: int, seed: int = 0) -> np.ndarray:
    """`pixels` (n × 3, float) reduced to `colors` colours by k-means: each pixel's centre."""
    rng = np.random.default_rng(seed)
    sample = pixels[rng.choice(len(pixels), min(len(pixels), _SAMPLE), replace=False)]
    # start from spread-out quantiles of luma, so the result does not depend on luck
    order = np.argsort(sample @ np.array([0.299, 0.587, 0.114]))
    centres = sample[order[np.linspace(0, len(order) - 1, colors).astype(int)]].copy()
    for _ in range(_KMEANS_ROUNDS):
        nearest = ((sample[:, None, :] - centres[None]) ** 2).sum(-1).argmin(1)
        for k in range(colors):
            members = sample[nearest == k]
            if len(members):
                centres[k] = members.mean(0)
    out = np.empty(len(pixels), dtype=np.int64)
    for start in range(0, len(pixels), 65536):  # bounded memory: n × k distances per block
        block = pixels[start : start + 65536]
        out[start : start + 65536] = ((block[:, None, :] - centres[None]) ** 2).sum(-1).argmin(1)
    quantised: np.ndarray = centres[out]
    return quantised


def trace(image: pyvips.Image, step: Vectorize, colors: int, speckle: float) -> str:
    """The SVG of an sRGB(A) image as the step asks, at the image's own size."""
    side = max(image.width, image.height)
    traced = trace_side(step, side)
    small = image.resize(traced / side) if side > traced else image
    # a light denoise first: sensor noise would otherwise become thousands of specks
    rgba = np.asarray(_alpha.with_alpha(small).gaussblur(_DENOISE).numpy(), dtype=np.float64)
    h, w = rgba.shape[:2]
    flat = rgba.reshape(-1, 4)
    rgb = palette(flat[:, :3], colors).round().clip(0, 255).astype(np.uint8)
    a = np.where(flat[:, 3] >= 128, 255, 0).astype(np.uint8)
    pixels = np.concatenate([rgb, a[:, None]], axis=1)
    data = pyvips.Image.new_from_memory(pixels.tobytes(), w, h, 4, "uchar").pngsave_buffer(
        compression=1
    )
    # despeckle is a fraction of the traced image or pixels of it; vtracer wants an area side
    speck = speckle * max(w, h) if speckle <= 1.0 else speckle
    corners = step.corners
    svg: str = vtracer.convert_raw_image_to_svg(
        bytes(data),
        img_format="png",
        colormode="color",
        hierarchical="stacked",
        mode="polygon" if corners >= 100 else "spline",
        filter_speckle=max(0, min(128, round(speck))),
        color_precision=8,
        layer_difference=1,
        corner_threshold=round(180 * (1 - corners / 100)),
        length_threshold=4.0,
        splice_threshold=45,
        path_precision=max(1, min(8, round(1 + step.paths / 100 * 2))),
    )
    opening = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{image.width}" '
        f'height="{image.height}" viewBox="0 0 {w} {h}" preserveAspectRatio="none">'
    )
    body = svg[svg.index("<svg") :]
    return _SVG_OPEN.sub(opening, body, count=1)


@applies(Vectorize)
def apply_vectorize(image: pyvips.Image, step: Vectorize, ctx: Context) -> pyvips.Image:
    """`e_vectorize[:…]`: trace; keep the SVG for `f_svg`; the pixels become the shapes."""
    colors, speckle = step.colors, step.despeckle
    for _ in range(3):
        svg = trace(image, step, colors, speckle)
        if len(svg) <= MAX_SVG_BYTES:
            break
        colors, speckle = max(2, colors // 2), max(4.0, speckle * 4 if speckle > 1 else 8.0)
    else:
        raise InvalidTransformation(
            f"Invalid transformation component: e_vectorize makes an SVG over "
            f"{MAX_SVG_BYTES // 1_000_000} MB; use fewer colors, less detail or more despeckle"
        )
    if ctx.env is not None:
        ctx.env.svg = svg
    raster = pyvips.Image.svgload_buffer(svg.encode(), unlimited=False)
    raster = raster.resize(image.width / raster.width, vscale=image.height / raster.height)
    if raster.width != image.width or raster.height != image.height:
        raster = raster.embed(0, 0, image.width, image.height, extend="copy")
    out = raster.cast("uchar").copy(interpretation="srgb")
    return out if image.hasalpha() else _alpha.flatten(out)


__all__ = ["MAX_SVG_BYTES", "MAX_TRACE_SIDE", "apply_vectorize", "palette", "trace"]
