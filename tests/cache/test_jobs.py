"""Job store: one job per key across processes, claim/lease/requeue, restart, bounded queue."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from alphacdn.cache import JobStatus, JobStore, QueueFull
from tests.cache import cache_workers

SPAWN = multiprocessing.get_context("spawn")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> JobStore:
    return JobStore(tmp_path / "jobs", clock=clock)


def test_submit_creates_one_job_per_key(store: JobStore) -> None:
    rec, created = store.submit("a", "matte", {"x": 1})
    assert created and rec.status is JobStatus.QUEUED and rec.payload == {"x": 1}
    again, created = store.submit("a", "matte", {"x": 2})
    assert not created and again == rec
    assert store.get("a") == rec and store.get("b") is None
    assert store.depth() == 1


def test_claim_next_is_oldest_first_with_a_lease(store: JobStore, clock: Clock) -> None:
    for i, key in enumerate(["first", "second", "third"]):
        clock.now = 1000 + i
        store.submit(key, "eager" if key == "second" else "matte", {})
    rec = store.claim_next("w1", lease_seconds=30)
    assert rec is not None and rec.key == "first"
    assert (rec.status, rec.owner, rec.lease_until, rec.attempts) == ("running", "w1", 1032, 1)
    only_matte = store.claim_next("w2", 30, kinds={"matte"})
    assert only_matte is not None and only_matte.key == "third"
    assert store.depth() == 3
    nxt = store.claim_next("w2", 30)
    assert nxt is not None and nxt.key == "second"
    assert store.claim_next("w2", 30) is None


def test_renew_finish_fail_and_retry(store: JobStore, clock: Clock) -> None:
    store.submit("a", "matte", {})
    store.submit("b", "matte", {})
    store.claim_next("w1", 30)
    assert not store.renew("a", "intruder", 30)
    clock.now += 20
    assert store.renew("a", "w1", 30)
    assert store.get("a").lease_until == clock.now + 30  # type: ignore[union-attr]
    done = store.finish("a", {"bytes": 12})
    assert done.status is JobStatus.DONE and done.result == {"bytes": 12} and done.owner is None
    assert not store.renew("a", "w1", 30)
    failed = store.fail("b", "corrupt image")
    assert failed.status == "failed" and failed.error == "corrupt image"
    assert failed.result is None
    # a failure can keep what a later submit needs to judge it (e.g. the limit it hit)
    kept = store.fail("b", "too large", result={"matte_bytes": 9, "matte_limit": 8})
    assert kept.error == "too large" and kept.result == {"matte_bytes": 9, "matte_limit": 8}
    assert store.get("b") == kept
    assert store.depth() == 0
    assert store.submit("b", "matte", {})[1] is False  # a failed job answers its error
    again = store.retry("b")
    assert again.status is JobStatus.QUEUED and again.error is None and store.depth() == 1
    assert store.retry("a").status is JobStatus.QUEUED  # done, but its matte was evicted
    with pytest.raises(KeyError):
        store.finish("nope", {})


def test_requeue_stale_resumes_expired_leases_first(store: JobStore, clock: Clock) -> None:
    store.submit("old", "matte", {})
    clock.now += 1
    store.submit("new", "matte", {})
    store.claim_next("dead-worker", lease_seconds=30)  # takes "old", then its process dies
    assert store.requeue_stale(clock.now + 10) == 0  # lease still valid
    assert store.requeue_stale(clock.now + 31) == 1
    rec = store.get("old")
    assert rec is not None and rec.status is JobStatus.QUEUED and rec.owner is None
    resumed = store.claim_next("w2", 30)
    assert resumed is not None and resumed.key == "old" and resumed.attempts == 2


def test_a_job_that_keeps_killing_workers_fails(store: JobStore, clock: Clock) -> None:
    store.submit("bomb", "matte", {})
    for _ in range(3):
        assert store.claim_next("w", 10) is not None
        clock.now += 11
        store.requeue_stale(max_attempts=3)
    rec = store.get("bomb")
    assert rec is not None and rec.status is JobStatus.FAILED and "3 attempts" in str(rec.error)
    assert store.depth() == 0


def test_restart_keeps_queued_and_resumes_running(tmp_path: Path, clock: Clock) -> None:
    first = JobStore(tmp_path, clock=clock)
    first.submit("a", "matte", {"p": 1})
    first.submit("b", "matte", {"p": 2})
    first.claim_next("w1", 30)
    first.close()  # the process stops mid-job
    clock.now += 60
    second = JobStore(tmp_path, clock=clock)
    assert second.requeue_stale() == 1
    keys = []
    while (rec := second.claim_next("w2", 30)) is not None:
        keys.append((rec.key, rec.payload))
    assert keys == [("a", {"p": 1}), ("b", {"p": 2})]


def test_bounded_submit(store: JobStore) -> None:
    store.submit("a", "matte", {}, limit=2)
    store.submit("b", "matte", {}, limit=2)
    store.claim_next("w", 30)
    with pytest.raises(QueueFull):
        store.submit("c", "matte", {}, limit=2)
    assert store.submit("a", "matte", {}, limit=2)[1] is False  # existing jobs are still found
    store.finish("a", {})
    assert store.submit("c", "matte", {}, limit=2)[1] is True


def test_delete(store: JobStore) -> None:
    store.submit("a", "matte", {})
    assert store.delete("a") and not store.delete("a")
    assert store.get("a") is None and store.depth() == 0


def _pool(n: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(
        n, mp_context=SPAWN, initializer=cache_workers.init, initargs=(SPAWN.Barrier(n),)
    )


def test_exactly_one_job_per_key_and_one_claim_per_job_across_processes(tmp_path: Path) -> None:
    n, keys = 3, [f"k{i}" for i in range(30)]
    with _pool(n) as pool:
        futures = [pool.submit(cache_workers.submit_all, str(tmp_path), keys) for _ in range(n)]
        created = [k for f in futures for k in f.result(timeout=60)]
        assert sorted(created) == sorted(keys)
        futures = [pool.submit(cache_workers.claim_all, str(tmp_path), f"w{i}") for i in range(n)]
        claimed = [k for f in futures for k in f.result(timeout=60)]
    assert sorted(claimed) == sorted(keys)
    assert JobStore(tmp_path).depth() == len(keys)  # all running
