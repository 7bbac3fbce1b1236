"""Production cut-outs: model alpha → full-resolution, edge-aware, decontaminated RGBA.

Steps (timed separately in `Cutout.timings`):

1. inference: the model at its input size (`Matter.predict`);
2. upsample: a fast guided filter (He & Sun 2015) guided by the source RGB — the linear
   coefficients are solved on the model grid and applied at full resolution, so the matte's
   edges follow the image's edges instead of a bilinear blur;
3. settle: regions far from the subject's edge where the model answered "maybe" become 0 or 1,
   decided by the model's α and a colour model of the image's sure regions (see `settle.py`);
4. fine_edges (optional): closed-form matting (Levin et al., via pymatting) on a trimap made from
   the matte's uncertain band, for hair and fur (see `fine_edges.py`);
5. decontaminate: foreground colour estimation by blur fusion (Forte & Pitié 2021), so no
   background colour bleeds into semi-transparent pixels.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt
import pyvips
from scipy.ndimage import uniform_filter

from .confidence import matte_confidence
from .fine_edges import refine_band
from .settle import settle

F32 = npt.NDArray[np.float32]
U8 = npt.NDArray[np.uint8]

#: guided filter radius on the model grid, and its regulariser (guide in 0..1): tuned on the
#: matting set (bench/matting_quality.py); a wider window with a small eps follows hair best
GUIDE_RADIUS = 8
GUIDE_EPS = 1e-4
#: alpha below / above these becomes exactly 0 / 1 (the model's haze, not transparency)
SNAP_LOW, SNAP_HIGH = 0.02, 0.98
#: box blurs up to this size run in libvips (threaded), wider ones in scipy (cost independent
#: of the size)
VIPS_BOX_MAX = 9
#: on images of at least COARSE_PIXELS, decontamination boxes wider than twice COARSE_BOX are
#: taken on a grid where they are ~COARSE_BOX wide (bench: 8 MP 3.0–3.9 s → 2.3–2.7 s; at
#: 1.7 MP the full-resolution pass is 0.1 s faster)
COARSE_BOX = 20
COARSE_PIXELS = 4_000_000


class Predictor(Protocol):
    def predict(self, name: str, rgb: U8) -> F32: ...


class Router(Protocol):
    """Chooses the pipeline by content (`person.PersonRouter`): given the picture and the
    salient alpha at full size, the alpha to use instead (None: keep the salient one) and the
    route's report."""

    def __call__(self, rgb: U8, salient: F32) -> tuple[F32 | None, str]: ...


@dataclass(frozen=True)
class Cutout:
    rgba: U8  # H×W×4 uint8: decontaminated foreground colour + alpha, at full source resolution
    confidence: float  # in [0, 1]
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step
    #: the route's report (`person.RouteDecision.report`); "" when no router ran
    route: str = ""


def make_cutout(
    matter: Predictor,
    model: str,
    rgb: U8,
    *,
    fine_edges: bool,
    settled: bool = True,
    router: Router | None = None,
    mirrored: bool | None = None,
) -> Cutout:
    """The cut-out of an oriented sRGB H×W×3 image at its own resolution (`settled=False`
    skips the settle step: the benchmark's comparison). A `router` may replace the salient
    alpha (after settle, before fine_edges and decontamination) with its own: a person's.
    `mirrored` (default: with `fine_edges`) averages the model's alpha with its alpha of the
    mirrored picture, mirrored back: a second inference (issue 16 item 4, bench/isnet_tta.py)."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    low = matter.predict(model, rgb)
    if fine_edges if mirrored is None else mirrored:
        mirror = matter.predict(model, np.ascontiguousarray(rgb[:, ::-1]))
        low = np.asarray((low + mirror[:, ::-1]) / 2, dtype=np.float32)
    t1 = time.perf_counter()
    timings["inference"] = t1 - t0
    image = rgb.astype(np.float32) / 255.0
    alpha = guided_upsample(low, image)
    t2 = time.perf_counter()
    timings["upsample"] = t2 - t1
    if settled:
        alpha = settle(alpha, image)
        timings["settle"] = time.perf_counter() - t2
        t2 = time.perf_counter()
    route = ""
    confidence = matte_confidence(low)
    if router is not None:
        routed, route = router(rgb, alpha)
        timings["route"] = time.perf_counter() - t2
        t2 = time.perf_counter()
        if routed is not None:
            alpha = routed
            lh, lw = low.shape[:2]
            confidence = matte_confidence(resize_float(routed, lw, lh))
    if fine_edges:
        alpha = refine_band(image, alpha)
        timings["fine_edges"] = time.perf_counter() - t2
    t3 = time.perf_counter()
    fg = estimate_foreground(image, alpha)
    rgba = np.empty((*alpha.shape, 4), dtype=np.uint8)
    rgba[..., :3] = np.rint(fg * 255.0)
    rgba[..., 3] = np.rint(alpha * 255.0)
    timings["decontaminate"] = time.perf_counter() - t3
    return Cutout(rgba=rgba, confidence=confidence, timings=timings, route=route)


def resize_float(x: F32, width: int, height: int, kernel: str = "linear") -> F32:
    """Resize an H×W or H×W×C float32 array to exactly width×height (aspect ignored)."""
    h, w = x.shape[:2]
    bands = 1 if x.ndim == 2 else x.shape[2]
    if (w, h) == (width, height):
        return x
    im = pyvips.Image.new_from_memory(
        np.ascontiguousarray(x, np.float32).data, w, h, bands, "float"
    )
    im = im.resize(width / w, vscale=height / h, kernel=kernel)
    if (im.width, im.height) != (width, height):
        im = im.embed(0, 0, width, height, extend="copy")
    out = np.ndarray(buffer=im.write_to_memory(), dtype=np.float32, shape=(height, width, bands))
    return out[..., 0] if x.ndim == 2 else out


def guided_upsample(
    low: F32, image: F32, *, radius: int = GUIDE_RADIUS, eps: float = GUIDE_EPS
) -> F32:
    """Alpha at the image's resolution (H×W×3, 0..1) from a low-res alpha: fast guided filter."""
    h, w = image.shape[:2]
    lh, lw = min(low.shape[0], h), min(low.shape[1], w)  # the grid never exceeds the image
    full = image
    guide = resize_float(full, lw, lh)
    low = resize_float(low.astype(np.float32), lw, lh)
    a, b = _guided_coefficients(guide, low, radius, eps)
    coeffs = resize_float(np.concatenate([a, b[..., None]], axis=2), w, h)
    alpha = np.einsum("hwc,hwc->hw", coeffs[..., :3], full) + coeffs[..., 3]
    return snap(alpha)


def snap(alpha: F32) -> F32:
    """Clip to 0..1, with the near-0 / near-1 haze set exactly to 0 / 1."""
    out = np.clip((alpha - SNAP_LOW) / (SNAP_HIGH - SNAP_LOW), 0.0, 1.0)
    return np.asarray(out, dtype=np.float32)


def _guided_coefficients(guide: F32, p: F32, r: int, eps: float) -> tuple[F32, F32]:
    """Box-averaged a (H×W×3) and b (H×W) of the colour guided filter q = a·I + b."""
    size = 2 * r + 1

    def box(x: F32) -> F32:
        return box_blur(x, size)

    mean_i = np.stack([box(guide[..., c]) for c in range(3)], axis=2)
    mean_p = box(p)
    cov_ip = np.stack([box(guide[..., c] * p) for c in range(3)], axis=2)
    cov_ip -= mean_i * mean_p[..., None]
    s = {
        (i, j): box(guide[..., i] * guide[..., j])
        - mean_i[..., i] * mean_i[..., j]
        + (eps if i == j else 0.0)
        for i in range(3)
        for j in range(i, 3)
    }
    # a = Σ⁻¹ cov_ip, with the symmetric 3×3 inverse written out (batched LAPACK is ~50× slower)
    c00 = s[1, 1] * s[2, 2] - s[1, 2] ** 2
    c01 = s[0, 2] * s[1, 2] - s[0, 1] * s[2, 2]
    c02 = s[0, 1] * s[1, 2] - s[0, 2] * s[1, 1]
    c11 = s[0, 0] * s[2, 2] - s[0, 2] ** 2
    c12 = s[0, 1] * s[0, 2] - s[0, 0] * s[1, 2]
    c22 = s[0, 0] * s[1, 1] - s[0, 1] ** 2
    det = s[0, 0] * c00 + s[0, 1] * c01 + s[0, 2] * c02
    u, v, w = cov_ip[..., 0], cov_ip[..., 1], cov_ip[..., 2]
    num = np.stack(
        [c00 * u + c01 * v + c02 * w, c01 * u + c11 * v + c12 * w, c02 * u + c12 * v + c22 * w],
        axis=2,
    )
    a: F32 = np.asarray(num / det[..., None], dtype=np.float32)
    b: F32 = np.asarray(mean_p - np.einsum("hwc,hwc->hw", a, mean_i), dtype=np.float32)
    mean_a = np.stack([box(a[..., c]) for c in range(3)], axis=2)
    return mean_a, box(b)


def estimate_foreground(image: F32, alpha: F32, sizes: tuple[int, ...] = (91, 7)) -> F32:
    """Foreground colours F (H×W×3, 0..1) with I ≈ αF + (1−α)B: blur fusion, one pass per box
    size (Forte & Pitié 2021: F̂, B̂ = α- and (1−α)-weighted box means of the previous F and
    B; F = F̂ + α(I − αF̂ − (1−α)B̂))."""
    a = alpha[..., None]
    fg, bg = image, image
    for size in sizes:
        f_hat, b_hat = _weighted_means(fg, bg, a, size)
        # F = F̂ + α(I − αF̂ − (1−α)B̂), in place: each 8 MP × 3 temporary costs ~0.08 s
        t = a * f_hat
        np.subtract(image, t, out=t)
        t -= (1.0 - a) * b_hat
        t *= a
        t += f_hat
        fg = np.clip(t, 0.0, 1.0, out=t)
        bg = b_hat
    return np.asarray(fg, dtype=np.float32)


def _weighted_means(fg: F32, bg: F32, a: F32, size: int) -> tuple[F32, F32]:
    """F̂ = box(F·α) / box(α) and B̂ = box(B·(1−α)) / box(1−α), box `size` px wide. On a large
    image a wide box is taken on a grid shrunk by size // COARSE_BOX (its means are smooth at
    that scale) and the two means are brought back bilinearly (the whole estimate at 8 MP: 3.0–3.9 s
    → 2.3–2.7 s); below COARSE_PIXELS the full-resolution pass is as fast."""
    h, w = a.shape[:2]
    shrink = size // COARSE_BOX if h * w >= COARSE_PIXELS else 1
    if shrink >= 2:
        lw, lh = max(1, round(w / shrink)), max(1, round(h / shrink))
        stack = np.concatenate([fg * a, bg * (1.0 - a), a], axis=2)
        low = box_blur(resize_float(stack, lw, lh), max(1, round(size / shrink)))
        weight = low[..., 6:7]
        means = np.concatenate(
            [low[..., :3] / (weight + 1e-5), low[..., 3:6] / ((1.0 - weight) + 1e-5)], axis=2
        )
        full = resize_float(np.ascontiguousarray(means, dtype=np.float32), w, h)
        return full[..., :3], full[..., 3:]
    blurred_a = box_blur(a, size)
    f_hat = box_blur(fg * a, size) / (blurred_a + 1e-5)
    b_hat = box_blur(bg * (1.0 - a), size) / ((1.0 - blurred_a) + 1e-5)
    return f_hat, b_hat


def box_blur(x: F32, size: int) -> F32:
    """Mean over a size×size box (borders mirrored, the edge pixel repeated) of an H×W or H×W×C
    float32 array. Small boxes go through libvips `convsep` (threaded): for size 7 it took 0.26 s
    where scipy's uniform_filter took 0.70 s on 8 MP × 3 (even at 1.7 MP), with the same result
    to float rounding. Its cost grows with the size, uniform_filter's does not, so wider boxes
    stay with scipy."""
    if size > VIPS_BOX_MAX:
        spatial = (size, size) + ((1,) if x.ndim == 3 else ())
        return np.asarray(uniform_filter(x, size=spatial, mode="reflect"), dtype=np.float32)
    if size <= 1:
        return np.asarray(x, dtype=np.float32)
    h, w = x.shape[:2]
    bands = 1 if x.ndim == 2 else x.shape[2]
    im = pyvips.Image.new_from_memory(
        np.ascontiguousarray(x, dtype=np.float32).data, w, h, bands, "float"
    )
    pad = size // 2  # convsep centres the mask on each output pixel, as uniform_filter does
    mask = pyvips.Image.new_from_array([[1.0] * size], scale=size)
    im = im.embed(pad, pad, w + 2 * pad, h + 2 * pad, extend="mirror")
    out = im.convsep(mask, precision="float").crop(pad, pad, w, h)
    return np.ndarray(buffer=out.write_to_memory(), dtype=np.float32, shape=x.shape)
