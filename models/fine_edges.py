"""`fineedges`: re-solve the matte's uncertain band with closed-form matting (hair, fur).

The model's matte gives a trimap: pixels it is sure about stay fixed (eroded a little, so the
solver has room), the band in between is re-estimated from the image by closed-form matting
(Levin, Lischinski & Weiss 2008, pymatting's implementation). The solve runs on the band's
bounding box at a capped working resolution so a 1–2 MP image stays within seconds on 2 cores;
the refined band is brought back to full resolution and blended in only where it was uncertain.
"""

from __future__ import annotations

import contextlib
import io
import math

import numpy as np
import numpy.typing as npt
from scipy import ndimage

F32 = npt.NDArray[np.float32]

#: the solve runs on at most this many pixels (the band's bounding box, downscaled if larger):
#: 0.3 MP takes 1–5 s on 2 cores, 1 MP 2–3× longer for no better SAD on the matting set
WORK_PIXELS = 300_000
#: alpha inside (LOW, HIGH) is uncertain; the sure regions are eroded by this many pixels
LOW, HIGH = 0.1, 0.9
ERODE = 3


def trimap_from_alpha(alpha: F32, erode: int = ERODE) -> F32:
    """0 = background, 1 = foreground, 0.5 = unknown (the uncertain band widened by `erode`)."""
    structure = ndimage.generate_binary_structure(2, 1)
    fg = ndimage.binary_erosion(alpha >= HIGH, structure, iterations=erode)
    bg = ndimage.binary_erosion(alpha <= LOW, structure, iterations=erode)
    trimap = np.full(alpha.shape, 0.5, dtype=np.float32)
    trimap[fg] = 1.0
    trimap[bg] = 0.0
    return trimap


def refine_band(image: F32, alpha: F32) -> F32:
    """Alpha with its uncertain band re-estimated by closed-form matting guided by `image`."""
    from pymatting import estimate_alpha_cf  # numba JIT: import only when asked for

    from .refine import guided_upsample, resize_float

    trimap = trimap_from_alpha(alpha)
    unknown = trimap == 0.5
    if not unknown.any() or unknown.all():
        return alpha
    rows = np.flatnonzero(unknown.any(axis=1))
    cols = np.flatnonzero(unknown.any(axis=0))
    pad = 8
    y0, y1 = max(rows[0] - pad, 0), min(rows[-1] + pad + 1, alpha.shape[0])
    x0, x1 = max(cols[0] - pad, 0), min(cols[-1] + pad + 1, alpha.shape[1])
    h, w = y1 - y0, x1 - x0
    scale = min(1.0, math.sqrt(WORK_PIXELS / (h * w)))
    wh, ww = max(round(h * scale), 8), max(round(w * scale), 8)

    crop_img = resize_float(np.ascontiguousarray(image[y0:y1, x0:x1]), ww, wh)
    crop_alpha = resize_float(np.ascontiguousarray(alpha[y0:y1, x0:x1]), ww, wh)
    crop_tri = trimap_from_alpha(crop_alpha, erode=max(1, round(ERODE * scale)))
    if not ((crop_tri == 0.5).any() and (crop_tri == 1).any() and (crop_tri == 0).any()):
        return alpha  # closed-form matting needs some of each: sure fg, sure bg and unknown
    # pymatting prints a warning to stdout when its preconditioner needs a retry: keep it quiet
    with contextlib.redirect_stdout(io.StringIO()):
        solved = estimate_alpha_cf(crop_img.astype(np.float64), crop_tri.astype(np.float64))
    solved = np.clip(solved, 0.0, 1.0).astype(np.float32)
    # back to full resolution along the image's edges (a bilinear upsample would blur them)
    solved = (
        guided_upsample(solved, image[y0:y1, x0:x1], radius=2, eps=1e-4) if scale < 1 else solved
    )

    out = alpha.copy()
    band = unknown[y0:y1, x0:x1]
    out[y0:y1, x0:x1][band] = solved[band]
    return out
