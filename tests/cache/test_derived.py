"""Derived + matte cache: round trip, eviction, invalidation by tag, crash atomicity."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from alphacdn.cache import DerivedCache, DerivedStore, MemoryDerived
from tests.cache import cache_workers

KB = 1024
SPAWN = multiprocessing.get_context("spawn")


@pytest.fixture(params=["diskcache", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> DerivedStore:
    if request.param == "memory":
        return MemoryDerived()
    return DerivedCache(tmp_path / "derived", size_limit=64 * 1024 * KB)


def test_roundtrip_and_separate_matte_namespace(store: DerivedStore) -> None:
    assert store.get("k") is None
    assert store.put("k", b"small", {"content_type": "image/png", "etag": '"x"'}, tag="demo/a")
    big = os.urandom(100 * KB)  # above diskcache's inline limit: stored as a file
    assert store.put_matte("k", big, {"headers": {"X-A": "1"}}, tag="demo/a")
    entry = store.get("k")
    assert entry is not None and entry.body == b"small"
    assert dict(entry.meta) == {"content_type": "image/png", "etag": '"x"'}
    matte = store.get_matte("k")
    assert matte is not None and matte.body == big and matte.meta["headers"] == {"X-A": "1"}
    stats = store.stats()
    assert stats["derived"].count == 1 and stats["matte"].count == 1
    assert store.volume() > 0


def test_invalidate_by_tag_drops_derived_and_mattes(store: DerivedStore) -> None:
    for i in range(3):
        store.put(f"d{i}", b"x" * (i * 40 * KB + 1), {}, tag="demo/shoes/red")
    store.put_matte("m", b"m", {}, tag="demo/shoes/red")
    store.put("other", b"o", {}, tag="demo/shoes/blue")
    assert store.invalidate("demo/shoes/red") == 4
    assert all(store.get(f"d{i}") is None for i in range(3))
    assert store.get_matte("m") is None
    assert store.get("other") is not None
    assert store.invalidate("demo/shoes/red") == 0


def test_eviction_keeps_volume_under_a_tiny_limit(tmp_path: Path) -> None:
    limit = 2 * 1024 * KB
    cache = DerivedCache(tmp_path, size_limit=limit, matte_share=0.25)
    for i in range(60):
        assert cache.put(f"k{i}", bytes([i]) * (100 * KB), {"i": i}, tag=f"t{i % 3}")
    stats = cache.stats()["derived"]
    assert stats.size_limit == limit * 3 // 4
    assert stats.count < 60
    assert stats.volume <= stats.size_limit + 100 * KB  # culling runs on each put
    newest = cache.get("k59")  # least-recently-stored evicts the oldest first
    assert newest is not None and newest.body == bytes([59]) * (100 * KB)
    assert cache.get("k0") is None


def test_entries_too_large_for_the_cache_are_refused(tmp_path: Path) -> None:
    cache = DerivedCache(tmp_path, size_limit=1024 * KB, max_entry_fraction=0.125)
    assert not cache.put("huge", b"x" * (200 * KB), {}, tag="t")
    assert cache.get("huge") is None


def test_max_matte_bytes_is_the_limit_put_matte_enforces(store: DerivedStore) -> None:
    limit = store.max_matte_bytes()
    if limit is None:  # the in-memory fake has no size bound
        assert store.put_matte("any", b"m" * (1024 * KB), {}, tag="t")
        return
    # 64 MB in total, a quarter for mattes, at most an eighth of that per entry
    assert limit == 64 * 1024 * KB // 4 // 8
    assert store.put_matte("fits", b"m" * limit, {}, tag="t")
    assert not store.put_matte("over", b"m" * (limit + 1), {}, tag="t")
    assert store.get_matte("fits") is not None and store.get_matte("over") is None


def test_truncated_value_file_reads_as_a_miss(tmp_path: Path) -> None:
    cache = DerivedCache(tmp_path, size_limit=64 * 1024 * KB)
    cache.put("k", b"y" * (200 * KB), {}, tag="t")
    (value_file,) = [p for p in tmp_path.rglob("*.val")]
    with open(value_file, "r+b") as f:
        f.truncate(100 * KB)  # what a power loss without fsync could leave behind
    assert cache.get("k") is None
    assert cache.stats()["derived"].count == 0


def _run_child(target: Callable[..., None], *args: object) -> int | None:
    proc = SPAWN.Process(target=target, args=args)
    proc.start()
    proc.join(30)
    return proc.exitcode


CRASHES = [cache_workers.crash_mid_write, cache_workers.crash_before_commit]


@pytest.mark.parametrize("crash", CRASHES)
def test_crash_during_put_leaves_no_visible_entry(
    tmp_path: Path, crash: Callable[..., None]
) -> None:
    cache = DerivedCache(tmp_path, size_limit=64 * 1024 * KB)
    cache.put("k", b"old" * 50_000, {"n": 0}, tag="t")
    body = b"line\n" * 100_000  # many chunks: diskcache writes a BytesIO line by line
    assert _run_child(crash, str(tmp_path), "k", body) == 3
    entry = cache.get("k")
    assert entry is not None and entry.body == b"old" * 50_000 and entry.meta["n"] == 0
    assert cache.put("k", body, {"n": 2}, tag="t")  # the store stays usable
    entry = cache.get("k")
    assert entry is not None and entry.body == body


def test_sigkill_at_random_moments_never_exposes_a_partial_entry(tmp_path: Path) -> None:
    cache = DerivedCache(tmp_path, size_limit=256 * 1024 * KB)
    size = 2 * 1024 * KB
    rng = random.Random(7)
    for round_ in range(3):
        cache.delete("k")
        proc = SPAWN.Process(target=cache_workers.put_forever, args=(str(tmp_path), "k", size))
        proc.start()
        deadline = time.monotonic() + 20
        while cache.get("k") is None and time.monotonic() < deadline:
            time.sleep(0.01)  # wait until the child is in its put loop
        time.sleep(rng.random() * 0.2)
        assert proc.pid is not None
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(10)
        entry = cache.get("k")
        assert entry is not None, f"round {round_}: the child never stored an entry"
        assert entry.body == bytes([entry.meta["i"]]) * size
    cache.repair()  # sweeps the value files the kills orphaned
    referenced = cache.stats()["derived"].count
    assert len(list(tmp_path.rglob("*.val"))) == referenced
