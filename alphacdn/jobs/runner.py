"""The job loop: claims persisted jobs (atomically across worker processes) and runs them.

Each job kind has one async handler; a handler's exception fails the job with its message (and
its `job_result` dict, if it has one, as the failed record's result), so nothing stays "running"
forever, and a restart re-queues jobs whose lease expired.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import anyio.to_thread

from alphacdn.cache import JobRecord, JobStore

log = logging.getLogger("alphacdn.jobs")

#: a job handler: runs the job, returns the result stored with it
Handler = Callable[[JobRecord], Awaitable[dict[str, Any]]]
#: how often an idle runner looks for jobs submitted by other worker processes
POLL_SECONDS = 0.25


class JobRunner:
    """Runs `concurrency` job loops per process over the shared, persisted job store."""

    def __init__(self, store: JobStore, *, concurrency: int, lease_seconds: int) -> None:
        self.store = store
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        self.handlers: dict[str, Handler] = {}
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self._wake = anyio.Event()
        self.completed = 0
        self.failed = 0

    def wake(self) -> None:
        """A job was submitted in this process: look now rather than at the next poll."""
        self._wake.set()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run the loops for the app's lifetime (entered from the lifespan)."""
        requeued = await anyio.to_thread.run_sync(lambda: self.store.requeue_stale(time.time()))
        if requeued:
            log.warning("re-queued %d job(s) left running by a stopped process", requeued)
        async with anyio.create_task_group() as tg:
            for _ in range(self.concurrency):
                tg.start_soon(self._loop)
            try:
                yield
            finally:
                tg.cancel_scope.cancel()

    async def _loop(self) -> None:
        next_sweep = 0.0
        while True:
            now = time.monotonic()
            if now >= next_sweep:
                # a job whose runner died (any process) goes back to the queue once its lease
                # lapses; sweeping only at startup would strand it when the restart came first
                await anyio.to_thread.run_sync(lambda: self.store.requeue_stale(time.time()))
                next_sweep = now + max(1.0, self.lease_seconds / 2)
            record = await anyio.to_thread.run_sync(
                lambda: self.store.claim_next(self.owner, self.lease_seconds)
            )
            if record is None:
                with anyio.move_on_after(POLL_SECONDS):
                    await self._wake.wait()
                self._wake = anyio.Event()
                continue
            await self._run(record)

    async def _run(self, record: JobRecord) -> None:
        handler = self.handlers.get(record.kind)

        async def keep_lease() -> None:
            while True:
                await anyio.sleep(max(1.0, self.lease_seconds / 3))
                await anyio.to_thread.run_sync(
                    lambda: self.store.renew(record.key, self.owner, self.lease_seconds)
                )

        try:
            if handler is None:
                raise RuntimeError(f"no handler for job kind {record.kind!r}")
            async with anyio.create_task_group() as tg:
                tg.start_soon(keep_lease)
                result = await handler(record)
                tg.cancel_scope.cancel()
        except Exception as exc:  # a failed job answers its error; it never stays running
            while isinstance(exc, ExceptionGroup) and len(exc.exceptions) == 1:
                exc = exc.exceptions[0]  # the task group's wrapper hides the real error
            message = str(getattr(exc, "public", "") or f"{type(exc).__name__}: {exc}")
            log.warning("job %s (%s) failed: %s", record.key[:16], record.kind, message)
            details = getattr(exc, "job_result", None)
            kept = details if isinstance(details, dict) else None
            await anyio.to_thread.run_sync(
                lambda: self.store.fail(record.key, message, result=kept)
            )
            self.failed += 1
            return
        await anyio.to_thread.run_sync(lambda: self.store.finish(record.key, result))
        self.completed += 1


__all__ = ["Handler", "JobRunner"]
