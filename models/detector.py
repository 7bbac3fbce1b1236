"""The object detector behind hints: CenterNet-MobileNetV3 (COCO-80) converted to ONNX.

Input is RGB resized to 512² (bilinear; raw 0..255, NHWC); the graph's own head already picks
the 100 best heat-map peaks as `[x1, y1, x2, y2, score, class]` in input pixels. Peaks of one
class can still sit on the same object, so we run per-class IoU-NMS, then map boxes back to
source pixels.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from .detect_classes import COCO_CLASSES, hint_class, removebg_type
from .detect_resize import resize_bilinear

__all__ = [
    "SCORE_THRESHOLD",
    "Detection",
    "Detector",
    "decode",
    "detections_from_json",
    "detections_to_json",
    "nms",
    "removebg_type",
]

INPUT_SIZE = 512
INPUT_NAME, OUTPUT_NAME = "tower_0/images:0", "tower_0/detections:0"
# 0.3 on the labelled photos (bench/README_detection.md): 0.25 brings ~4 false positives per
# extra true one; 0.35 scored as well there but true subjects sit at 0.37–0.41 (cat, person),
# too close to it, and a missed hint class costs more than a stray label the matte filters out.
SCORE_THRESHOLD = 0.3
NMS_IOU = 0.5
# Padding for letterboxed input: mid-grey, which reads as "nothing" to the detector.
PAD_VALUE = 114

Box = tuple[float, float, float, float]
FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Detection:
    """One detected object: box `(x1, y1, x2, y2)` in source pixels, score 0..1, classes."""

    box: Box
    score: float
    coco_class: str
    hint_class: str | None


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two `(x1, y1, x2, y2)` boxes."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def nms(detections: list[Detection], iou_threshold: float = NMS_IOU) -> list[Detection]:
    """Greedy per-class non-maximum suppression; result sorted by score, best first."""
    kept: list[Detection] = []
    for det in sorted(detections, key=lambda d: -d.score):
        if all(k.coco_class != det.coco_class or iou(k.box, det.box) < iou_threshold for k in kept):
            kept.append(det)
    return kept


def decode(
    raw: FloatArray,
    *,
    scale: tuple[float, float],
    offset: tuple[float, float] = (0.0, 0.0),
    size: tuple[int, int],
    threshold: float = SCORE_THRESHOLD,
) -> list[Detection]:
    """Turn the graph's `[100, 6]` rows into NMS'd detections in source pixels.

    Source x = (input x − offset x) × scale x; boxes are clipped to the source `size` (w, h).
    """
    width, height = size
    found = []
    for x1, y1, x2, y2, score, cls in raw.reshape(-1, 6).tolist():
        if score < threshold or not 0 <= int(cls) < len(COCO_CLASSES):
            continue
        box = (
            min(max((x1 - offset[0]) * scale[0], 0.0), width),
            min(max((y1 - offset[1]) * scale[1], 0.0), height),
            min(max((x2 - offset[0]) * scale[0], 0.0), width),
            min(max((y2 - offset[1]) * scale[1], 0.0), height),
        )
        if box[2] - box[0] < 1 or box[3] - box[1] < 1:
            continue
        name = COCO_CLASSES[int(cls)]
        rounded = (round(box[0], 1), round(box[1], 1), round(box[2], 1), round(box[3], 1))
        found.append(
            Detection(
                rounded,
                round(score, 4),
                name,
                hint_class(name),
            )
        )
    return nms(found)


class Detector:
    """One onnxruntime session of the converted detector; `detect` is thread-safe."""

    def __init__(
        self,
        onnx_path: Path,
        *,
        threads: int = 1,
        threshold: float = SCORE_THRESHOLD,
        providers: Sequence[str] = ("CPUExecutionProvider",),
    ):
        if not Path(onnx_path).is_file():
            raise FileNotFoundError(
                f"detector model {onnx_path} is missing: run `alphacdn fetch-models`"
            )
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(onnx_path), options, providers=list(providers))
        self._lock = threading.Lock()
        self.threshold = threshold

    def run(self, batch: FloatArray) -> FloatArray:
        """Raw graph output `[100, 6]` for one `[1, 512, 512, 3]` float input."""
        with self._lock:
            (out,) = self._session.run([OUTPUT_NAME], {INPUT_NAME: batch})
        rows: FloatArray = np.asarray(out, dtype=np.float32)[0]
        return rows

    def detect(self, rgb: npt.NDArray[np.uint8], *, letterbox: bool = True) -> list[Detection]:
        """Detect objects in an `[H, W, 3]` uint8 RGB image (boxes in its pixels).

        `letterbox` keeps the aspect ratio (padding to a square): better on the frame-filling
        subjects hints are about (a close-up cat 0.38 → 0.64); stretching (`False`) finds more
        small, distant objects. Figures in bench/README_detection.md.
        """
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"expected an [H, W, 3] RGB array, got {rgb.shape}")
        height, width = rgb.shape[:2]
        if not letterbox:
            batch = resize_bilinear(rgb, INPUT_SIZE, INPUT_SIZE)[None]
            scale = (width / INPUT_SIZE, height / INPUT_SIZE)
            raw = self.run(batch)
            return decode(raw, scale=scale, size=(width, height), threshold=self.threshold)
        factor = INPUT_SIZE / max(width, height)
        new_w, new_h = max(1, round(width * factor)), max(1, round(height * factor))
        left, top = (INPUT_SIZE - new_w) // 2, (INPUT_SIZE - new_h) // 2
        batch = np.full((1, INPUT_SIZE, INPUT_SIZE, 3), PAD_VALUE, np.float32)
        batch[0, top : top + new_h, left : left + new_w] = resize_bilinear(rgb, new_w, new_h)
        scale = (width / new_w, height / new_h)
        return decode(
            self.run(batch),
            scale=scale,
            offset=(left, top),
            size=(width, height),
            threshold=self.threshold,
        )


def detections_to_json(detections: list[Detection]) -> str:
    """Serialise detections (to cache them beside the matte)."""
    return json.dumps([asdict(d) for d in detections], separators=(",", ":"))


def detections_from_json(text: str) -> list[Detection]:
    """Inverse of `detections_to_json`."""
    rows: list[dict[str, Any]] = json.loads(text)
    out = []
    for r in rows:
        x1, y1, x2, y2 = (float(v) for v in r["box"])
        out.append(Detection((x1, y1, x2, y2), float(r["score"]), r["coco_class"], r["hint_class"]))
    return out
