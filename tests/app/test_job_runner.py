"""The job loop and store outages: a queue that stops answering never ends the loop (it backs
off and goes on), and a job whose handler meets a store that is down goes back to the queue
instead of failing. The real Redis outage runs in tests/e2e/test_fleet.py; here the queue is
the embedded one behind a switch."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from alphacdn.cache import BackendUnavailable, JobRecord, JobStatus, JobStore
from alphacdn.jobs.runner import JobKind, JobRunner
from alphacdn.settings import JobSettings


class Switch:
    """A `JobQueue` that raises BackendUnavailable on every call while `down`."""

    def __init__(self, queue: JobStore) -> None:
        self.queue = queue
        self.down = False
        self.refused = 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.queue, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.down:
                self.refused += 1
                raise BackendUnavailable("redis", "switched off", retry_after=0.1)
            return method(*args, **kwargs)

        return call


async def _until(check: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline
        await anyio.sleep(0.02)


@pytest.mark.anyio
async def test_the_loop_survives_a_queue_outage_and_goes_on(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs")
    queue = Switch(store)
    runner = JobRunner(queue, JobSettings(poll_seconds=0.02))  # type: ignore[arg-type]
    done: list[str] = []

    async def handle(record: JobRecord) -> dict[str, Any]:
        done.append(record.key)
        return {}

    async with runner.running({"k": JobKind(handle)}):
        queue.down = True
        await _until(lambda: queue.refused >= 3)  # the loop keeps trying, and is still alive
        store.submit("a", "k", {})
        await anyio.sleep(0.3)
        assert done == []
        queue.down = False
        # the record, not the handler: `done` fills before the runner records the finish, and
        # leaving the block then would stop the runner in between (the job goes back queued)
        await _until(lambda: (r := store.get("a")) is not None and r.status is JobStatus.DONE)
    assert done == ["a"]


@pytest.mark.anyio
async def test_a_job_that_meets_a_store_outage_is_put_back_not_failed(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs")
    runner = JobRunner(store, JobSettings(poll_seconds=0.02))
    tries: list[float] = []

    async def handle(record: JobRecord) -> dict[str, Any]:
        tries.append(time.monotonic())
        if len(tries) == 1:
            raise BackendUnavailable("s3", "down for a moment", retry_after=0.2)
        return {"ok": True}

    store.submit("a", "k", {})
    async with runner.running({"k": JobKind(handle)}):
        await _until(lambda: (r := store.get("a")) is not None and r.status is JobStatus.DONE)
    record = store.get("a")
    assert record is not None and record.result == {"ok": True} and record.error is None
    assert len(tries) == 2 and tries[1] - tries[0] >= 0.2  # paused before the next claim
    assert runner.failed == 0
