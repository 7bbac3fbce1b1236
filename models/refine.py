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


class Predictor(Protocol):
    def predict(self, name: str, rgb: U8) -> F32: ...


@dataclass(frozen=True)
class Cutout:
    rgba: U8  # H×W×4 uint8: decontaminated foreground colour + alpha, at full source resolution
    confidence: float  # in [0, 1]
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step


def make_cutout(
    matter: Predictor, model: str, rgb: U8, *, fine_edges: bool, settled: bool = True
) -> Cutout:
    """The cut-out of an oriented sRGB H×W×3 image at its own resolution (`settled=False`
    skips the settle step: the benchmark's comparison)."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    low = matter.predict(model, rgb)
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
    if fine_edges:
        alpha = refine_band(image, alpha)
        timings["fine_edges"] = time.perf_counter() - t2
    t3 = time.perf_counter()
    fg = estimate_foreground(image, alpha)
    rgba = np.empty((*alpha.shape, 4), dtype=np.uint8)
    rgba[..., :3] = np.rint(fg * 255.0)
    rgba[..., 3] = np.rint(alpha * 255.0)
    timings["decontaminate"] = time.perf_counter() - t3
    return Cutout(rgba=rgba, confidence=matte_confidence(low), timings=timings)


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
        return np.asarray(uniform_filter(x, size=size, mode="reflect"), dtype=np.float32)

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


def estimate_foreground(image: F32, alpha: F32, radii: tuple[int, ...] = (91, 7)) -> F32:
    """Foreground colours F (H×W×3, 0..1) with I ≈ αF + (1−α)B: blur fusion, two passes."""
    a = alpha[..., None]
    fg, bg = image, image
    for r in radii:
        blurred_a = _box3(a, r)
        f_hat = _box3(fg * a, r) / (blurred_a + 1e-5)
        b_hat = _box3(bg * (1.0 - a), r) / ((1.0 - blurred_a) + 1e-5)
        fg = f_hat + a * (image - a * f_hat - (1.0 - a) * b_hat)
        fg = np.clip(fg, 0.0, 1.0)
        bg = b_hat
    return fg.astype(np.float32)


def _box3(x: F32, size: int) -> F32:
    """Box blur over the two spatial axes of an H×W×C array."""
    return np.asarray(uniform_filter(x, size=(size, size, 1), mode="reflect"), dtype=np.float32)
