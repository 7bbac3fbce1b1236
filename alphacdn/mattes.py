"""`Mattes`: the one way to a matte, and the only writer of the matte cache.

    delivery      get(asset, removal) ── cached → (PNG, headers)
                                      └─ ensure: a job, once per key (≤ queue_max) → 423, or
                                         held until ready (ALPHACDN_MATTE_WAIT)
    job runner    handle(record) ─────────┐
    remove.bg     cutout(etag, read, …) ──┼→ single flight per key (in this process, and across
    upload, eager cutout(etag, read, …) ──┘  processes by claim) → an inference slot → run
    run           models.MatteModels.make (pure) → the matte cache (salient matte, this key)

Mattes are keyed by content: `(md5 of the source bytes, model, the canonical text of the
background-removal step)`, so the same bytes under two public_ids, or sent to the remove.bg API
and to the CDN, are matted once. Job state lives in the persisted job store, so a restart
re-queues jobs left "running" by a dead process and keeps the queued ones. A failed job answers
its error (422), never an eternal 423; so does a matte too large for the matte cache.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import anyio
import anyio.to_thread

from alphacdn import engine
from alphacdn.cache import (
    AssetRecord,
    DerivedStore,
    Entry,
    JobRecord,
    JobStore,
    OriginalsStore,
    QueueFull,
    SingleFlight,
    matte_key,
)
from alphacdn.jobs.runner import JobRunner
from alphacdn.matte_entries import (
    entry_meta,
    outcome_of,
    salient_of,
    salient_outcome,
    with_detections,
)
from alphacdn.matte_errors import MatteTooLarge
from alphacdn.models import Matter, user_model
from alphacdn.models.detector import Detection
from alphacdn.models.matting import MATTE_MAX_PIXELS, Codec, MatteModels, MatteOutcome
from alphacdn.settings import JobSettings, ModelSettings
from alphacdn.transform import canonical_step
from alphacdn.transform.errors import InvalidImage, MatteInProgress, ServiceUnavailable
from alphacdn.transform.steps import BackgroundRemoval

log = logging.getLogger("alphacdn.jobs")

#: the job kind of a delivery's matte
KIND = "matte"
#: weight of the newest job in the moving average of refinement + I/O seconds per pixel
_EMA_WEIGHT = 0.3
#: a held request looks at the job store at least this often (a job in another worker process
#: cannot wake it)
_WAIT_RECHECK = 1.0


def content_id(source: bytes) -> str:
    """What mattes are keyed by: the md5 of the source bytes (= the asset's etag)."""
    return hashlib.md5(source, usedforsecurity=False).hexdigest()


def content_matte_key(etag: str, model: str, removal: BackgroundRemoval) -> str:
    """The matte cache (and job) key of `removal` on the content `etag` with `model`."""
    return matte_key("content", etag, 0, model, canonical_step(removal))


def matte_models(settings: ModelSettings) -> MatteModels:
    """The model sessions (made on first use) and the engine's PNG codec, from the settings."""
    user = None
    if settings.user_model_path is not None:
        user = user_model(
            settings.user_model_path,
            settings.user_model_size,
            settings.user_model_mean,
            settings.user_model_std,
        )
    matter = Matter(settings.models_dir, ort_threads=settings.ort_threads, user_model=user)
    codec = Codec(encode=engine.encode_rgba_png, decode=engine.decode_rgba_png)
    return MatteModels(matter, codec, detector_threads=settings.ort_threads)


@dataclass(frozen=True, slots=True)
class MatteJob:
    """What a queued matte job needs, as stored in the job payload."""

    cloud: str
    public_id: str
    version: int
    model: str
    fine_edges: bool
    hints: tuple[str, ...]
    #: the content's md5 ("" in jobs queued before it was recorded: computed from the bytes)
    etag: str = ""

    @property
    def removal(self) -> BackgroundRemoval:
        return BackgroundRemoval(self.fine_edges, self.hints)

    def payload(self) -> dict[str, Any]:
        return {
            "cloud": self.cloud,
            "public_id": self.public_id,
            "version": self.version,
            "model": self.model,
            "fine_edges": self.fine_edges,
            "hints": list(self.hints),
            "etag": self.etag,
        }

    @classmethod
    def of(cls, asset: AssetRecord, model: str, removal: BackgroundRemoval) -> MatteJob:
        """The job that makes `removal`'s matte of the asset as it is now."""
        return cls(
            asset.cloud,
            asset.public_id,
            asset.version,
            model,
            removal.fine_edges,
            removal.hints,
            asset.etag,
        )

    @classmethod
    def from_payload(cls, p: dict[str, Any]) -> MatteJob:
        return cls(
            str(p["cloud"]),
            str(p["public_id"]),
            int(p["version"]),
            str(p["model"]),
            bool(p["fine_edges"]),
            tuple(p.get("hints", ())),
            str(p.get("etag", "")),
        )


class _Waiters:
    """Requests held for one matte key, and the event that wakes them."""

    def __init__(self) -> None:
        self.event = anyio.Event()
        self.count = 0


class Mattes:
    """Gets, queues and makes mattes for every caller, with one queue bound and one flight."""

    def __init__(
        self,
        *,
        model: str,
        settings: JobSettings,
        cache_size: int,
        max_source_pixels: int,
        originals: OriginalsStore,
        store: DerivedStore,
        jobs: JobStore,
        runner: JobRunner,
        flight: SingleFlight,
        models: MatteModels,
    ) -> None:
        """`cache_size` is the setting the matte cache's share is taken from (named when a
        matte is too large); `flight` deduplicates runs per matte key."""
        self.model = model
        self.settings = settings
        self.cache_size = cache_size
        self.max_source_pixels = max_source_pixels
        self.originals = originals
        self.store = store
        self.jobs = jobs
        self.runner = runner
        self.flight = flight
        self.models = models
        #: inference slots of this process, shared by jobs and direct callers
        self._slots = anyio.CapacityLimiter(max(1, settings.concurrency))
        #: matte jobs run per asset tag in this process (exposed in /metrics)
        self.job_runs: dict[str, int] = {}
        #: model inferences per asset tag in this process (exposed in /metrics)
        self.model_runs: dict[str, int] = {}
        #: (model, fine_edges) → moving average of a job's seconds besides inference, per pixel
        self._rest_per_pixel: dict[tuple[str, bool], float] = {}
        #: matte key → the requests held for it; set when a job for it ends in this process
        self._finished: dict[str, _Waiters] = {}

    def key(self, etag: str, removal: BackgroundRemoval) -> str:
        """The matte key of `removal` on the content `etag`."""
        return content_matte_key(etag, self.model, removal)

    def missing_message(self) -> str | None:
        """None if the model is installed, else the message naming the install command."""
        return self.models.missing_message(self.model)

    def counters(self) -> dict[str, Any]:
        """This process's matte counters for /metrics."""
        return {
            "matte_jobs": dict(self.job_runs),
            "model_runs": dict(self.model_runs),
            "models_loaded": self.models.matter.loaded(),
        }

    # ── get: the delivery side ──────────────────────────────────────────────────────────────
    async def get(
        self, asset: AssetRecord, removal: BackgroundRemoval
    ) -> tuple[bytes, dict[str, str]]:
        """The cut-out for `removal`, or raise 423 (started/queued), 422 (failed), 503.

        With `jobs.matte_wait_seconds` > 0 a request for a matte in progress is held until the
        matte is ready (then served) or the wait is over (then 423 as usual): it wakes when a job
        of this process finishes, and looks again every second for a job of another worker."""
        key = self.key(asset.etag, removal)
        wait = self.settings.matte_wait_seconds
        if wait <= 0:
            return await self._look(asset, removal, key)
        deadline = anyio.current_time() + wait
        # registered before looking, so a job that finishes in between still wakes us
        finished = self._finished.setdefault(key, _Waiters())
        finished.count += 1
        try:
            while True:
                try:
                    return await self._look(asset, removal, key)
                except MatteInProgress:
                    left = deadline - anyio.current_time()
                    if left <= 0:
                        raise
                with anyio.move_on_after(min(left, _WAIT_RECHECK)):
                    await finished.event.wait()
                if finished.event.is_set():  # that job ended: wait on the next one, if any
                    finished.count -= 1
                    finished = self._finished.setdefault(key, _Waiters())
                    finished.count += 1
        finally:
            finished.count -= 1
            if finished.count == 0 and self._finished.get(key) is finished:
                del self._finished[key]  # nobody waits (e.g. the job ran in another worker)

    async def _look(
        self, asset: AssetRecord, removal: BackgroundRemoval, key: str
    ) -> tuple[bytes, dict[str, str]]:
        """One look: the cached cut-out, or raise 423 / 422 / 503 (starting the job if needed).

        Clients poll this while it answers 423, so the common answers cost one thread hop: on
        2 cores every wake-up competes with the running inference's two threads."""

        def probe() -> tuple[Entry | None, JobRecord | None, int]:
            found = self.store.get_matte(key)
            if found is not None:
                return found, None, 0
            record = self.jobs.get(key)
            in_progress = record is not None and record.status in ("queued", "running")
            return None, record, self.jobs.depth() if in_progress else 0

        found, record, depth = await anyio.to_thread.run_sync(probe)
        if found is not None:
            return found.body, dict(found.meta.get("headers", {}))
        if record is None or record.status not in ("queued", "running"):
            record = await self.ensure(asset, removal)
            depth = await anyio.to_thread.run_sync(self.jobs.depth)
        raise self._in_progress(asset, removal, record, depth)

    # ── ensure: queue once per key ───────────────────────────────────────────────────────────
    async def ensure(self, asset: AssetRecord, removal: BackgroundRemoval) -> JobRecord:
        """The job that makes this matte: found, or submitted once (atomic across workers).
        Raises the failed job's error (422), or 503 when the model is missing or the queue is
        full. A finished job whose matte is gone, or a failed one that could now succeed, runs
        again."""
        key = self.key(asset.etag, removal)
        record = await anyio.to_thread.run_sync(self.jobs.get, key)
        stale = record is not None and (
            record.status == "done"  # finished, but the matte was evicted or invalidated
            or (
                record.status == "failed"
                and (
                    record.payload.get("version") != asset.version
                    # refused as too large for the matte cache, which now accepts it
                    or MatteTooLarge.fits_now(record.result, self.store.max_matte_bytes())
                )
            )
        )
        if record is not None and record.status == "failed" and not stale:
            raise InvalidImage(f"Background removal failed: {record.error}")
        if record is not None and not stale:
            return record
        if stale:
            # run again from the asset as it is now: the old payload may name a version an
            # overwrite no longer keeps (mattes are keyed by content, so the key is the same)
            await anyio.to_thread.run_sync(self.jobs.delete, key)
        missing = self.missing_message()
        if missing:
            raise ServiceUnavailable(missing)
        job = MatteJob.of(asset, self.model, removal)
        limit = self.settings.queue_max
        try:
            submitted, created = await anyio.to_thread.run_sync(
                lambda: self.jobs.submit(key, KIND, job.payload(), limit=limit)
            )
        except QueueFull:
            raise self._queue_full() from None
        if created:
            self.runner.wake()
        return submitted

    def _queue_full(self) -> ServiceUnavailable:
        limit = self.settings.queue_max
        return ServiceUnavailable(
            f"Background removal queue is full ({limit} jobs); try again later",
            retry_after=self.retry_after(limit),
        )

    def _in_progress(
        self, asset: AssetRecord, removal: BackgroundRemoval, record: JobRecord, depth: int
    ) -> MatteInProgress:
        per_job = self.estimated_seconds(removal.fine_edges, asset.width * asset.height)
        if record.status == "running":
            started = record.started_at if record.started_at is not None else record.updated_at
            # half the estimated remainder: the estimate is a moving average and often long
            # on a busy machine; a few cheap extra polls beat sleeping past the finish
            wait = max(1, math.ceil((per_job - (time.time() - started)) / 2))
        else:
            wait = self.retry_after(depth, per_job)
        return MatteInProgress(
            f"Background removal in progress for {asset.public_id} ({record.status}); "
            "retry shortly",
            retry_after=wait,
        )

    def estimated_seconds(self, fine_edges: bool, pixels: int) -> float:
        """A job's likely seconds from claim to stored matte: measured inference (moving
        average) plus what this process measured for the rest (decode, refinement, encode,
        store) per pixel; inference alone until a job has finished here."""
        rest = self._rest_per_pixel.get((self.model, fine_edges), 0.0)
        return self.models.estimated_seconds(self.model) + rest * pixels

    def retry_after(self, depth: int, per_job: float | None = None) -> int:
        """Seconds until a new job is likely done: queue depth × seconds per matte."""
        if per_job is None:
            per_job = self.models.estimated_seconds(self.model)
        runners = max(1, self.settings.concurrency)
        return max(1, math.ceil(per_job * max(1, depth) / runners))

    # ── cutout: now, for the callers that use the cut-out itself ─────────────────────────────
    async def cutout(
        self,
        etag: str,
        read: Callable[[], bytes],
        removal: BackgroundRemoval,
        *,
        tag: str,
        detect: bool = False,
        must_store: bool = False,
    ) -> MatteOutcome:
        """The cut-out of the content `etag` (`read` returns its bytes; blocking, called in a
        worker thread only when the matte must be made). Waits for a run of the same matte in
        progress anywhere on this host instead of starting a second one. `detect` also reports
        what the detector finds; `must_store` raises MatteTooLarge (422) when the matte cache
        refuses the matte (eager work's product is what the cache holds). 503 when more than
        `jobs.queue_max` runs wait for an inference slot in this process."""
        key = self.key(etag, removal)
        outcome = await self._made(key, etag, read, removal, tag=tag, detect=detect)
        if must_store and not outcome.stored:
            raise self._too_large(outcome)
        return outcome

    async def _made(
        self,
        key: str,
        etag: str | None,
        read: Callable[[], bytes],
        removal: BackgroundRemoval,
        *,
        tag: str,
        detect: bool = False,
        times: dict[str, float] | None = None,
    ) -> MatteOutcome:
        """The matte of `key`: cached, or run once for every caller on this host. A job
        (`times` given) was bounded by the queue when it was submitted."""

        async def produce(with_detect: bool) -> MatteOutcome:
            missing = self.missing_message()
            if missing:
                raise ServiceUnavailable(missing)
            waiting = self._slots.statistics().tasks_waiting
            if times is None and waiting >= self.settings.queue_max:
                raise self._queue_full()
            return await anyio.to_thread.run_sync(
                lambda: self.run(
                    key, etag, read(), removal, tag=tag, detect=with_detect, times=times
                ),
                limiter=self._slots,
            )

        def cached(need_detections: bool) -> MatteOutcome | None:
            entry = self.store.get_matte(key)
            if entry is None or (need_detections and "detections" not in entry.meta):
                return None
            return outcome_of(entry)

        outcome = await self.flight.run(key, lambda: produce(detect), lambda: cached(False))
        if detect and outcome.detected is None:
            # made by a caller that did not ask for detections: the detector alone, once
            outcome = await self.flight.run(
                key + ":detect", lambda: produce(True), lambda: cached(True)
            )
        return outcome

    # ── run: the models' work, then the matte cache writes ───────────────────────────────────
    def run(
        self,
        key: str,
        etag: str | None,
        source: bytes,
        removal: BackgroundRemoval,
        *,
        tag: str,
        detect: bool = False,
        times: dict[str, float] | None = None,
    ) -> MatteOutcome:
        """Blocking: make `removal`'s cut-out of `source` and store it under `key`, beside the
        salient matte (and detections) every hint set of this content shares."""
        salient_key = self.key(etag or content_id(source), BackgroundRemoval(removal.fine_edges))
        cached = self.store.get_matte(salient_key)
        picture = engine.Picture(
            source, max_pixels=self.max_source_pixels, fit_pixels=MATTE_MAX_PIXELS
        )
        made = self.models.make(
            picture,
            self.model,
            fine_edges=removal.fine_edges,
            hints=removal.hints,
            salient=salient_of(cached) if cached is not None else None,
            detect=detect,
            job_timings=times,
        )
        if made.inferred:
            self.model_runs[tag] = self.model_runs.get(tag, 0) + 1
        if cached is not None and made.detected and not made.inferred:
            # detections join the cached entry; its headers still describe the job that made it
            meta = with_detections(cached.meta, made.salient.detections)
            self.store.put_matte(salient_key, cached.body, meta, tag=tag)
        if key == salient_key:
            if made.inferred:
                return self._put(key, made.outcome, tag, made.salient.detections)
            return made.outcome
        if made.inferred:
            self._put(salient_key, salient_outcome(made.salient), tag, made.salient.detections)
        return self._put(key, made.outcome, tag)

    def _put(
        self,
        key: str,
        outcome: MatteOutcome,
        tag: str,
        detections: tuple[Detection, ...] | None = None,
    ) -> MatteOutcome:
        """Write a matte entry (best effort: `stored` says whether the cache took it); a new
        matte's timings get `ready_at` (stamped as the write begins: the headers are part of
        the entry, so they cannot carry the write's own end) and `store` (seconds, with fsync)."""
        timings = dict(outcome.timings)
        if timings:
            timings["ready_at"] = time.time()
        outcome = replace(outcome, timings=timings)
        t0 = time.perf_counter()
        stored = self.store.put_matte(key, outcome.png, entry_meta(outcome, detections), tag=tag)
        if timings:
            timings["store"] = round(time.perf_counter() - t0, 4)
        return replace(outcome, stored=stored)

    def _too_large(self, outcome: MatteOutcome) -> MatteTooLarge:
        return MatteTooLarge(len(outcome.png), self.store.max_matte_bytes(), self.cache_size)

    # ── the job handler ──────────────────────────────────────────────────────────────────────
    async def handle(self, record: JobRecord) -> dict[str, Any]:
        """Job handler for kind `matte`: make the matte, store it; MatteTooLarge (the job's
        only product is the cached matte) when the cache refuses it."""
        job = MatteJob.from_payload(record.payload)
        claimed = record.started_at if record.started_at is not None else record.updated_at
        times = {"submitted_at": record.created_at, "queued": round(claimed - record.created_at, 4)}
        tag = f"{job.cloud}/{job.public_id}"
        t0 = time.perf_counter()
        try:
            outcome = await self._made(
                record.key,
                job.etag or None,
                lambda: self.originals.read(job.cloud, job.public_id, version=job.version),
                job.removal,
                tag=tag,
                times=times,
            )
            if not outcome.stored:
                raise self._too_large(outcome)
        finally:
            self._wake(record.key)
        took = time.perf_counter() - t0
        self.job_runs[tag] = self.job_runs.get(tag, 0) + 1
        if "inference" in outcome.timings and not job.hints:
            pixels = outcome.width * outcome.height
            rest = max(0.0, took - outcome.timings["inference"]) / max(1, pixels)
            k = (job.model, job.fine_edges)
            prev = self._rest_per_pixel.get(k)
            self._rest_per_pixel[k] = rest if prev is None else prev + _EMA_WEIGHT * (rest - prev)
        return outcome.result_json()

    def _wake(self, key: str) -> None:
        """Wake the requests held for `key` (its job ended here, done or failed)."""
        finished = self._finished.pop(key, None)
        if finished is not None:
            finished.event.set()


__all__ = [
    "KIND",
    "MatteJob",
    "Mattes",
    "content_id",
    "content_matte_key",
    "matte_models",
]
