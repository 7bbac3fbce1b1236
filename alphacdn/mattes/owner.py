"""`Mattes`: the one way to a matte (get, ensure, cutout, run) and the only writer of the matte
cache; see the package docstring for the flow."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import anyio
import anyio.to_thread

from alphacdn import engine
from alphacdn.cache import (
    AssetRecord,
    DerivedStore,
    Entry,
    FailureKind,
    JobQueue,
    JobRecord,
    OriginalsStore,
    QueueFull,
    SingleFlight,
)
from alphacdn.jobs.runner import JobRunner
from alphacdn.mattes.entries import (
    entry_meta,
    outcome_of,
    salient_of,
    with_detections,
)
from alphacdn.mattes.errors import MatteTooLarge
from alphacdn.mattes.holds import Holds
from alphacdn.mattes.job import KIND, MatteJob, content_id, content_matte_key
from alphacdn.models.detector import Detection
from alphacdn.models.matting import MATTE_MAX_PIXELS, MatteModels, MatteOutcome, Salient
from alphacdn.settings import JobSettings
from alphacdn.transform.errors import InvalidImage, MatteInProgress, ServiceUnavailable
from alphacdn.transform.steps import BackgroundRemoval

#: weight of the newest job in the moving average of refinement + I/O seconds per pixel
_EMA_WEIGHT = 0.3
#: the longest back-off before a job abandoned by dying workers runs again (seconds)
_MAX_BACKOFF = 3600


class Mattes:
    """Gets, queues and makes mattes for every caller, with one queue bound and one flight."""

    def __init__(
        self,
        *,
        model: str,
        settings: JobSettings,
        cache_size: int,
        max_source_pixels: int,
        max_source_side: int,
        originals: OriginalsStore,
        store: DerivedStore,
        jobs: JobQueue,
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
        self.max_source_side = max_source_side
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
        #: delivery requests held for a matte in progress (`jobs.matte_wait_seconds`)
        self.holds = Holds()

    def key(self, etag: str, removal: BackgroundRemoval) -> str:
        """The matte key of `removal` on the content `etag`."""
        return content_matte_key(etag, self.models.route_tag(self.model), removal)

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
        return await self.holds.hold(key, wait, lambda: self._look(asset, removal, key))

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
        Raises the failed job's error (422), or 503 when the model is missing, the queue is
        full, or the job's workers died and its back-off is not over. A finished job whose
        matte is gone, a failed one that could now succeed, or one its workers abandoned (after
        the back-off) runs again."""
        key = self.key(asset.etag, removal)
        record = await anyio.to_thread.run_sync(self.jobs.get, key)
        rounds = 0  # how often this matte's workers died on it (a back-off per round)
        if record is not None and record.failure is FailureKind.ABANDONED:
            # its workers died (deploys, OOM): nothing says the job is at fault, so it runs
            # again, after a back-off that doubles per round (a job that kills its worker
            # every time costs a few attempts an hour, not a crash loop)
            rounds = int(record.payload.get("abandoned_rounds", 0)) + 1
            backoff = min(_MAX_BACKOFF, self.settings.retry_seconds * 2 ** (rounds - 1))
            wait = record.updated_at + backoff - time.time()
            if wait > 0:
                raise ServiceUnavailable(
                    f"Background removal was interrupted ({record.error}); it runs again shortly",
                    retry_after=math.ceil(wait),
                )
        stale = record is not None and (
            record.status == "done"  # finished, but the matte was evicted or invalidated
            or rounds > 0
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
        payload = job.payload() | ({"abandoned_rounds": rounds} if rounds else {})
        limit = self.settings.queue_max
        try:
            submitted, created = await anyio.to_thread.run_sync(
                lambda: self.jobs.submit(key, KIND, payload, limit=limit)
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
        etag: str,
        read: Callable[[], bytes],
        removal: BackgroundRemoval,
        *,
        tag: str,
        detect: bool = False,
        times: dict[str, float] | None = None,
    ) -> MatteOutcome:
        """The matte of `key`: cached, or made once for every caller on this host. The salient
        matte comes first, under its own flight, so hinted requests of one content share one
        model run. A job (`times` given) was bounded by the queue when it was submitted."""
        plain = BackgroundRemoval(removal.fine_edges)
        salient_key = self.key(etag, plain)
        bounded = times is None
        salient = await self._flown(
            salient_key,
            etag,
            read,
            plain,
            tag=tag,
            detect=detect and not removal.hints,
            times=times,
            bounded=bounded,
        )
        if salient_key == key:
            return salient
        made = Salient(
            png=salient.png,
            width=salient.width,
            height=salient.height,
            confidence=salient.confidence,
            scaled_from=salient.scaled_from,
            detections=salient.detected,
            timings=salient.timings,
            route=salient.route,
        )
        return await self._flown(key, etag, read, removal, tag=tag, salient=made, bounded=bounded)

    async def _flown(
        self,
        key: str,
        etag: str,
        read: Callable[[], bytes],
        removal: BackgroundRemoval,
        *,
        tag: str,
        bounded: bool,
        detect: bool = False,
        times: dict[str, float] | None = None,
        salient: Salient | None = None,
    ) -> MatteOutcome:
        """The cached matte of `key`, or one `run` for every caller (in this process, and across
        processes by claim) in an inference slot; `bounded`: 503 past `queue_max` waiting."""

        async def produce(with_detect: bool) -> MatteOutcome:
            missing = self.missing_message()
            if missing:
                raise ServiceUnavailable(missing)
            if bounded and self._slots.statistics().tasks_waiting >= self.settings.queue_max:
                raise self._queue_full()
            return await anyio.to_thread.run_sync(
                lambda: self.run(
                    key,
                    etag,
                    read(),
                    removal,
                    tag=tag,
                    detect=with_detect,
                    times=times,
                    salient=salient,
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
        etag: str,
        source: bytes,
        removal: BackgroundRemoval,
        *,
        tag: str,
        detect: bool = False,
        times: dict[str, float] | None = None,
        salient: Salient | None = None,
    ) -> MatteOutcome:
        """Blocking: make `removal`'s cut-out of `source` and store it under `key`, beside the
        salient matte (and detections) every hint set of this content shares. `salient`: the
        salient matte just made (else it is read from the cache)."""
        salient_key = self.key(etag, BackgroundRemoval(removal.fine_edges))
        if salient is None:
            entry = self.store.get_matte(salient_key)
            salient = salient_of(entry) if entry is not None else None
        picture = engine.Picture(
            source,
            max_pixels=self.max_source_pixels,
            max_side=self.max_source_side,
            fit_pixels=MATTE_MAX_PIXELS,
        )
        made = self.models.make(
            picture,
            self.model,
            fine_edges=removal.fine_edges,
            hints=removal.hints,
            salient=salient,
            detect=detect,
            job_timings=times,
        )
        if made.inferred:
            self.model_runs[tag] = self.model_runs.get(tag, 0) + 1
            if key != salient_key:  # (a salient matte the cache lost meanwhile)
                self._put(salient_key, made.salient.outcome(), tag, made.salient.detections)
        elif made.detected and (entry := self.store.get_matte(salient_key)) is not None:
            # detections join the cached entry; its headers still describe the job that made it
            meta = with_detections(entry.meta, made.salient.detections)
            self.store.put_matte(salient_key, entry.body, meta, tag=tag)
        if key == salient_key and not made.inferred:
            return made.outcome
        return self._put(
            key, made.outcome, tag, made.salient.detections if key == salient_key else None
        )

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

        def read() -> bytes:
            return self.originals.read(job.cloud, job.public_id, version=job.version)

        t0 = time.perf_counter()
        try:
            outcome = await self._made(
                record.key,
                job.etag or await anyio.to_thread.run_sync(lambda: content_id(read())),
                read,
                job.removal,
                tag=tag,
                times=times,
            )
            if not outcome.stored:
                raise self._too_large(outcome)
        finally:
            self.holds.wake(record.key)  # its job ended here, done or failed
        took = time.perf_counter() - t0
        self.job_runs[tag] = self.job_runs.get(tag, 0) + 1
        if "inference" in outcome.timings and not job.hints:
            pixels = outcome.width * outcome.height
            rest = max(0.0, took - outcome.timings["inference"]) / max(1, pixels)
            k = (job.model, job.fine_edges)
            prev = self._rest_per_pixel.get(k)
            self._rest_per_pixel[k] = rest if prev is None else prev + _EMA_WEIGHT * (rest - prev)
        return outcome.result_json()


__all__ = ["Mattes"]
