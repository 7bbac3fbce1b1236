"""Cut-outs of people: a matting network for people (RVM), routed by what is in the picture.

    route = choose_route(salient_alpha, detections)      # is a detected person the subject?
    route = with_face(route, faces, rgb)                 # …with a face of their own?
    alpha = person_alpha(matter, "rvm", rgb)             # the network's alpha, full resolution
    route = confirm(route, alpha, salient_alpha)         # does the network see that subject?
    alpha = fuse(alpha, salient_alpha)                   # the network's alpha (measured best)

A salient-object model (IS-Net) finds the subject of any picture but blurs hair; RVM is trained
on people only: it mattes hair far better and returns almost nothing on a dog. So a picture goes
to RVM only when the detector's person is the subject of the salient matte (`choose_route`) and
shows a face (`with_face`: the object detector calls a pair of boots a person, a face detector
does not), and stays there only when RVM's matte covers that subject (`confirm`): what a person
holds or wears and RVM leaves out (a dandelion held up to the face) sends the picture back to
IS-Net whole. Of the fusions measured (`fuse`), RVM's alpha as it is won; the others are kept
for the bench. Everything else keeps the salient pipeline. The measurements behind every threshold:
bench/README_person.md.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from .detector import Detection
from .faces import Face, FaceDetector
from .refine import resize_float
from .registry import ModelSpec
from .sessions import resize_rgb

F32 = npt.NDArray[np.float32]
U8 = npt.NDArray[np.uint8]
Route = Literal["salient", "person"]

#: a person detection counts when it holds at least this share of the salient foreground…
SUBJECT_OVERLAP = 0.6
#: …and its box covers at least this share of the picture (a face in a crowd is not the subject)
SUBJECT_AREA = 0.04
#: the network's matte (α > ½) must cover this share of the salient foreground inside the box
CONFIRM_COVER = 0.85
#: a face counts for the person when this share of its box lies inside the person box
FACE_IN_BOX = 0.3
#: faces are looked for on a copy this long at most (models.faces.DETECT_SIDE)…
FACE_SIDE = 1024
#: …and, when none is found there, on that copy with this share of each side added by mirroring
#: the picture, so that a face cut by the frame (a close-up) becomes whole to the detector
FACE_PAD = 0.3
#: the salient matte counts "outside the person" beyond this many pixels (per 1000 px of the
#: long side) from the network's matte
FUSE_REACH = 12
#: frames longer than this are matted on a copy this long, the alpha resized back
FRAME_MAX_SIDE = 2048
#: the work grid on which the route is decided (the salient matte and boxes scaled to it)
DECIDE_SIDE = 512


class FeedRunner(Protocol):
    def spec(self, name: str) -> ModelSpec: ...

    def run_feed(
        self, name: str, feed: dict[str, npt.NDArray[np.float32]], output: str
    ) -> npt.NDArray[np.float32]: ...


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """Which pipeline a cut-out takes, and the figures it was decided on."""

    route: Route
    #: why: `no-person`, `person-not-subject`, `person-no-face`, `person`, `person-not-matted`
    reason: str
    #: share of the salient foreground inside the best person box (0 without one)
    overlap: float = 0.0
    #: share of the picture the box covers
    area: float = 0.0
    #: share of the salient foreground in the box that the person network covers (confirm)
    cover: float = 0.0
    box: tuple[float, float, float, float] | None = None
    #: score of the face found in the box (0: none looked for or none found)
    face: float = 0.0

    def report(self) -> str:
        """`person (person; overlap 0.93, area 0.41, face 0.95, cover 0.97)` — headers and job
        results."""
        figures = f"overlap {self.overlap:.2f}, area {self.area:.2f}"
        if self.face:
            figures += f", face {self.face:.2f}"
        if self.cover:
            figures += f", cover {self.cover:.2f}"
        return f"{self.route} ({self.reason}; {figures})"


def _work_scale(shape: tuple[int, ...]) -> float:
    return min(1.0, DECIDE_SIDE / max(shape[:2]))


def _shrink(alpha: F32) -> tuple[F32, float]:
    s = _work_scale(alpha.shape)
    if s == 1.0:
        return alpha, s
    h, w = alpha.shape[:2]
    return resize_float(alpha, max(1, round(w * s)), max(1, round(h * s))), s


def choose_route(
    salient: F32, detections: tuple[Detection, ...] | list[Detection]
) -> RouteDecision:
    """Route to the person network when a detected person is the salient matte's subject:
    its box holds ≥ SUBJECT_OVERLAP of the foreground and covers ≥ SUBJECT_AREA of the picture.
    `salient` is the salient model's alpha (0..1) at the picture's size, detections in its
    pixels."""
    people = [d for d in detections if d.coco_class == "person"]
    if not people:
        return RouteDecision("salient", "no-person")
    small, s = _shrink(salient)
    fg = small > 0.5
    total = max(int(fg.sum()), 1)
    h, w = small.shape
    best: tuple[float, float, Detection] | None = None
    for d in people:
        x1, y1, x2, y2 = (max(0, round(v * s)) for v in d.box)
        inside = int(fg[y1:y2, x1:x2].sum())
        overlap = inside / total
        area = max(0, min(x2, w) - x1) * max(0, min(y2, h) - y1) / (h * w)
        if best is None or overlap > best[0]:
            best = (overlap, area, d)
    assert best is not None
    overlap, area, d = best
    if overlap >= SUBJECT_OVERLAP and area >= SUBJECT_AREA:
        return RouteDecision("person", "person", overlap, area, box=d.box)
    return RouteDecision("salient", "person-not-subject", overlap, area, box=d.box)


def _share_inside(face: tuple[float, ...], box: tuple[float, ...]) -> float:
    """The share of the face box's area that lies inside `box`."""
    w = max(0.0, min(face[2], box[2]) - max(face[0], box[0]))
    h = max(0.0, min(face[3], box[3]) - max(face[1], box[1]))
    area = max((face[2] - face[0]) * (face[3] - face[1]), 1e-9)
    return w * h / area


def find_face(faces: FaceDetector, rgb: U8, box: tuple[float, ...]) -> Face | None:
    """The best face (score ≥ the detector's threshold) with ≥ FACE_IN_BOX of it inside the
    person `box` (picture pixels): first on a copy ≤ FACE_SIDE, then on that copy with FACE_PAD
    of each side mirrored on (a face cut by the frame; boxes may then reach outside it)."""
    h, w = rgb.shape[:2]
    scale = min(1.0, FACE_SIDE / max(h, w))
    small = rgb
    if scale < 1.0:
        small = resize_rgb(rgb, max(1, round(w * scale)), max(1, round(h * scale)), "linear")
    sh, sw = small.shape[:2]
    in_small = tuple(v * scale for v in box)
    for pad in (0, 1):
        py, px = round(sh * FACE_PAD) * pad, round(sw * FACE_PAD) * pad
        view = np.pad(small, ((py, py), (px, px), (0, 0)), mode="symmetric") if pad else small
        for face in faces.detect(np.ascontiguousarray(view)):
            moved = (face.box[0] - px, face.box[1] - py, face.box[2] - px, face.box[3] - py)
            if _share_inside(moved, in_small) >= FACE_IN_BOX:
                x1, y1, x2, y2 = (v / scale for v in moved)
                return Face((x1, y1, x2, y2), face.score)
    return None


def with_face(decision: RouteDecision, faces: FaceDetector, rgb: U8) -> RouteDecision:
    """Keep the person route only when the person box shows a face (`find_face`): CenterNet
    calls a pair of boots a person (0.54) and RVM mattes them; no face is found on them. A
    person seen from behind keeps the salient pipeline (today's cut-out, not a wrong one)."""
    if decision.route != "person" or decision.box is None:
        return decision
    face = find_face(faces, rgb, decision.box)
    if face is None:
        return replace(decision, route="salient", reason="person-no-face")
    return replace(decision, face=face.score)


def confirm(decision: RouteDecision, person: F32, salient: F32) -> RouteDecision:
    """Keep the person route only when the network's matte covers ≥ CONFIRM_COVER of the salient
    foreground inside the person box (a dandelion held up to a face: it does not)."""
    if decision.route != "person" or decision.box is None:
        return decision
    p, s = _shrink(person)
    q, _ = _shrink(salient)
    x1, y1, x2, y2 = (max(0, round(v * s)) for v in decision.box)
    fg = q[y1:y2, x1:x2] > 0.5
    cover = float((fg & (p[y1:y2, x1:x2] > 0.5)).sum() / max(int(fg.sum()), 1))
    if cover >= CONFIRM_COVER:
        return replace(decision, cover=cover)
    return replace(decision, route="salient", reason="person-not-matted", cover=cover)


def person_alpha(matter: FeedRunner, name: str, rgb: U8) -> F32:
    """The person network's alpha (0..1) at the picture's size: RVM on the frame (≤
    FRAME_MAX_SIDE), its recurrent state zero (a still image), its encoder at the row's
    input_size on the long side; its own guided filter brings the alpha to the frame's size."""
    spec = matter.spec(name)
    h, w = rgb.shape[:2]
    scale = min(1.0, FRAME_MAX_SIDE / max(h, w))
    frame = rgb
    if scale < 1.0:
        frame = resize_rgb(rgb, max(1, round(w * scale)), max(1, round(h * scale)), "linear")
    # < 1 always: the converted graph keeps the downsampling branch of RVM's tf.cond
    ratio = min(0.999, spec.input_size / max(frame.shape[:2]))
    zero = np.zeros((), np.float32)
    feed = {
        "src:0": (frame[None].astype(np.float32) / np.float32(255.0)),
        "r1i:0": zero,
        "r2i:0": zero,
        "r3i:0": zero,
        "r4i:0": zero,
        "downsample_ratio:0": np.array(ratio, np.float32),
    }
    out = matter.run_feed(name, feed, spec.preprocess.output_name or "pha")
    alpha = np.clip(np.asarray(out, np.float32)[0, ..., 0], 0.0, 1.0)
    if alpha.shape != (h, w):
        alpha = np.clip(resize_float(alpha, w, h), 0.0, 1.0)
    return np.asarray(alpha, np.float32)


FuseVariant = Literal["person", "max", "outside", "attached", "gate"]


#: measured best on the matting set (bench/README_person.md): the network's alpha as it is. The
#: variants that add salient alpha back brought IS-Net's background objects and hair halo with
#: it; gating by IS-Net's foreground cut off what IS-Net missed (the veil crop: SAD 1.0 → 11.5)
DEFAULT_FUSION: FuseVariant = "person"


def fuse(person: F32, salient: F32, variant: FuseVariant = DEFAULT_FUSION) -> F32:
    """The routed alpha from the person network's and the salient model's (both 0..1, same size).

    - `person` (default): the network alone;
    - `max`: the larger of the two everywhere (the salient model's hair halo comes back too);
    - `outside`: the network's alpha, plus the salient alpha where it lies more than FUSE_REACH
      px (per 1000 px of side) outside the network's person (a second person in the
      background comes along: measured worse);
    - `attached`: as `outside`, but only salient objects that touch the person: a held bag, a
      racket, a hat brim;
    - `gate`: the network's alpha only within the salient foreground grown by the same reach
      (a stray person elsewhere in the picture stays out, and so does what IS-Net missed).
    """
    if variant == "person":
        return person
    if variant == "max":
        return np.maximum(person, salient)
    reach = max(1, round(FUSE_REACH * max(person.shape) / 1000))
    small_p, s = _shrink(person)
    steps = max(1, round(reach * s))
    if variant == "gate":
        small_q, _ = _shrink(salient)
        grown = ndimage.binary_dilation(small_q > 0.5, iterations=steps)
        keep = resize_float(grown.astype(np.float32), person.shape[1], person.shape[0])
        return np.asarray(person * np.clip(keep, 0.0, 1.0), np.float32)
    near = ndimage.binary_dilation(small_p > 0.5, iterations=steps)
    outside = ~near
    if variant == "attached":
        small_q, _ = _shrink(salient)
        labels, _ = ndimage.label(small_q > 0.5)
        touching = np.unique(labels[near & (labels > 0)])
        outside &= np.isin(labels, touching[touching > 0])
    far = resize_float(outside.astype(np.float32), person.shape[1], person.shape[0])
    extra = salient * np.clip(far, 0.0, 1.0)
    return np.asarray(np.maximum(person, extra), np.float32)


@dataclass(frozen=True)
class PersonRouter:
    """`refine.Router` for one picture: the detections it was decided on, the face detector
    and the network."""

    matter: FeedRunner
    model: str
    detections: tuple[Detection, ...]
    faces: FaceDetector
    fusion: FuseVariant = DEFAULT_FUSION

    def decide(self, rgb: U8, salient: F32) -> tuple[F32 | None, RouteDecision]:
        decision = with_face(choose_route(salient, self.detections), self.faces, rgb)
        if decision.route != "person":
            return None, decision
        person = person_alpha(self.matter, self.model, rgb)
        decision = confirm(decision, person, salient)
        if decision.route != "person":
            return None, decision
        return fuse(person, salient, self.fusion), decision

    def __call__(self, rgb: U8, salient: F32) -> tuple[F32 | None, str]:
        alpha, decision = self.decide(rgb, salient)
        return alpha, decision.report()
