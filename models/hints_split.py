"""Cut a binarised matte into object candidates, using detector boxes where objects touch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from .detector import Detection, iou

__all__ = ["candidates_of"]

# A detection lies on the matte when foreground fills at least this share of its box; below
# that it found something the salient model left in the background.
MIN_FILL = 0.2
# Detections of one component overlapping this much are one object with several names.
SAME_OBJECT_IOU = 0.6
_EIGHT = np.ones((3, 3), dtype=bool)


def _clip(box: tuple[float, ...], shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    h, w = shape
    x1, y1 = min(max(int(box[0]), 0), w), min(max(int(box[1]), 0), h)
    x2, y2 = min(max(int(np.ceil(box[2])), x1 + 1), w), min(max(int(np.ceil(box[3])), y1 + 1), h)
    return x1, y1, x2, y2


def _group(members: list[int], dets: Sequence[Detection]) -> list[list[int]]:
    """Union detections whose boxes overlap by `SAME_OBJECT_IOU` (best score first)."""
    groups: list[list[int]] = []
    for m in members:
        for g in groups:
            if any(iou(dets[m].box, dets[o].box) >= SAME_OBJECT_IOU for o in g):
                g.append(m)
                break
        else:
            groups.append([m])
    return groups


def _split(
    region: npt.NDArray[np.bool_], origin: tuple[int, int], boxes: list[tuple[float, ...]]
) -> npt.NDArray[np.intp]:
    """Give each pixel of `region` to the box it is most central in (distance in box units),
    among the boxes that contain it; -1 for pixels inside no box.

    Pixels outside every box belong to no object: forcing them onto the nearest box kept, e.g.,
    a baby in a pram tied to a dog by its lead as "dog". The caller's orphan rule decides them.
    """
    oy, ox = origin
    ys = np.arange(region.shape[0], dtype=np.float32) + oy + 0.5
    xs = np.arange(region.shape[1], dtype=np.float32) + ox + 0.5
    best = np.full(region.shape, np.inf, dtype=np.float32)
    choice = np.full(region.shape, -1, dtype=np.intp)
    for k, (x1, y1, x2, y2) in enumerate(boxes):
        half_w, half_h = max((x2 - x1) / 2, 1.0), max((y2 - y1) / 2, 1.0)
        dx = np.abs(xs - (x1 + x2) / 2) / half_w
        dy = np.abs(ys - (y1 + y2) / 2) / half_h
        dist = np.maximum(dy[:, None], dx[None, :])
        closer = (dist < best) & (dist <= 1.0)
        best[closer] = dist[closer]
        choice[closer] = k
    return choice


def candidates_of(
    mask: npt.NDArray[np.bool_], dets: Sequence[Detection]
) -> tuple[npt.NDArray[np.int32], list[list[int]], tuple[int, ...]]:
    """Split `mask` into objects.

    Returns `owner` (-1 background, 0 foreground of no object, k ≥ 1 object k-1), the objects as
    lists of detection indices, and for each detection its object index or -1 (off the matte).
    """
    labels: npt.NDArray[Any]
    labels, count = ndimage.label(mask, structure=_EIGHT)
    det_component = []
    for det in dets:
        x1, y1, x2, y2 = _clip(det.box, mask.shape)
        counts = np.bincount(labels[y1:y2, x1:x2].ravel(), minlength=count + 1)
        counts[0] = 0
        best = int(counts.argmax())
        filled = counts[best] / ((x2 - x1) * (y2 - y1))
        det_component.append(best if best and filled >= MIN_FILL else 0)

    owner = np.where(mask, 0, -1).astype(np.int32)
    objects: list[list[int]] = []
    det_object = [-1] * len(dets)
    slices = ndimage.find_objects(labels)
    for component in sorted({c for c in det_component if c}):
        members = [i for i, c in enumerate(det_component) if c == component]
        groups = _group(members, dets)
        first = len(objects) + 1
        for offset, group in enumerate(groups):
            objects.append(group)
            for m in group:
                det_object[m] = first - 1 + offset
        window = slices[component - 1]
        assert window is not None
        region = labels[window] == component
        if len(groups) == 1:
            choice = np.zeros(region.shape, dtype=np.intp)
        else:
            origin = (window[0].start, window[1].start)
            choice = _split(region, origin, [dets[g[0]].box for g in groups])
        # pixels in no box stay 0: foreground of no object
        owner[window][region] = np.where(choice >= 0, first + choice, 0)[region]
    return owner, objects, tuple(det_object)
