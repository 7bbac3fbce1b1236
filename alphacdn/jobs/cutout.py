"""One cut-out, start to finish: original bytes → upright sRGB pixels → model → refined RGBA PNG.

The wiring's glue between `alphacdn.engine` (decode / encode) and `alphacdn.models` (inference,
refinement, confidence, detector, hint selection). Blocking; callers run it in a worker thread.

Mattes are keyed by the source's content (md5) rather than its public_id, so the same bytes
uploaded twice, or sent to the remove.bg API and the CDN, are matted once. A hinted matte is the
salient matte with objects of other classes removed: the salient matte and the detections are
cached once per content (`salient_key`) and shared by every hint combination.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from alphacdn import engine
from alphacdn.cache import DerivedCache, matte_key
from alphacdn.models import Matter, ModelMissing, make_cutout, user_model
from alphacdn.models.detector import (
    Detection,
    Detector,
    detections_from_json,
    detections_to_json,
)
from alphacdn.models.hints import select_by_hints
from alphacdn.settings import CACHE_SIZE, Settings
from alphacdn.transform.errors import InvalidImage

#: mattes are refined at full resolution up to this many pixels; bigger sources are scaled down
#: (and say so in `X-Alphacdn-Matte-Scaled`): refinement memory grows with the pixel count
MATTE_MAX_PIXELS = 16_000_000
#: the detector sees a copy of the image at most this long (its input is 512²)
DETECT_SIDE = 1024
DETECTOR = "centernet-coco"


def content_id(source: bytes) -> str:
    """What mattes are keyed by: the md5 of the source bytes (= the asset's etag)."""
    return hashlib.md5(source, usedforsecurity=False).hexdigest()


def removal_options(fine_edges: bool, hints: tuple[str, ...]) -> str:
    """The canonical option text that, with the model and content, names one matte."""
    parts = [f"fineedges_{'y' if fine_edges else 'n'}"]
    if hints:
        parts.append("hints_(" + ";".join(sorted(hints)) + ")")
    return ";".join(parts)


def cutout_key(etag: str, model: str, fine_edges: bool, hints: tuple[str, ...]) -> str:
    return matte_key("content", etag, 0, model, removal_options(fine_edges, hints))


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
    detected: tuple[Detection, ...] = ()
    #: seconds per stage of the job that made the matte (`decode`, `inference`, `upsample`,
    #: `fine_edges`, `decontaminate`, `encode`, `store`; `queued` for a queued job), plus
    #: wall-clock epoch seconds `submitted_at` (job created) and `ready_at` (matte entry
    #: written). Empty when the matte came from the cache.
    timings: dict[str, float] = field(default_factory=dict)
    #: the matte cache key `png` is already stored under (the salient matte), else None
    stored_as: str | None = None

    def headers(self) -> dict[str, str]:
        h = {"X-Alphacdn-Confidence": f"{self.confidence:.3f}"}
        if self.scaled_from:
            w, h0 = self.scaled_from
            h["X-Alphacdn-Matte-Scaled"] = f"{self.width}x{self.height} from {w}x{h0}"
        if self.hints:
            h["X-Alphacdn-Hints"] = self.hints_report or "none-detected"
            h["X-Alphacdn-Hints-Matched"] = "yes" if self.matched else "no (full matte served)"
        if self.timings:  # seconds spent by the job that made the matte (Server-Timing style)
            h["X-Alphacdn-Matte-Timings"] = format_timings(self.timings)
        return h

    def result_json(self) -> dict[str, Any]:
        return {
            "confidence": self.confidence,
            "width": self.width,
            "height": self.height,
            "hints": self.hints_report,
            "hints_matched": self.matched,
            "timings": self.timings,
        }


def format_timings(timings: Mapping[str, float]) -> str:
    """`k=v;k=v`, keys sorted, 3 decimals (epoch seconds keep their milliseconds)."""
    return ";".join(f"{k}={v:.3f}" for k, v in sorted(timings.items()))


#: the setting that sizes the matte cache (named in MatteTooLarge's message)
CACHE_SIZE_VARIABLE = CACHE_SIZE.name


def _size_text(n: float, *, round_up: bool = False) -> str:
    """`61.2 KB`, `1.3 GB` (binary units, as ALPHACDN_* sizes are read); `round_up` never
    shows less than `n`."""
    if n < 1024:
        return f"{math.ceil(n)} B"
    units = ["KB", "MB", "GB", "TB"]
    n /= 1024
    while n >= 1024 and len(units) > 1:
        n /= 1024
        units.pop(0)
    return f"{(math.ceil(n * 10) / 10 if round_up else n):.1f} {units[0]}"


class MatteTooLarge(InvalidImage):
    """A cut-out the matte cache refuses (over its per-entry limit). Fatal for a delivery job,
    whose only product is the cached matte; the remove.bg API and upload-time removal use the
    PNG directly and only lose the cache. `job_result` records the sizes with the failed job, so
    a later request can run it again once the cache accepts the matte."""

    def __init__(self, png_bytes: int, limit: int | None, cache_size: int) -> None:
        name = CACHE_SIZE_VARIABLE
        accepts = needed = ""
        if limit is not None and limit > 0:
            ratio = cache_size / limit
            share = f"1/{round(ratio)}" if abs(ratio - round(ratio)) < 0.01 else f"{1 / ratio:.2%}"
            accepts = f" ({_size_text(limit)}, {share} of {name} = {_size_text(cache_size)})"
            # a little over the exact figure: the cache rounds its shares down to whole bytes
            needed = f" to at least {_size_text(png_bytes * ratio * 1.01, round_up=True)}"
        super().__init__(
            f"cut-out PNG is {_size_text(png_bytes)}, larger than the matte cache accepts per "
            f"entry{accepts}; raise {name}{needed}"
        )
        self.job_result: dict[str, Any] = {"matte_bytes": png_bytes, "matte_limit": limit}

    @staticmethod
    def fits_now(result: Mapping[str, Any] | None, limit: int | None) -> bool:
        """True when `result` is a failed job's record of a refused matte and the cache's
        per-entry `limit` now accepts that matte (the operator raised the cache size)."""
        size = (result or {}).get("matte_bytes")
        return isinstance(size, int) and (limit is None or size <= limit)


def store_matte(
    derived: DerivedCache,
    key: str,
    png: bytes,
    meta: Mapping[str, Any],
    timings: dict[str, float],
    *,
    tag: str,
) -> bool:
    """Write a matte entry; add `store` (seconds, incl. fsync) to `timings`. False when the
    matte cache refuses the PNG as larger than its per-entry limit (nothing is stored).

    `ready_at` is stamped into `timings` (and the entry's headers) as the write begins: the
    headers are part of the entry, so they cannot carry the write's own end."""
    t0 = time.perf_counter()
    stored = derived.put_matte(key, png, meta, tag=tag)
    timings["store"] = round(time.perf_counter() - t0, 4)
    return stored


class CutoutMaker:
    """Owns the model sessions (created once, shared) and makes cut-outs from source bytes."""

    def __init__(self, settings: Settings, derived: DerivedCache) -> None:
        m = settings.models
        user = None
        if m.user_model_path is not None:
            user = user_model(
                m.user_model_path, m.user_model_size, m.user_model_mean, m.user_model_std
            )
        self.matter = Matter(m.models_dir, ort_threads=m.ort_threads, user_model=user)
        self.derived = derived
        self.max_pixels = settings.engine.max_source_pixels
        self._detector: Detector | None = None
        self._detector_lock = threading.Lock()
        self._ort_threads = m.ort_threads
        #: model inferences per asset tag in this process (exposed in /metrics)
        self.model_runs: dict[str, int] = {}

    def missing_message(self, model: str) -> str | None:
        """None if the model is installed, else the message naming the install command."""
        try:
            self.matter.check(model)
        except (ModelMissing, KeyError) as exc:
            return str(exc).strip("'\"")
        return None

    def estimated_seconds(self, model: str) -> float:
        return float(self.matter.estimated_seconds(model))

    def detector(self) -> Detector:
        with self._detector_lock:
            if self._detector is None:
                path = self.matter.check(DETECTOR)
                self._detector = Detector(path, threads=self._ort_threads)
            return self._detector

    def make(
        self,
        source: bytes,
        model: str,
        *,
        fine_edges: bool,
        hints: tuple[str, ...],
        tag: str,
        detect: bool = False,
        job_timings: Mapping[str, float] | None = None,
    ) -> MatteOutcome:
        """The cut-out of `source` (salient matte cached and shared; hints applied on it).
        `detect` runs the detector even without hints (the remove.bg API reports the type).
        `job_timings` (the job's `submitted_at`, `queued`) join the matte's timings."""
        etag = content_id(source)
        salient_key = cutout_key(etag, model, fine_edges, ())
        cached = self.derived.get_matte(salient_key)
        t0 = time.perf_counter()
        info = engine.probe(source)  # the header: upright size, without decoding
        engine.check_pixels(info, self.max_pixels)
        scaled_from = None
        scale = 1.0
        if info.pixels > MATTE_MAX_PIXELS:
            scaled_from = (info.width, info.height)
            scale = math.sqrt(MATTE_MAX_PIXELS / info.pixels)
        decoded: list[Any] = []

        def image() -> Any:
            """The upright (scaled) source, decoded on first use: a cached matte whose
            detections are cached too needs no pixels."""
            if not decoded:
                full = engine.load(source, max_pixels=self.max_pixels)
                decoded.append(engine.scale_image(full, scale) if scaled_from else full)
            return decoded[0]

        timings: dict[str, float] = {}
        if cached is not None:
            meta = dict(cached.meta)
            rgba = engine.decode_rgba_png(cached.body)
            png, confidence = cached.body, float(meta["confidence"])
            stored = True
        else:
            rgb = engine.to_rgb_array(image())
            timings = {**(job_timings or {}), "decode": time.perf_counter() - t0}
            rgba, png, confidence, meta, stored = self._salient(
                rgb, model, fine_edges, salient_key, tag, scaled_from, timings
            )
        if not hints:
            found = self._detections(image, salient_key, meta, tag) if detect else []
            return MatteOutcome(
                png=png,
                width=rgba.shape[1],
                height=rgba.shape[0],
                confidence=confidence,
                scaled_from=scaled_from,
                hints=(),
                hints_report="",
                detected=tuple(found),
                timings=timings,
                stored_as=salient_key if stored else None,
            )
        detections = self._detections(image, salient_key, meta, tag)
        selection = select_by_hints(np.ascontiguousarray(rgba[..., 3]), detections, hints)
        out = rgba.copy()
        out[..., 3] = selection.alpha
        t0 = time.perf_counter()
        hinted_png = engine.encode_rgba_png(out)
        if timings:  # the hinted matte's own encode (the salient one's is `encode`)
            timings = {**timings, "encode_hinted": round(time.perf_counter() - t0, 4)}
        return MatteOutcome(
            png=hinted_png,
            width=out.shape[1],
            height=out.shape[0],
            confidence=confidence,
            scaled_from=scaled_from,
            hints=hints,
            hints_report=selection.summary(),
            matched=selection.matched,
            detected=tuple(detections),
            timings=timings,
        )

    def _salient(
        self,
        rgb: np.ndarray,
        model: str,
        fine_edges: bool,
        key: str,
        tag: str,
        scaled_from: tuple[int, int] | None,
        timings: dict[str, float],
    ) -> tuple[np.ndarray, bytes, float, dict[str, Any], bool]:
        """Run the model on `rgb`, store the salient matte (best effort: the last value says
        whether the cache took it); adds the stage seconds to `timings`."""
        cut = make_cutout(self.matter, model, rgb, fine_edges=fine_edges)
        self.model_runs[tag] = self.model_runs.get(tag, 0) + 1
        rgba = np.ascontiguousarray(cut.rgba)
        confidence = float(cut.confidence)
        timings.update(cut.timings)
        t0 = time.perf_counter()
        png = engine.encode_rgba_png(rgba)
        timings["encode"] = time.perf_counter() - t0
        for k, v in timings.items():
            timings[k] = round(v, 4)
        timings["ready_at"] = time.time()
        # the full headers now: a poll may render from this entry before the job finishes
        headers = MatteOutcome(
            png=b"",
            width=rgba.shape[1],
            height=rgba.shape[0],
            confidence=confidence,
            scaled_from=scaled_from,
            hints=(),
            hints_report="",
            timings=timings,
        ).headers()
        meta = {"confidence": confidence, "headers": headers}
        stored = store_matte(self.derived, key, png, meta, timings, tag=tag)
        return rgba, png, confidence, meta, stored

    def _detections(
        self, upright: Callable[[], Any], salient_key: str, meta: dict[str, Any], tag: str
    ) -> list[Detection]:
        """Detections on the image, once per content (kept in the salient matte's metadata)."""
        if "detections" in meta:
            return detections_from_json(str(meta["detections"]))
        image = upright()
        factor = min(1.0, DETECT_SIDE / max(image.width, image.height))
        small = engine.scale_image(image, factor) if factor < 1.0 else image
        found = self.detector().detect(engine.to_rgb_array(small))
        inv = 1.0 / factor
        detections = [
            Detection(
                (d.box[0] * inv, d.box[1] * inv, d.box[2] * inv, d.box[3] * inv),
                d.score,
                d.coco_class,
                d.hint_class,
            )
            for d in found
        ]
        cached = self.derived.get_matte(salient_key)
        if cached is not None:
            self.derived.put_matte(
                salient_key,
                cached.body,
                {**cached.meta, "detections": detections_to_json(detections)},
                tag=tag,
            )
        return detections


__all__ = [
    "CACHE_SIZE_VARIABLE",
    "MATTE_MAX_PIXELS",
    "CutoutMaker",
    "MatteOutcome",
    "MatteTooLarge",
    "content_id",
    "cutout_key",
    "format_timings",
    "removal_options",
    "store_matte",
]
