"""The matte runner: turns a 423 into a finished cut-out, once per (asset version, model, options).

Flow for a delivery URL that starts with `e_background_removal`:

    require(asset, plan) ─ matte cached? ── yes → (cut-out PNG, headers)
                         └ no → job store: submit once (atomic across workers) → 423 Retry-After
    job runner (per worker process): claim → load original → model → refine → PNG → matte cache

Job state lives in the persisted job store (`alphacdn.cache`), so a restart re-queues jobs left
"running" by a dead process (expired lease) and keeps the queued ones. A failed job answers its
error (422), never an eternal 423; so does a matte too large for the matte cache (a job that
finished without a cached matte would be started again by every request). The queue is
bounded: beyond `queue_max` → 503.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, replace
from typing import Any

import anyio
import anyio.to_thread

from alphacdn.cache import AssetRecord, DerivedCache, Entry, JobRecord, OriginalsStore, QueueFull
from alphacdn.jobs.cutout import (
    CutoutMaker,
    MatteOutcome,
    MatteTooLarge,
    cutout_key,
    store_matte,
)
from alphacdn.jobs.runner import JobRunner
from alphacdn.settings import Settings
from alphacdn.transform import Plan
from alphacdn.transform.errors import InvalidImage, MatteInProgress, ServiceUnavailable
from alphacdn.transform.steps import BackgroundRemoval

log = logging.getLogger("alphacdn.jobs")

KIND = "matte"
#: weight of the newest job in the moving average of refinement + I/O seconds per pixel
_EMA_WEIGHT = 0.3
#: a held request looks at the job store at least this often (a job in another worker process
#: cannot wake it)
_WAIT_RECHECK = 1.0


@dataclass(frozen=True, slots=True)
class MatteJob:
    """What a queued matte job needs, as stored in the job payload."""

    cloud: str
    public_id: str
    version: int
    model: str
    fine_edges: bool
    hints: tuple[str, ...]

    def payload(self) -> dict[str, Any]:
        return {
            "cloud": self.cloud,
            "public_id": self.public_id,
            "version": self.version,
            "model": self.model,
            "fine_edges": self.fine_edges,
            "hints": list(self.hints),
        }

    @classmethod
    def of(cls, asset: AssetRecord, model: str, removal: BackgroundRemoval) -> MatteJob:
        """The job that makes `removal`'s matte of the asset as it is now."""
        return cls(
            asset.cloud, asset.public_id, asset.version, model, removal.fine_edges, removal.hints
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
        )


class _Waiters:
    """Requests held for one matte key, and the event that wakes them."""

    def __init__(self) -> None:
        self.event = anyio.Event()
        self.count = 0


class MatteRunner:
    """Submits matte jobs, answers 423s with an honest Retry-After, and runs the jobs."""

    def __init__(
        self,
        settings: Settings,
        originals: OriginalsStore,
        derived: DerivedCache,
        maker: CutoutMaker,
        runner: JobRunner,
    ) -> None:
        self.settings = settings
        self.originals = originals
        self.derived = derived
        self.maker = maker
        self.runner = runner
        self.jobs = runner.store
        self.model = settings.models.default_model
        runner.handlers[KIND] = self.handle
        #: model runs per asset in this process (exposed in /metrics)
        self.runs: dict[str, int] = {}
        #: (model, fine_edges) → moving average of a job's seconds besides inference, per pixel
        self._rest_per_pixel: dict[tuple[str, bool], float] = {}
        #: matte key → the requests held for it; set when a job for it ends in this process
        self._finished: dict[str, _Waiters] = {}

    def key(self, asset: AssetRecord, removal: BackgroundRemoval) -> str:
        return cutout_key(asset.etag, self.model, removal.fine_edges, removal.hints)

    # ── the request side ─────────────────────────────────────────────────────────────────────
    async def require(self, asset: AssetRecord, plan: Plan) -> tuple[bytes, dict[str, str]]:
        """The cut-out for the plan's removal, or raise 423 (started/queued), 422 (failed), 503.

        With `jobs.matte_wait_seconds` > 0 a request for a matte in progress is held until the
        matte is ready (then served) or the wait is over (then 423 as usual): it wakes when a job
        of this process finishes, and looks again every second for a job of another worker."""
        removal = plan.removal
        assert removal is not None
        key = self.key(asset, removal)
        wait = self.settings.jobs.matte_wait_seconds
        if wait <= 0:
            return await self._require_once(asset, removal, key)
        deadline = anyio.current_time() + wait
        # registered before looking, so a job that finishes in between still wakes us
        finished = self._finished.setdefault(key, _Waiters())
        finished.count += 1
        try:
            while True:
                try:
                    return await self._require_once(asset, removal, key)
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

    async def _require_once(
        self, asset: AssetRecord, removal: BackgroundRemoval, key: str
    ) -> tuple[bytes, dict[str, str]]:
        """One look: the cached cut-out, or raise 423 / 422 / 503 (starting the job if needed).

        Clients poll this while it answers 423, so the common answers cost one thread hop: on
        2 cores every wake-up competes with the running inference's two threads."""

        def probe() -> tuple[Entry | None, JobRecord | None, int]:
            found = self.derived.get_matte(key)
            if found is not None:
                return found, None, 0
            record = self.jobs.get(key)
            in_progress = record is not None and record.status in ("queued", "running")
            return None, record, self.jobs.depth() if in_progress else 0

        found, record, depth = await anyio.to_thread.run_sync(probe)
        if found is not None:
            return found.body, dict(found.meta.get("headers", {}))
        if record is not None and record.status in ("queued", "running"):
            raise self._in_progress(asset, removal, record, depth)
        return await self.submit(asset, removal, key)

    async def submit(
        self, asset: AssetRecord, removal: BackgroundRemoval, key: str
    ) -> tuple[bytes, dict[str, str]]:
        """Start the job once (or find it) and answer 423; a failed job answers its error."""
        record = await anyio.to_thread.run_sync(self.jobs.get, key)
        stale = record is not None and (
            record.status == "done"  # finished, but the matte was evicted or invalidated
            or (
                record.status == "failed"
                and (
                    record.payload.get("version") != asset.version
                    # refused as too large for the matte cache, which now accepts it
                    or MatteTooLarge.fits_now(record.result, self.derived.max_matte_bytes())
                )
            )
        )
        if record is not None and record.status == "failed" and not stale:
            raise InvalidImage(f"Background removal failed: {record.error}")
        if stale:
            # run again from the asset as it is now: the old payload may name a version an
            # overwrite no longer keeps (mattes are keyed by content, so the key is the same)
            await anyio.to_thread.run_sync(self.jobs.delete, key)
            record = None
        if record is None:
            missing = self.maker.missing_message(self.model)
            if missing:
                raise ServiceUnavailable(missing)
            job = MatteJob.of(asset, self.model, removal)
            limit = self.settings.jobs.queue_max
            try:
                record, created = await anyio.to_thread.run_sync(
                    lambda: self.jobs.submit(key, KIND, job.payload(), limit=limit)
                )
            except QueueFull:
                raise ServiceUnavailable(
                    f"Background removal queue is full ({limit} jobs); try again later",
                    retry_after=self.retry_after(limit),
                ) from None
            if created:
                self.runner.wake()
        assert record is not None  # found, or just submitted
        depth = await anyio.to_thread.run_sync(self.jobs.depth)
        raise self._in_progress(asset, removal, record, depth)

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
        return self.maker.estimated_seconds(self.model) + rest * pixels

    def retry_after(self, depth: int, per_job: float | None = None) -> int:
        """Seconds until a new job is likely done: queue depth × seconds per matte."""
        if per_job is None:
            per_job = self.maker.estimated_seconds(self.model)
        runners = max(1, self.settings.jobs.concurrency)
        return max(1, math.ceil(per_job * max(1, depth) / runners))

    async def ensure(self, asset: AssetRecord, removal: BackgroundRemoval) -> None:
        """Make the matte now, in the caller (eager work already runs as a job: waiting for a
        second queued job could deadlock a single runner). Raises MatteTooLarge (422) when the
        matte cache refuses it."""
        key = self.key(asset, removal)
        if await anyio.to_thread.run_sync(self.derived.get_matte, key) is not None:
            return
        job = MatteJob.of(asset, self.model, removal)
        await anyio.to_thread.run_sync(lambda: self._compute(key, job))

    # ── the runner side ──────────────────────────────────────────────────────────────────────
    async def handle(self, record: JobRecord) -> dict[str, Any]:
        """Job handler for kind `matte`."""
        job = MatteJob.from_payload(record.payload)
        claimed = record.started_at if record.started_at is not None else record.updated_at
        times = {"submitted_at": record.created_at, "queued": round(claimed - record.created_at, 4)}
        t0 = time.perf_counter()
        try:
            outcome = await anyio.to_thread.run_sync(lambda: self._compute(record.key, job, times))
        finally:
            self._wake(record.key)
        took = time.perf_counter() - t0
        tag = f"{job.cloud}/{job.public_id}"
        self.runs[tag] = self.runs.get(tag, 0) + 1
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

    def _compute(
        self, key: str, job: MatteJob, times: dict[str, float] | None = None
    ) -> MatteOutcome:
        """Blocking: read the original, make the cut-out, store it in the matte cache; raise
        MatteTooLarge when the cache refuses it (the matte is this job's only product)."""
        source = self.originals.read(job.cloud, job.public_id, version=job.version)
        tag = f"{job.cloud}/{job.public_id}"
        outcome = self.maker.make(
            source,
            job.model,
            fine_edges=job.fine_edges,
            hints=job.hints,
            tag=tag,
            job_timings=times,
        )
        if outcome.stored_as == key:
            return outcome  # the maker stored it (the salient matte), headers and all
        # a hinted matte is stored here, under its own key (and a salient one the maker's
        # best-effort store refused is tried again, to fail below with the numbers)
        timings = {**outcome.timings, "ready_at": time.time()} if outcome.timings else {}
        outcome = replace(outcome, timings=timings)
        meta = {"confidence": outcome.confidence, "headers": outcome.headers()}
        derived = self.derived
        if not store_matte(derived, key, outcome.png, meta, timings, tag=tag):
            raise MatteTooLarge(
                len(outcome.png),
                derived.max_matte_bytes(),
                self.settings.cache.size_limit_bytes,
            )
        return outcome


__all__ = ["MatteJob", "MatteRunner"]
