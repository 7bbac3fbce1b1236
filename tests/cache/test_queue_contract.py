"""The `JobQueue` contract, run against every implementation in `cache_workers.QUEUES`:
one job per key, claims under a lease, renew, release, finish / fail, lease expiry → requeue,
the bound, status from a second handle and from other processes."""

from __future__ import annotations

import multiprocessing
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from alphacdn.cache import FailureKind, JobQueue, JobStatus, QueueFull, new_owner
from tests.cache import cache_workers

SPAWN = multiprocessing.get_context("spawn")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


#: opens another handle on the same queue (same location, same clock)
Open = Callable[[], JobQueue]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=sorted(cache_workers.QUEUES))
def impl(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name in cache_workers.NEEDS:
        request.getfixturevalue(cache_workers.NEEDS[name])  # its server (or a skip)
    return name


@pytest.fixture
def open_queue(impl: str, tmp_path: Path, clock: Clock) -> Open:
    where = str(tmp_path / "jobs")
    return lambda: cache_workers.QUEUES[impl](where, clock)


@pytest.fixture
def queue(open_queue: Open) -> JobQueue:
    return open_queue()


def test_submit_twice_makes_one_job(queue: JobQueue, open_queue: Open) -> None:
    rec, created = queue.submit("a", "matte", {"x": 1})
    assert created and rec.status is JobStatus.QUEUED and rec.payload == {"x": 1}
    again, created = queue.submit("a", "matte", {"x": 2})
    assert not created and again == rec
    assert open_queue().submit("a", "eager", {"x": 3}) == (rec, False)  # another handle
    assert queue.get("a") == rec and queue.get("b") is None
    assert queue.depth() == 1


def test_claim_next_is_oldest_first_with_a_lease(queue: JobQueue, clock: Clock) -> None:
    for i, key in enumerate(["first", "second", "third"]):
        clock.now = 1000 + i
        queue.submit(key, "eager" if key == "second" else "matte", {})
    rec = queue.claim_next("w1", lease_seconds=30)
    assert rec is not None and rec.key == "first"
    assert (rec.status, rec.owner, rec.lease_until, rec.attempts) == ("running", "w1", 1032, 1)
    assert rec.started_at == clock.now
    only_matte = queue.claim_next("w2", 30, kinds={"matte"})
    assert only_matte is not None and only_matte.key == "third"
    assert queue.depth() == 3
    nxt = queue.claim_next("w2", 30)
    assert nxt is not None and nxt.key == "second"
    assert queue.claim_next("w2", 30) is None


def test_renew_extends_the_lease(queue: JobQueue, clock: Clock) -> None:
    queue.submit("a", "matte", {})
    queue.claim_next("w1", 30)
    assert not queue.renew("a", "intruder", 30)
    clock.now += 20
    assert queue.renew("a", "w1", 30)
    assert queue.get("a").lease_until == clock.now + 30  # type: ignore[union-attr]
    clock.now += 25  # past the first lease, inside the renewed one
    assert queue.requeue_stale() == 0
    assert queue.get("a").status is JobStatus.RUNNING  # type: ignore[union-attr]
    clock.now += 6
    assert queue.requeue_stale() == 1
    assert not queue.renew("a", "w1", 30)  # too late: the job went back to the queue


def test_finish_and_fail(queue: JobQueue) -> None:
    queue.submit("a", "matte", {})
    queue.submit("b", "matte", {})
    queue.claim_next("w1", 30)
    done = queue.finish("a", {"bytes": 12})
    assert done.status is JobStatus.DONE and done.result == {"bytes": 12} and done.owner is None
    assert done.lease_until is None and queue.get("a") == done
    assert not queue.renew("a", "w1", 30)
    failed = queue.fail("b", "corrupt image")
    assert failed.status == "failed" and failed.error == "corrupt image"
    assert failed.result is None
    # a failure can keep what a later submit needs to judge it (e.g. the limit it hit)
    kept = queue.fail("b", "too large", result={"matte_bytes": 9, "matte_limit": 8})
    assert kept.error == "too large" and kept.result == {"matte_bytes": 9, "matte_limit": 8}
    assert queue.get("b") == kept
    assert queue.depth() == 0
    assert queue.submit("b", "matte", {})[1] is False  # a failed job answers its error
    assert queue.claim_next("w1", 30) is None  # settled jobs are never claimed again
    with pytest.raises(KeyError):
        queue.finish("nope", {})
    with pytest.raises(KeyError):
        queue.fail("nope", "x")


def test_lease_expiry_requeues_at_the_front(queue: JobQueue, clock: Clock) -> None:
    queue.submit("old", "matte", {})
    clock.now += 1
    queue.submit("new", "matte", {})
    queue.claim_next("dead-worker", lease_seconds=30)  # takes "old", then its process dies
    assert queue.requeue_stale(clock.now + 10) == 0  # lease still valid
    assert queue.requeue_stale(clock.now + 31) == 1
    rec = queue.get("old")
    assert rec is not None and rec.status is JobStatus.QUEUED and rec.owner is None
    resumed = queue.claim_next("w2", 30)
    assert resumed is not None and resumed.key == "old" and resumed.attempts == 2


def test_a_job_that_keeps_killing_workers_fails(queue: JobQueue, clock: Clock) -> None:
    queue.submit("bomb", "matte", {})
    for _ in range(3):
        assert queue.claim_next("w", 10) is not None
        clock.now += 11
        queue.requeue_stale(max_attempts=3)
    rec = queue.get("bomb")
    assert rec is not None and rec.status is JobStatus.FAILED and "3 attempts" in str(rec.error)
    assert rec.failure is FailureKind.ABANDONED  # told apart from the job's own error
    assert queue.depth() == 0


def test_failure_kinds_survive_a_second_handle(queue: JobQueue, open_queue: Open) -> None:
    queue.submit("own", "matte", {})
    queue.claim_next("w", 30)
    assert queue.fail("own", "corrupt image").failure is FailureKind.ERROR
    other = open_queue().get("own")
    assert other is not None and other.failure is FailureKind.ERROR
    queue.submit("ok", "matte", {})
    queue.claim_next("w", 30)
    assert queue.finish("ok", {}).failure is None


def _dead_pid() -> int:
    """The pid of a process of ours that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_lease_whose_owner_died_is_taken_over_at_once(queue: JobQueue) -> None:
    """kill -9, OOM, a deploy: the owner's process is gone on this host, so its job goes back
    to the queue without waiting out the lease (the lease alone decides for a live owner)."""
    host = socket.gethostname()
    queue.submit("orphan", "matte", {})
    queue.submit("busy", "matte", {})
    dead = f"{host}:{_dead_pid()}:nonce"
    alive = f"{host}:{os.getppid()}:nonce"  # our parent: alive, and not this process
    assert queue.claim_next(dead, lease_seconds=3600) is not None
    assert queue.claim_next(alive, lease_seconds=3600) is not None
    assert queue.requeue_stale() == 1  # no time has passed: only the dead owner's job
    orphan, busy = queue.get("orphan"), queue.get("busy")
    assert orphan is not None and orphan.status is JobStatus.QUEUED and orphan.owner is None
    assert busy is not None and busy.status is JobStatus.RUNNING and busy.owner == alive
    resumed = queue.claim_next(new_owner(), 30)
    assert resumed is not None and resumed.key == "orphan" and resumed.attempts == 2
    assert not queue.renew("orphan", dead, 30)  # the dead owner's lease is gone
    # another host's owner is judged by its lease only (its pid means nothing here)
    queue.submit("remote", "matte", {})
    assert queue.claim_next(f"elsewhere.{host}:{_dead_pid()}:n", 3600) is not None
    assert queue.requeue_stale() == 0


def test_release_puts_the_job_back_first_without_counting(queue: JobQueue) -> None:
    queue.submit("a", "matte", {})
    queue.submit("b", "matte", {})
    assert queue.claim_next("w1", 30) is not None
    assert not queue.release("a", "intruder")
    assert queue.release("a", "w1")
    rec = queue.get("a")
    assert rec is not None and rec.status is JobStatus.QUEUED and rec.owner is None
    assert not queue.release("a", "w1")  # no longer running
    again = queue.claim_next("w2", 30)
    assert again is not None and again.key == "a" and again.attempts == 1
    assert queue.depth() == 2


def test_restart_keeps_queued_and_resumes_running(open_queue: Open, clock: Clock) -> None:
    first = open_queue()
    first.submit("a", "matte", {"p": 1})
    first.submit("b", "matte", {"p": 2})
    first.claim_next("w1", 30)
    first.close()  # the process stops mid-job
    clock.now += 60
    second = open_queue()
    assert second.requeue_stale() == 1
    keys = []
    while (rec := second.claim_next("w2", 30)) is not None:
        keys.append((rec.key, rec.payload))
    assert keys == [("a", {"p": 1}), ("b", {"p": 2})]


def test_bounded_submit(queue: JobQueue) -> None:
    queue.submit("a", "matte", {}, limit=2)
    queue.submit("b", "matte", {}, limit=2)
    queue.claim_next("w", 30)
    with pytest.raises(QueueFull):
        queue.submit("c", "matte", {}, limit=2)
    assert queue.get("c") is None
    assert queue.submit("a", "matte", {}, limit=2)[1] is False  # existing jobs are still found
    queue.finish("a", {})
    assert queue.submit("c", "matte", {}, limit=2)[1] is True
    assert queue.submit("d", "matte", {})[1] is True  # no limit given: no bound


def test_delete(queue: JobQueue) -> None:
    queue.submit("a", "matte", {})
    queue.submit("b", "matte", {})
    queue.claim_next("w", 30)
    assert queue.delete("a") and not queue.delete("a")
    assert queue.get("a") is None and queue.depth() == 1
    assert queue.delete("b") and queue.depth() == 0
    assert queue.claim_next("w", 30) is None


def test_status_from_a_second_handle(queue: JobQueue, open_queue: Open, clock: Clock) -> None:
    other = open_queue()
    queue.submit("a", "matte", {"p": 1})
    seen = other.get("a")
    assert seen is not None and seen.status is JobStatus.QUEUED and seen.payload == {"p": 1}
    claimed = other.claim_next("w2", 30)
    assert claimed is not None and queue.get("a") == claimed
    assert queue.depth() == other.depth() == 1
    clock.now += 5
    assert other.renew("a", "w2", 30)
    assert queue.get("a").lease_until == clock.now + 30  # type: ignore[union-attr]
    other.finish("a", {"ok": True})
    seen = queue.get("a")
    assert seen is not None and seen.status is JobStatus.DONE and seen.result == {"ok": True}
    other.close()


def _pool(n: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(
        n, mp_context=SPAWN, initializer=cache_workers.init, initargs=(SPAWN.Barrier(n),)
    )


def test_one_job_per_key_and_one_claim_per_job_across_processes(impl: str, tmp_path: Path) -> None:
    n, keys, where = 3, [f"k{i}" for i in range(30)], str(tmp_path / "jobs")
    with _pool(n) as pool:
        futures = [pool.submit(cache_workers.submit_all, impl, where, keys) for _ in range(n)]
        created = [k for f in futures for k in f.result(timeout=60)]
        assert sorted(created) == sorted(keys)
        futures = [pool.submit(cache_workers.claim_all, impl, where, f"w{i}") for i in range(n)]
        claimed = [k for f in futures for k in f.result(timeout=60)]
    assert sorted(claimed) == sorted(keys)
    seen = cache_workers.QUEUES[impl](where, Clock())
    assert seen.depth() == len(keys)  # all running
    assert {seen.get(k).owner for k in keys} <= {"w0", "w1", "w2"}  # type: ignore[union-attr]


def test_payloads_and_results_come_back_exactly(queue: JobQueue, open_queue: Open) -> None:
    payload = {"empty": [], "nested": {"none": None, "list": [{}]}, "f": 0.1 + 0.2, "big": 2**53}
    queue.submit("a", "matte", payload)
    assert open_queue().get("a").payload == payload  # type: ignore[union-attr]
    result = {"ratio": 1 / 3, "name": "ünïcode ✓", "sizes": []}
    assert queue.finish("a", result).result == result
    assert open_queue().get("a").result == result  # type: ignore[union-attr]
