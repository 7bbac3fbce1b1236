"""Cut-outs for a process that runs no model (`ALPHACDN_ROLE=web`): a worker makes them.

The callers that need a cut-out now (the `/v1.0/removebg` endpoint, synchronous `eager` with a
background removal) call `Mattes.cutout`. On a web replica that becomes:

    matte cache hit ─────────────────────────────────────────────────────▶ the cut-out
    miss → the source bytes to the shared blobs (`cutout-<id>/source`) → a job of kind `cutout`
         → poll the job (and the matte cache) until the worker stored the matte → the cut-out

Mattes are keyed by content, so the job's key is the matte's: concurrent requests for one
image on any replica share one job, and the worker's run shares the matte with delivery URLs.
The job's source blob lives in the task blobs (S3 for a fleet); the worker drops it when the
job ends, and the task sweep removes any a crash left behind after the task retention.
A request waits at most `wait_seconds` (then 503 with Retry-After; the job goes on, and the
retry finds its matte).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread

from alphacdn.cache import Blobs, Entry, JobRecord, JobStatus, QueueFull
from alphacdn.jobs.runner import JobKind
from alphacdn.mattes.entries import outcome_of
from alphacdn.models.matting import MatteOutcome
from alphacdn.transform.errors import CdnError, InvalidImage, ServiceUnavailable
from alphacdn.transform.steps import BackgroundRemoval

if TYPE_CHECKING:
    from alphacdn.mattes.owner import Mattes

#: the job kind of a cut-out made for a web replica
KIND = "cutout"
_SOURCE = "source"


class CutoutFailed(Exception):
    """A cutout job's error, with its HTTP status kept for the web replica that waits."""

    def __init__(self, exc: CdnError) -> None:
        super().__init__(exc.public)
        self.public = exc.public
        self.job_result = {"status": exc.status}


class RemoteCutouts:
    """The web side (`cutout`) and the worker side (`kinds`) of cut-outs made elsewhere."""

    def __init__(
        self, mattes: Mattes, blobs: Blobs, *, wait_seconds: float = 60.0, poll: float = 0.2
    ) -> None:
        self.mattes = mattes
        self.blobs = blobs
        self.wait_seconds = wait_seconds
        self.poll = poll

    def kinds(self) -> dict[str, JobKind]:
        """The job kind workers run for web replicas."""
        return {KIND: JobKind(self.handle)}

    # ── web side ────────────────────────────────────────────────────────────────────────────
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
        """The cut-out, from the matte cache or made by a worker (see the module docstring)."""
        m = self.mattes
        key = m.key(etag, removal)
        job_key = f"{KIND}:{key}" + (":detect" if detect else "")
        group = "cutout-" + hashlib.sha256(job_key.encode()).hexdigest()[:40]
        deadline = time.monotonic() + self.wait_seconds

        def found() -> Entry | None:
            entry = m.store.get_matte(key)
            if entry is None or (detect and "detections" not in entry.meta):
                return None
            return entry

        while True:
            entry = await anyio.to_thread.run_sync(found)
            if entry is not None:
                return outcome_of(entry)
            record = await anyio.to_thread.run_sync(m.jobs.get, job_key)
            if record is not None and record.status in (JobStatus.DONE, JobStatus.FAILED):
                entry = await anyio.to_thread.run_sync(found)  # (stored since our first look)
                if entry is not None:
                    return outcome_of(entry)
                await anyio.to_thread.run_sync(m.jobs.delete, job_key)
                if record.status is JobStatus.FAILED:
                    raise _failure(record)
                if must_store:  # done, and still no matte: the cache refused it
                    raise InvalidImage("Background removal failed: the matte cache refused it")
                record = None  # done, but its matte was evicted meanwhile: again
            if record is None:
                await self._submit(job_key, group, etag, read, removal, tag, detect, must_store)
            if time.monotonic() >= deadline:
                raise ServiceUnavailable(
                    f"Background removal is taking longer than {self.wait_seconds:g} s; "
                    "retry shortly",
                    retry_after=max(1, math.ceil(m.estimated_seconds(removal.fine_edges, 0))),
                )
            await anyio.sleep(self.poll)

    async def _submit(
        self,
        job_key: str,
        group: str,
        etag: str,
        read: Callable[[], bytes],
        removal: BackgroundRemoval,
        tag: str,
        detect: bool,
        must_store: bool,
    ) -> None:
        m = self.mattes

        def upload() -> None:
            self.blobs.create(group)
            self.blobs.put(group, _SOURCE, read())

        await anyio.to_thread.run_sync(upload)
        payload = {
            "etag": etag,
            "fine_edges": removal.fine_edges,
            "hints": list(removal.hints),
            "tag": tag,
            "detect": detect,
            "must_store": must_store,
            "group": group,
        }
        limit = m.settings.queue_max
        try:
            _, created = await anyio.to_thread.run_sync(
                lambda: m.jobs.submit(job_key, KIND, payload, limit=limit)
            )
        except QueueFull:
            raise ServiceUnavailable(
                f"Background removal queue is full ({limit} jobs); try again later",
                retry_after=m.retry_after(limit),
            ) from None
        if created:
            m.runner.wake()

    # ── worker side ─────────────────────────────────────────────────────────────────────────
    async def handle(self, record: JobRecord) -> dict[str, Any]:
        """Job handler for kind `cutout`: make the matte into the shared matte cache."""
        p = record.payload
        group = str(p["group"])
        try:
            source = await anyio.to_thread.run_sync(self.blobs.get, group, _SOURCE)
            if source is None:
                raise ServiceUnavailable("the cut-out's source is gone; send the image again")
            removal = BackgroundRemoval(bool(p["fine_edges"]), tuple(p.get("hints", ())))
            outcome = await self.mattes.cutout(
                str(p["etag"]),
                lambda: source,
                removal,
                tag=str(p["tag"]),
                detect=bool(p.get("detect")),
                must_store=bool(p.get("must_store")),
            )
        except CdnError as exc:
            await anyio.to_thread.run_sync(self.blobs.drop, group)
            raise CutoutFailed(exc) from exc
        # (a store that is down raises BackendUnavailable: the job is put back, source kept)
        await anyio.to_thread.run_sync(self.blobs.drop, group)
        return {"stored": outcome.stored, "confidence": outcome.confidence}


def _failure(record: JobRecord) -> CdnError:
    """The error a failed cutout job stands for, with the status the worker saw."""
    status = int((record.result or {}).get("status", 422))
    message = record.error or "unknown error"
    if status == 503:
        return ServiceUnavailable(f"Background removal unavailable: {message}", retry_after=5)
    return InvalidImage(f"Background removal failed: {message}")


__all__ = ["KIND", "RemoteCutouts"]
