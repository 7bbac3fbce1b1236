"""One cut-out's model work, without I/O: pixels → salient matte → detections → hint selection.

    MatteModels.make(picture, model, fine_edges=…, hints=…, detect=…, salient=cached or None)
        salient matte: the cached one, or decode → infer → refine → confidence → encode
        detections:    the cached ones, or the detector on a ≤ DETECT_SIDE copy (hints, detect)
        hints:         the salient matte minus objects of other classes → encode
        → Made(outcome, salient, what is new and should be stored)

The caller (the wiring) reads the matte cache before and writes it after: a hinted matte is the
salient matte with objects of other classes removed, so the salient matte and its detections are
cached once per content and shared by every hint combination. Pixels come in through `Picture`
and PNG bytes go through `Codec`, both made by the engine: this room does no decoding of its own
(one decoder, with the engine's orientation and colour handling).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from .detector import Detection, Detector
from .faces import FACE_MODEL, FaceDetector
from .fetch import ModelMissing
from .hints import select_by_hints
from .person import PersonRouter, person_alpha
from .refine import make_cutout, resize_float
from .registry import DEFAULT_PERSON_MODEL
from .sessions import Matter

U8 = npt.NDArray[np.uint8]

#: mattes are refined at full resolution up to this many pixels; bigger sources are scaled down
#: (and say so): refinement memory grows with the pixel count
MATTE_MAX_PIXELS = 16_000_000
#: the detector sees a copy of the image at most this long (its input is 512²)
DETECT_SIDE = 1024
DETECTOR = "centernet-coco"


class Picture(Protocol):
    """The source as the models need it, decoded on first use (`engine.Picture`)."""

    @property
    def scaled_from(self) -> tuple[int, int] | None:
        """The upright source size when the pixels are scaled down to MATTE_MAX_PIXELS."""
        ...

    def rgb(self) -> U8:
        """Upright sRGB H×W×3 pixels at matte resolution."""
        ...

    def rgb_within(self, side: int) -> tuple[U8, float]:
        """A copy at most `side` long, and its scale factor (≤ 1)."""
        ...


@dataclass(frozen=True, slots=True)
class Codec:
    """The lossless RGBA PNG codec of the matte cache's entries (the engine's)."""

    encode: Callable[[U8], bytes]
    decode: Callable[[bytes], U8]


@dataclass(frozen=True, slots=True)
class Salient:
    """The salient matte of one content: what every hint combination starts from."""

    png: bytes
    width: int
    height: int
    confidence: float
    scaled_from: tuple[int, int] | None
    #: None until the detector has looked at this content
    detections: tuple[Detection, ...] | None = None
    #: seconds per stage of the run that made it (empty when it came from the cache)
    timings: dict[str, float] = field(default_factory=dict)
    #: the pipeline that made it (`person.RouteDecision.report`; "" from before routing)
    route: str = ""

    def outcome(self) -> MatteOutcome:
        """The salient matte as the cut-out of a request without hints."""
        return MatteOutcome(
            png=self.png,
            width=self.width,
            height=self.height,
            confidence=self.confidence,
            scaled_from=self.scaled_from,
            hints=(),
            hints_report="",
            detected=self.detections,
            timings=dict(self.timings),
            route=self.route,
        )


@dataclass(frozen=True, slots=True)
class MatteOutcome:
    """A finished cut-out and what the response headers and upload results report about it."""

    png: bytes
    width: int
    height: int
    confidence: float
    scaled_from: tuple[int, int] | None
    hints: tuple[str, ...]
    hints_report: str
    matched: bool = True
    #: what the detector found (None: it has not looked at this content)
    detected: tuple[Detection, ...] | None = None
    #: seconds per stage of the job that made the matte (`decode`, `inference`, `upsample`,
    #: `fine_edges`, `decontaminate`, `encode`, `store`; `queued` for a queued job), plus
    #: wall-clock epoch seconds `submitted_at` (job created) and `ready_at` (matte entry
    #: written). Empty when the matte came from the cache.
    timings: dict[str, float] = field(default_factory=dict)
    #: whether the matte cache holds `png` under this matte's key
    stored: bool = True
    #: the pipeline that made the salient matte (`person.RouteDecision.report`)
    route: str = ""

    def result_json(self) -> dict[str, Any]:
        """What a finished job records."""
        return {
            "confidence": self.confidence,
            "width": self.width,
            "height": self.height,
            "hints": self.hints_report,
            "hints_matched": self.matched,
            "route": self.route,
            "timings": self.timings,
        }


@dataclass(frozen=True, slots=True)
class Made:
    """A cut-out, and the salient matte it came from with what is new in it (to store)."""

    outcome: MatteOutcome
    salient: Salient
    #: the model ran: `salient` is new
    inferred: bool
    #: the detector ran: `salient.detections` are new
    detected: bool


class MatteModels:
    """The sessions a cut-out uses (the matting models and the detector, each made once)."""

    def __init__(
        self,
        matter: Matter,
        codec: Codec,
        *,
        detector_threads: int,
        person_model: str | None = DEFAULT_PERSON_MODEL,
    ) -> None:
        """`person_model`: the matting network for people cut-outs are routed to (None: off)."""
        self.matter = matter
        self.codec = codec
        self._detector: Detector | None = None
        self._detector_lock = threading.Lock()
        self._detector_threads = detector_threads
        self.person_model = person_model
        self._person_route: tuple[str | None] | None = None
        self._faces: FaceDetector | None = None

    def person_route(self) -> str | None:
        """The person model cut-outs are routed to: None when off, or when it, the detector or
        the face model is not installed (then every cut-out takes the salient pipeline, and
        says so). Looked up once per process: installing the model takes a restart."""
        if self._person_route is None:
            found = self.person_model
            if found is not None:
                try:
                    self.matter.check(found)
                    self.matter.check(DETECTOR)
                    self.matter.check(FACE_MODEL)
                except (ModelMissing, KeyError):
                    found = None
            self._person_route = (found,)
        return self._person_route[0]

    def warm_up_route(self) -> str | None:
        """Load the detector, the face model and the person model and run the latter once on a
        grey frame (the startup warm-up, after the salient model's); the person model's name,
        None when off."""
        person = self.person_route()
        if person is not None:
            self.detector()
            self.face_detector()
            person_alpha(self.matter, person, np.full((256, 256, 3), 128, np.uint8))
        return person

    def route_tag(self, model: str) -> str:
        """The model part of a matte key: `isnet`, or `isnet+rvm` with routing on (a routed
        matte is not the salient model's)."""
        person = self.person_route()
        return f"{model}+{person}" if person else model

    def missing_message(self, model: str) -> str | None:
        """None if the model is installed, else the message naming the install command."""
        try:
            self.matter.check(model)
        except (ModelMissing, KeyError) as exc:
            return str(exc).strip("'\"")
        return None

    def estimated_seconds(self, model: str) -> float:
        """Measured inference seconds of `model` (moving average)."""
        return float(self.matter.estimated_seconds(model))

    def detector(self) -> Detector:
        """The object detector, loaded on first use."""
        with self._detector_lock:
            if self._detector is None:
                path = self.matter.check(DETECTOR)
                self._detector = Detector(
                    path, threads=self._detector_threads, providers=self.matter.providers
                )
            return self._detector

    def face_detector(self) -> FaceDetector:
        """The face detector the person route checks with, loaded on first use."""
        with self._detector_lock:
            if self._faces is None:
                path = self.matter.check(FACE_MODEL)
                self._faces = FaceDetector(path, threads=self._detector_threads)
            return self._faces

    def make(
        self,
        picture: Picture,
        model: str,
        *,
        fine_edges: bool,
        hints: tuple[str, ...],
        salient: Salient | None,
        detect: bool = False,
        job_timings: Mapping[str, float] | None = None,
    ) -> Made:
        """The cut-out of `picture`, from the cached `salient` matte when there is one.
        `detect` runs the detector even without hints (the remove.bg API reports the type).
        `job_timings` (the job's `submitted_at`, `queued`) join a new matte's timings."""
        inferred = salient is None
        routed_detections = False  # the route was decided on new detections
        if salient is None:
            salient = self._salient(picture, model, fine_edges, job_timings or {})
            routed_detections = salient.detections is not None
        detected = (bool(hints) or detect) and salient.detections is None
        if detected:
            salient = replace(salient, detections=self._detect(picture))
        detected = detected or routed_detections
        found = salient.detections or ()
        if not hints:
            return Made(salient.outcome(), salient, inferred, detected)
        rgba = self.codec.decode(salient.png)
        selection = select_by_hints(np.ascontiguousarray(rgba[..., 3]), found, hints)
        rgba[..., 3] = selection.alpha
        t0 = time.perf_counter()
        png = self.codec.encode(rgba)
        timings = dict(salient.timings)
        if timings:  # the hinted matte's own encode (the salient one's is `encode`)
            timings["encode_hinted"] = round(time.perf_counter() - t0, 4)
        outcome = MatteOutcome(
            png=png,
            width=salient.width,
            height=salient.height,
            confidence=salient.confidence,
            scaled_from=salient.scaled_from,
            hints=hints,
            hints_report=selection.summary(),
            matched=selection.matched,
            detected=salient.detections,
            timings=timings,
            route=salient.route,
        )
        return Made(outcome, salient, inferred, detected)

    def preview(self, picture: Picture, model: str, side: int) -> bytes:
        """A quick cut-out PNG of `picture` at matte resolution, for showing while the real one
        is made: `model` (a small one) on a copy at most `side` long, guided upsampling and
        decontamination there (no settle, no fine edges, no hints), then scaled up."""
        full = picture.rgb()
        height, width = full.shape[:2]
        small, factor = picture.rgb_within(side)
        rgba = make_cutout(self.matter, model, small, fine_edges=False, settled=False).rgba
        if factor < 1.0:
            scaled = resize_float(rgba.astype(np.float32), width, height)
            rgba = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
        return self.codec.encode(np.ascontiguousarray(rgba))

    def _salient(
        self, picture: Picture, model: str, fine_edges: bool, job_timings: Mapping[str, float]
    ) -> Salient:
        """Run the model: decode → infer → refine → confidence → encode, each stage timed."""
        t0 = time.perf_counter()
        rgb = picture.rgb()
        timings = {**job_timings, "decode": time.perf_counter() - t0}
        person = self.person_route()
        router: PersonRouter | None = None
        detections: tuple[Detection, ...] | None = None
        if person is not None:  # the route is decided on what the detector finds
            t0 = time.perf_counter()
            detections = self._detect(picture)
            timings["detect"] = time.perf_counter() - t0
            router = PersonRouter(self.matter, person, detections, self.face_detector())
        cut = make_cutout(self.matter, model, rgb, fine_edges=fine_edges, router=router)
        rgba = np.ascontiguousarray(cut.rgba)
        timings.update(cut.timings)
        t0 = time.perf_counter()
        png = self.codec.encode(rgba)
        timings["encode"] = time.perf_counter() - t0
        return Salient(
            png=png,
            width=rgba.shape[1],
            height=rgba.shape[0],
            confidence=float(cut.confidence),
            scaled_from=picture.scaled_from,
            detections=detections,
            timings={k: round(v, 4) for k, v in timings.items()},
            route=cut.route or "salient (person routing off)",
        )

    def _detect(self, picture: Picture) -> tuple[Detection, ...]:
        """Detections in matte coordinates (the detector looks at a ≤ DETECT_SIDE copy)."""
        small, factor = picture.rgb_within(DETECT_SIDE)
        inv = 1.0 / factor
        return tuple(
            Detection(
                (d.box[0] * inv, d.box[1] * inv, d.box[2] * inv, d.box[3] * inv),
                d.score,
                d.coco_class,
                d.hint_class,
            )
            for d in self.detector().detect(small)
        )


__all__ = [
    "DETECTOR",
    "DETECT_SIDE",
    "MATTE_MAX_PIXELS",
    "Codec",
    "Made",
    "MatteModels",
    "MatteOutcome",
    "Picture",
    "Salient",
]
