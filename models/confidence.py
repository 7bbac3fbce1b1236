"""A confidence score in [0, 1] for a predicted matte, from the matte alone (no ground truth)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import ndimage

#: alpha below / above these counts as a decisive background / foreground pixel
LOW, HIGH = 0.05, 0.95


def matte_confidence(alpha: npt.NDArray[np.floating]) -> float:
    """Confidence in [0, 1] that `alpha` (H×W, 0..1, model resolution) is a usable cut-out.

    The product of four factors, each in [0, 1]:

    - decisive = share of pixels with α < 0.05 or α > 0.95, mapped linearly so that 60 % → 0 and
      100 % → 1 (a model that is unsure about much of the image leaves a wide grey area);
    - sharpness = exp(−max(0, w − 2) / 30), where w = (uncertain pixels) / (length of the
      binarised mask's boundary) is the mean width of the soft band in pixels: a crisp or
      hair-thin band is 1–3 px wide, a blurry guess is tens of pixels;
    - area = min(1, a / 0.01) · min(1, (0.99 − a) / 0.04), a = foreground share: an empty
      matte or one that keeps (almost) everything has found no subject;
    - compact = share of the foreground (α > 0.5) in the three largest connected parts: salt-
      and-pepper debris means the model latched onto texture, not an object.

    `confidence = decisive · sharpness · area · compact`. Validated on the matting set by the
    correlation with SAD / MSE (bench/matting_quality.py, figures in bench/README_models.md).
    """
    a = np.asarray(alpha, dtype=np.float32)
    n = a.size
    if n == 0:
        return 0.0
    uncertain = (a >= LOW) & (a <= HIGH)
    decisive = float(np.clip((1.0 - uncertain.mean() - 0.6) / 0.4, 0.0, 1.0))

    fg = a > 0.5
    area_share = float(fg.mean())
    area = min(1.0, area_share / 0.01) * float(np.clip((0.99 - area_share) / 0.04, 0.0, 1.0))
    if area == 0.0:
        return 0.0

    boundary = int(np.count_nonzero(fg ^ ndimage.binary_erosion(fg)))
    width = float(uncertain.sum()) / max(boundary, 1)
    sharpness = float(np.exp(-max(0.0, width - 2.0) / 30.0))

    labels, count = ndimage.label(fg)
    sizes = np.bincount(labels.ravel())[1:]
    compact = float(np.sort(sizes)[-3:].sum() / max(sizes.sum(), 1)) if count else 0.0

    return float(np.clip(decisive * sharpness * area * compact, 0.0, 1.0))
