"""`Mattes`: the one way to a matte (get, ensure, cutout, run) and the only writer of the matte
cache; see the package docstring for the flow."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread

from alphacdn import engine, metrics
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
    matte_headers,
    outcome_of,
    salient_of,
    with_detections,
)
from alphacdn.mattes.errors import MatteTooLarge
from alphacdn.mattes.holds import Holds
from alphacdn.mattes.job import KIND, MatteJob, content_id, content_matte_key
from alphacdn.mattes.preview import PREVIEW_HEADER, Previews
from alphacdn.models.detector import Detection
from alphacdn.models.matting import MATTE_MAX_PIXELS, MatteModels, MatteOutcome, Salient
from alphacdn.setting_values import MAX_MATTE_WAIT
from alphacdn.settings import JobSettings
from alphacdn.transform.errors import (
    CdnError,
    InvalidImage,
    MatteInProgress,
    ServiceUnavailable,
)
from alphacdn.transform.steps import BackgroundRemoval

if TYPE_CHECKING:
    from alphacdn.mattes.remote import RemoteCutouts

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
        previews: Previews | None = None,
    ) -> None:
        """`cache_size` is the setting the matte cache's share is taken from (named when a
        matte is too large); `flight` deduplicates runs per matte key; `previews`: the
        instant cut-outs answered instead of a 423 (`ALPHACDN_MATTE_PREVIEW`), None: off."""
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
        self.previews = previews
        #: inference slots of this process, shared by jobs and direct callers
        self._slots = anyio.CapacityLimiter(max(1, settings.concurrency))
        #: matte jobs run per asset tag in this process (exposed in /metrics.json)
        self.job_runs: dict[str, int] = {}
        #: model inferences per asset tag in this process (exposed in /metrics.json)
        self.model_runs: dict[str, int] = {}
        #: (model, fine_edges) → moving average of a job's seconds besides inference, per pixel
        self._rest_per_pixel: dict[tuple[str, bool], float] = {}
        #: delivery requests held for a matte in progress (`jobs.matte_wait_seconds`)
        self.holds = Holds()
        #: a process that runs no model (role web) has its cut-outs made by a worker
        self.remote: RemoteCutouts | None = None

    @property
    def runs_models(self) -> bool:
        """Whether this process runs the models itself (False on a web replica)."""
        return self.remote is None

    def key(self, etag: str, removal: BackgroundRemoval) -> str:
        """The matte key of `removal` on the content `etag`."""
        return content_matte_key(etag, self.models.route_tag(self.model), removal)

    def missing_message(self) -> str | None:
        """None if the model is installed, else the message naming the install command (a
        web replica never loads it: its workers report their own)."""
        if not self.runs_models:
            return None
        return self.models.missing_message(self.model)

    def counters(self) -> dict[str, Any]:
        """This process's matte counters for /metrics.json."""
        return {
            "matte_jobs": dict(self.job_runs),
            "model_runs": dict(self.model_runs),
            "models_loaded": self.models.matter.loaded(),
            "previews": self.previews.made if self.previews is not None else 0,
        }

    # ── get: the delivery side ──────────────────────────────────────────────────────────────
    async def get(
        self, asset: AssetRecord, removal: BackgroundRemoval
    ) -> tuple[bytes, dict[str, str]]:
        """The cut-out for `removal`, or raise 423 (started/queued), 422 (failed), 503.

        With `jobs.matte_wait_seconds` > 0 a request for a matte in progress is held until the
        matte is ready (then served) or the wait is over (then 423 as usual): it wakes when a job
        of this process finishes, and looks again every second for a job of another worker.

        With previews on (the storefront setting), no request answers 423 while a preview can
        be made: with a wait > 0, a request waits for the real matte when that is likely ready
        within the wait plus the time a preview would take (so a preview is not made when the
        real cut-out comes as soon), and is held that long at most; one whose matte would take
        longer, or whose hold ends without it, gets the small model's preview cut-out (headers
        marking it: `X-Alphacdn-Preview`), which is never cached. With a wait of 0 every request
        for a matte in progress gets the preview at once. A preview that cannot be made (its
        model missing, too many waiting) leaves the 423."""
        key = self.key(asset.etag, removal)
        wait = self.settings.matte_wait_seconds

        async def look() -> tuple[bytes, dict[str, str]]:
            return await self._look(asset, removal, key)

        if self.previews is None:
            return await (self.holds.hold(key, wait, look) if wait > 0 else look())
        try:
            return await look()
        except _Pending as exc:
            pending: MatteInProgress = exc
            hold = min(MAX_MATTE_WAIT, wait + self.previews.eta(asset.etag)) if wait > 0 else 0
            if hold > 0 and exc.eta <= hold:
                try:
                    return await self.holds.hold(key, hold, look)
                except MatteInProgress as again:
                    pending = again
        preview = await self.previews.make(
            asset.etag,
            lambda: self.originals.read(asset.cloud, asset.public_id, version=asset.version),
        )
        if preview is None:
            raise pending
        return preview, {PREVIEW_HEADER: self.previews.model}

    async def ready(self, asset: AssetRecord, removal: BackgroundRemoval, wait: float) -> bool:
        """Wait at most `wait` seconds until the real matte is made: True, or False when it
        was not (its job failed, or the wait is over). Never a preview."""
        key = self.key(asset.etag, removal)
        try:
            await self.holds.hold(key, wait, lambda: self._look(asset, removal, key))
        except CdnError:
            return False
        return True

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

    async def get_now(
        self, asset: AssetRecord, removal: BackgroundRemoval, source: bytes
    ) -> tuple[bytes, dict[str, str]]:
        """The cut-out of a source that is not an original (a fetched one, which a queued job
        could not read back): cached by content like every matte, else made while the request
        waits (`cutout`: one run per key on this host; 503 past `queue_max` waiting)."""
        outcome = await self.cutout(
            asset.etag, lambda: source, removal, tag=f"{asset.cloud}/{asset.public_id}"
        )
        return outcome.png, matte_headers(outcome)

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
        unavailable = (  # the worker could not run it (its model missing): not the job's fault
            record is not None
            and record.status == "failed"
            and (record.result or {}).get("status") == 503
        )
        if unavailable and record is not None:
            wait = record.updated_at + self.settings.retry_seconds - time.time()
            if wait > 0:
                raise ServiceUnavailable(
                    f"Background removal unavailable: {record.error}", retry_after=math.ceil(wait)
                )
        stale = record is not None and (
            record.status == "done"  # finished, but the matte was evicted or invalidated
            or rounds > 0
            or unavailable
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
    ) -> _Pending:
        per_job = self.estimated_seconds(removal.fine_edges, asset.width * asset.height)
        if record.status == "running":
            started = record.started_at if record.started_at is not None else record.updated_at
            eta = max(0.0, per_job - (time.time() - started))
            # half the estimated remainder: the estimate is a moving average and often long
            # on a busy machine; a few cheap extra polls beat sleeping past the finish
            wait = max(1, math.ceil(eta / 2))
        else:
            eta = per_job * max(1, depth) / max(1, self.settings.concurrency)
            wait = self.retry_after(depth, per_job)
        return _Pending(
            f"Background removal in progress for {asset.public_id} ({record.status}); "
            "retry shortly",
            retry_after=wait,
            eta=eta,
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
        `jobs.queue_max` runs wait for an inference slot in this process. A web replica has a
        worker make it (`remote.RemoteCutouts`)."""
        if self.remote is not None:
            return await self.remote.cutout(
                etag, read, removal, tag=tag, detect=detect, must_store=must_store
            )
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
            metrics.count_model_run(self.model)
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
            missing = self.missing_message()
            if missing:  # this worker cannot run it; another (or this one, fixed) may later
                raise _Unavailable(missing)
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


class _Unavailable(ServiceUnavailable):
    """A matte job this process cannot run (its model is missing): the failed job records the
    503, so a request after `jobs.retry_seconds` submits it again."""

    def __init__(self, public: str) -> None:
        super().__init__(public)
        self.job_result = {"status": 503}


class _Pending(MatteInProgress):
    """A 423 that also carries the estimated seconds until the matte is ready."""

    def __init__(self, public: str, *, retry_after: int, eta: float) -> None:
        super().__init__(public, retry_after=retry_after)
        self.eta = eta


__all__ = ["Mattes"]
