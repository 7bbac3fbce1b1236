"""Settle the matte away from the subject's edge: the model's grey haze becomes 0 or 1.

A salient-object model often answers "maybe" (α ≈ 0.2–0.8) over whole regions: background it
half-keeps, or a subject's body it half-drops. Soft alpha is real only in the transition between
the subject and the background (hair, fur, a blurred edge), i.e. near both a confidently
foreground and a confidently background pixel. Elsewhere the pixel is one or the other, and we
decide which from two cues learnt on the image itself:

* the model's own α, and
* a colour model (GrabCut-style, without the graph cut): colour histograms of the confident
  foreground and background, giving p(foreground | colour), smoothed a little in space.

Their weighted mean (0.7 model, 0.3 colour) is thresholded at ½ with a ramp, and the decision is
blended in only where the pixel is farther than `TRANSITION` (a fraction of the image diagonal)
from the nearest confident foreground or background, with a soft ramp so no seam appears. It
all runs on a ≤ 512 px grid (a few tens of ms at 2 MP), and the change is brought to full
resolution smoothly, so the edge band keeps the guided filter's detail. An image whose matte
has no confident foreground (the model found nothing) or no confident background is returned
as it is.

Measured on the matting set (bench/matting_quality.py, README_models.md): on opaque whole images
it removes most of the model's haze and fills half-dropped bodies; it cannot make a transparent
object transparent, and it is neutral on the close-up crops where the model found nothing. The
constants were chosen on that set among 24 settings as the one that regressed no image much
(more aggressive ones cut SAD further but hurt hair); see README_models.md for the spread.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import ndimage

F32 = npt.NDArray[np.float32]

#: the working grid's long side
GRID = 512
#: confident foreground / background on the grid
SURE_FG, SURE_BG = 0.95, 0.05
#: soft alpha is kept within this fraction of the diagonal of both a sure fg and a sure bg pixel,
#: and the decision is fully applied beyond TRANSITION + RAMP
TRANSITION, RAMP = 0.08, 0.02
#: colour histogram bins per channel, and the spatial smoothing of the colour posterior (grid px)
BINS, SMOOTH = 16, 7
#: weight of the model's α against the colour posterior, and the decision ramp's width
MODEL_WEIGHT, DECISION_WIDTH = 0.7, 0.3
#: below this share of sure foreground the model found nothing to settle around
MIN_CORE = 0.002


def settle(alpha: F32, image: F32) -> F32:
    """`alpha` (H×W, 0..1) with its regions far from the subject's edge settled to 0 or 1."""
    from .refine import resize_float

    h, w = alpha.shape
    s = min(1.0, GRID / max(h, w))
    gh, gw = max(1, round(h * s)), max(1, round(w * s))
    small = resize_float(alpha, gw, gh)
    core, back = small >= SURE_FG, small <= SURE_BG
    if core.mean() < MIN_CORE or not back.any():
        return alpha
    diag = float(np.hypot(gh, gw))
    far = (
        np.maximum(ndimage.distance_transform_edt(~core), ndimage.distance_transform_edt(~back))
        / diag
    )
    weight = np.clip((far - TRANSITION) / RAMP, 0.0, 1.0)
    posterior = _colour_posterior(resize_float(image, gw, gh), core, back)
    score = MODEL_WEIGHT * small + (1.0 - MODEL_WEIGHT) * posterior
    decided = np.clip((score - 0.5) / DECISION_WIDTH + 0.5, 0.0, 1.0)
    delta = (weight * (decided - small)).astype(np.float32)
    out = alpha + resize_float(delta, w, h)
    return np.asarray(np.clip(out, 0.0, 1.0), dtype=np.float32)


def _colour_posterior(image: F32, fg: npt.NDArray[np.bool_], bg: npt.NDArray[np.bool_]) -> F32:
    """p(foreground | colour) per pixel from smoothed RGB histograms of the sure regions."""
    q = np.clip((image * BINS).astype(np.int64), 0, BINS - 1)
    index = (q[..., 0] * BINS + q[..., 1]) * BINS + q[..., 2]
    cube = (BINS, BINS, BINS)

    def density(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
        counts = np.bincount(index[mask], minlength=BINS**3).astype(np.float64)
        smooth = ndimage.uniform_filter(counts.reshape(cube), 3).ravel()
        return np.asarray(smooth / max(float(smooth.sum()), 1.0) + 1e-6)

    pf, pb = density(fg), density(bg)
    posterior = (pf / (pf + pb))[index].astype(np.float32)
    return np.asarray(ndimage.uniform_filter(posterior, SMOOTH), dtype=np.float32)


__all__ = ["settle"]
