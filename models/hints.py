"""Keep only the requested object classes of a salient matte (`hints_(dog;cat)`, remove.bg `type`).

The matte is split into object candidates: connected components of the binarised matte, and,
where several detected objects share one component (a cat curled against a dog), a split of
that component between their boxes. Each candidate takes the classes of the detections that
fall on it; candidates whose classes match a hint keep their soft alpha, the rest become
background. When no candidate matches, the full matte comes back with `matched=False` so the
caller can say so instead of serving an empty image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from .detect_classes import coco_class_of, header_name
from .detector import Detection
from .hints_split import candidates_of

__all__ = ["Fate", "Selection", "select_by_hints"]

Fate = Literal["kept", "dropped", "outside"]
U8 = npt.NDArray[np.uint8]

# Alpha at or above this counts as foreground when cutting the matte into components.
BINARISE_AT = 32
# A class counts for a candidate when its score is at least this share of the candidate's best
# score: a close-up cat scored dog 0.47 and cat 0.30 keeps both names, and either hint keeps it.
CLASS_SHARE = 0.5
# Soft-edge pixels below `BINARISE_AT` follow kept objects within this many pixels.
EDGE_REACH = 3
# Longest side of the copy of the matte on which objects are found.
WORK_SIZE = 1024


@dataclass(frozen=True)
class Selection:
    """The hinted matte: new alpha, every detection with its fate, and whether a hint matched."""

    alpha: U8
    detections: tuple[Detection, ...]
    fates: tuple[Fate, ...]
    matched: bool

    def summary(self, limit: int = 10) -> str:
        """Header-friendly `dog:0.87:kept;cat:0.81:dropped` (best `limit` detections)."""
        parts = [
            f"{header_name(d.coco_class)}:{d.score:.2f}:{fate}"
            for d, fate in list(zip(self.detections, self.fates, strict=True))[:limit]
        ]
        return ";".join(parts)

    @property
    def kept(self) -> tuple[Detection, ...]:
        return tuple(d for d, f in zip(self.detections, self.fates, strict=True) if f == "kept")


def _wanted(hints: Sequence[str]) -> set[str]:
    return {c for c in (coco_class_of(h) for h in hints) if c is not None}


def select_by_hints(alpha: U8, detections: Sequence[Detection], hints: Sequence[str]) -> Selection:
    """Keep the objects of `alpha` whose detected class is one of `hints` (Cloudinary/COCO names).

    `detections` are in the matte's pixel coordinates (detect on the image the matte belongs to).
    With no hints the matte is returned unchanged.
    """
    if alpha.ndim != 2 or alpha.dtype != np.uint8:
        raise ValueError(f"expected an [H, W] uint8 matte, got {alpha.shape} {alpha.dtype}")
    dets = tuple(sorted(detections, key=lambda d: -d.score))
    wanted = _wanted(hints)
    # Objects are found on a ≤ WORK_SIZE copy (a 12 MP matte takes seconds to label otherwise);
    # the decision is scaled back up and applied to the full-resolution soft alpha.
    step = max(1, -(-max(alpha.shape) // WORK_SIZE))
    work = _block_max(alpha, step)
    scaled = [replace(d, box=(d.box[0] / step, d.box[1] / step, d.box[2] / step, d.box[3] / step))
              for d in dets]  # fmt: skip
    owner, objects, det_object = candidates_of(work >= BINARISE_AT, scaled)
    in_matte: tuple[Fate, ...] = tuple("outside" if o < 0 else "kept" for o in det_object)
    if not hints:
        return Selection(alpha, dets, in_matte, True)

    # indexed by owner + 1: background, foreground of no object, then each object
    keep_object = np.zeros(len(objects) + 2, dtype=bool)
    for index, members in enumerate(objects, start=2):
        best = max(dets[m].score for m in members)
        names = {dets[m].coco_class for m in members if dets[m].score >= CLASS_SHARE * best}
        keep_object[index] = bool(names & wanted)
    if not keep_object.any():
        return Selection(alpha, dets, in_matte, False)

    keep = _keep_orphans(keep_object[owner + 1], owner, objects, scaled)
    if EDGE_REACH:  # the faint fringe (hair, fur) outside the binarised mask, never another object
        grown = ndimage.binary_dilation(keep, iterations=max(1, EDGE_REACH // step))
        keep |= grown & (owner < 0)
    if step > 1:
        keep = keep[np.arange(alpha.shape[0]) // step][:, np.arange(alpha.shape[1]) // step]
    fates: tuple[Fate, ...] = tuple(
        "outside" if o < 0 else ("kept" if keep_object[o + 2] else "dropped") for o in det_object
    )
    out = np.where(keep, alpha, np.uint8(0)).astype(np.uint8)
    return Selection(out, dets, fates, True)


def _block_max(alpha: U8, step: int) -> U8:
    """Maximum over `step × step` blocks (so thin strands survive the reduction)."""
    if step == 1:
        return alpha
    h, w = alpha.shape
    padded = np.zeros((-(-h // step) * step, -(-w // step) * step), dtype=np.uint8)
    padded[:h, :w] = alpha
    out = padded[::step, ::step].copy()
    for dy in range(step):
        for dx in range(step):
            np.maximum(out, padded[dy::step, dx::step], out=out)
    return out


def _keep_orphans(
    keep: npt.NDArray[np.bool_],
    owner: npt.NDArray[Any],
    objects: list[list[int]],
    dets: Sequence[Detection],
) -> npt.NDArray[np.bool_]:
    """Pieces no detection landed on (a tail cut off by a leg) stay when mostly inside a kept box.

    `owner` is -1 for background, 0 for foreground pixels of no object, k for object k.
    """
    orphans, count = ndimage.label(owner == 0, structure=np.ones((3, 3), bool))
    if not count:
        return keep
    kept_boxes = np.zeros(owner.shape, dtype=bool)
    for index, members in enumerate(objects, start=1):
        if keep[owner == index].any():
            for m in members:
                x1, y1, x2, y2 = (round(v) for v in dets[m].box)
                kept_boxes[y1:y2, x1:x2] = True
    labels = np.arange(1, count + 1)
    inside = ndimage.mean(kept_boxes, orphans, labels)
    chosen = np.concatenate(([False], np.asarray(inside) >= 0.5))
    result: npt.NDArray[np.bool_] = keep | chosen[orphans]
    return result
