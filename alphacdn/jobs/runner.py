"""The job loop: claims jobs from the one `JobQueue` (atomically across worker processes) and runs
them, whatever their kind (`matte`, `upload_removal`, `eager`, `task`).

Each job kind has one async handler; a handler's exception fails the job with its message (and
its `job_result` dict, if it has one, as the failed record's result), so nothing stays "running"
forever. A kind may also have a `settled` callback, called with the final record once the job is
done or failed (e.g. a task's webhook). The table of kinds is assembled by `create_app` and
handed to `running(kinds)`: submitters only need the queue and `wake`, so nothing registers
itself on the runner after it is built. The lease is renewed every third of it while a handler
runs; a process that stops gracefully releases its running jobs to the front of the queue, and
one that dies leaves leases that any runner re-queues: at once on the same host (the owner,
`host:pid:nonce`, is a dead pid), else when they lapse.

A shared queue that is down (Redis: `BackendUnavailable`) never ends the loops: they log it,
back off (doubling up to `MAX_BACKOFF` seconds) and go on once it answers again; a job's result
is written as soon as the queue is back. A job whose handler meets a store that is down (S3
or Redis) is not failed: it goes back to the front of the queue and the loop pauses. A web
replica (`ALPHACDN_ROLE=web`) enters `running` without loops: it only submits.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.to_thread

from alphacdn import metrics
from alphacdn.cache import BackendUnavailable, JobQueue, JobRecord, new_owner
from alphacdn.settings import JobSettings

log = logging.getLogger("alphacdn.jobs")

#: the longest pause between two tries of a queue that is down (seconds)
MAX_BACKOFF = 5.0

#: a job handler: runs the job, returns the result stored with it
Handler = Callable[[JobRecord], Awaitable[dict[str, Any]]]
#: called with the job's final record (done or failed); its errors are only logged
Settled = Callable[[JobRecord], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class JobKind:
    """How to run one kind of job, and what to do once it is settled."""

    handler: Handler
    settled: Settled | None = None


class JobRunner:
    """Runs `settings.concurrency` job loops per process over the shared job queue."""

    def __init__(self, store: JobQueue, settings: JobSettings) -> None:
        self.store = store
        self.concurrency = settings.concurrency
        self.lease_seconds = settings.lease_seconds
        self.poll_seconds = settings.poll_seconds
        self._kinds: Mapping[str, JobKind] = {}
        #: `host:pid:nonce`: a lease whose owner process died is taken over at once
        self.owner = new_owner()
        self._wake = anyio.Event()
        self.completed = 0
        self.failed = 0

    def wake(self) -> None:
        """A job was submitted in this process: look now rather than at the next poll."""
        self._wake.set()

    @contextlib.asynccontextmanager
    async def running(
        self, kinds: Mapping[str, JobKind], *, loops: bool = True
    ) -> AsyncIterator[None]:
        """Run the loops over `kinds` for the app's lifetime (entered from the lifespan);
        `loops=False`: none (a web replica only submits)."""
        self._kinds = dict(kinds)
        if not loops:
            yield
            return
        try:
            requeued = await anyio.to_thread.run_sync(lambda: self.store.requeue_stale(time.time()))
        except BackendUnavailable as exc:  # the loops try again until the queue is back
            log.warning("job queue unavailable at startup: %s", exc)
        else:
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
        failures = 0
        while True:
            try:
                now = time.monotonic()
                if now >= next_sweep:
                    # a job whose runner died (any process) goes back to the queue once its
                    # lease lapses; sweeping only at startup would strand it when the restart
                    # came first
                    requeued = await anyio.to_thread.run_sync(
                        lambda: self.store.requeue_stale(time.time())
                    )
                    if requeued:
                        log.info("re-queued %d job(s) whose runner stopped", requeued)
                    next_sweep = now + max(1.0, self.lease_seconds / 2)
                # shielded: a claim made while the app stops reaches `_run`, which releases it,
                # instead of staying "running" until its lease lapses
                with anyio.CancelScope(shield=True):
                    record = await anyio.to_thread.run_sync(
                        lambda: self.store.claim_next(self.owner, self.lease_seconds)
                    )
            except BackendUnavailable as exc:
                failures += 1
                pause = min(MAX_BACKOFF, 0.25 * 2**failures)
                if failures == 1 or failures % 50 == 0:
                    log.warning("job queue unavailable (%s); retrying every %.1f s", exc, pause)
                await anyio.sleep(pause)
                continue
            if failures:
                log.warning("job queue reachable again after %d failed tries", failures)
                failures = 0
            if record is None:
                with anyio.move_on_after(self.poll_seconds):
                    await self._wake.wait()
                self._wake = anyio.Event()
                continue
            await self._run(record)

    async def _run(self, record: JobRecord) -> None:
        kind = self._kinds.get(record.kind)
        t0 = time.perf_counter()

        async def keep_lease() -> None:
            while True:
                await anyio.sleep(max(1.0, self.lease_seconds / 3))
                try:
                    await anyio.to_thread.run_sync(
                        lambda: self.store.renew(record.key, self.owner, self.lease_seconds)
                    )
                except BackendUnavailable as exc:  # the job goes on; the next renewal may land
                    log.warning("could not renew the lease of job %s: %s", record.key[:16], exc)

        try:
            if kind is None:
                raise RuntimeError(f"no handler for job kind {record.kind!r}")
            async with anyio.create_task_group() as tg:
                tg.start_soon(keep_lease)
                result = await kind.handler(record)
                tg.cancel_scope.cancel()
        except anyio.get_cancelled_exc_class():
            # the app is stopping: the job goes back to the front of the queue at once
            # (not after its lease), and the interruption does not count as an attempt
            with anyio.CancelScope(shield=True):
                with contextlib.suppress(BackendUnavailable):  # else its lease lapses
                    await anyio.to_thread.run_sync(
                        lambda: self.store.release(record.key, self.owner)
                    )
            raise
        except Exception as exc:  # a failed job answers its error; it never stays running
            while isinstance(exc, ExceptionGroup) and len(exc.exceptions) == 1:
                exc = exc.exceptions[0]  # the task group's wrapper hides the real error
            if isinstance(exc, BackendUnavailable):
                # a store the job needs is down (S3, Redis): not the job's fault, so it goes
                # back to the queue, and this loop pauses before it claims again
                log.warning("job %s (%s) put back: %s", record.key[:16], record.kind, exc)
                with contextlib.suppress(BackendUnavailable):  # else its lease lapses
                    await anyio.to_thread.run_sync(
                        lambda: self.store.release(record.key, self.owner)
                    )
                await anyio.sleep(min(MAX_BACKOFF, exc.retry_after))
                return
            message = str(getattr(exc, "public", "") or f"{type(exc).__name__}: {exc}")
            log.warning("job %s (%s) failed: %s", record.key[:16], record.kind, message)
            details = getattr(exc, "job_result", None)
            kept = details if isinstance(details, dict) else None
            final = await self._settle(lambda: self.store.fail(record.key, message, result=kept))
            self.failed += 1
            outcome = "failed"
        else:
            final = await self._settle(lambda: self.store.finish(record.key, result))
            self.completed += 1
            outcome = "completed"
        # a kind no handler knows is one label, whatever the queue holds
        metrics.observe_job(record.kind if kind else "unknown", outcome, time.perf_counter() - t0)
        if kind is not None and kind.settled is not None:
            try:
                await kind.settled(final)
            except Exception:  # the job is settled; what follows it must not undo that
                log.exception("after job %s (%s)", record.key[:16], record.kind)

    async def _settle(self, write: Callable[[], JobRecord]) -> JobRecord:
        """Write a job's outcome, waiting out a queue outage (the work is done: keep it)."""
        failures = 0
        while True:
            try:
                return await anyio.to_thread.run_sync(write)
            except BackendUnavailable as exc:
                failures += 1
                if failures == 1:
                    log.warning("job queue unavailable while settling a job (%s); waiting", exc)
                await anyio.sleep(min(MAX_BACKOFF, 0.25 * 2**failures))


__all__ = ["Handler", "JobKind", "JobRunner", "Settled"]
