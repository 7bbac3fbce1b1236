"""One contract for every DerivedStore: diskcache (the embedded default), S3, the in-memory fake."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from alphacdn.cache import DerivedCache, DerivedStore, MemoryDerived
from alphacdn.cache.s3_derived import S3Derived

KB = 1024
#: every store gets the same per-matte limit: 64 MB in total, a quarter for mattes, an eighth
MATTE_LIMIT = 64 * 1024 * KB // 4 // 8

FACTORIES: dict[str, Callable[[pytest.FixtureRequest, Path], DerivedStore]] = {
    "local": lambda _, tmp: DerivedCache(tmp / "derived", size_limit=64 * 1024 * KB),
    "memory": lambda _, tmp: MemoryDerived(),
    # a bucket of its own on the session's radosgw (conftest.py)
    "s3": lambda req, _: S3Derived(req.getfixturevalue("s3_bucket"), max_entry_bytes=MATTE_LIMIT),
}


@pytest.fixture(params=sorted(FACTORIES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> DerivedStore:
    return FACTORIES[request.param](request, tmp_path)


def test_missing_entries_are_none(store: DerivedStore) -> None:
    assert store.get("absent") is None and store.get_matte("absent") is None
    assert store.invalidate("demo/never") == 0


def test_roundtrip_and_separate_matte_namespace(store: DerivedStore) -> None:
    meta = {"content_type": "image/webp", "etag": '"ab12"', "width": 40, "negotiated": True}
    assert store.put("k", b"small", meta, tag="demo/a")
    big = os.urandom(300 * KB)
    assert store.put_matte("m", big, {"headers": {"X-A": "1"}}, tag="demo/a")
    entry = store.get("k")
    assert entry is not None and entry.body == b"small" and dict(entry.meta) == meta
    assert store.get_matte("k") is None and store.get("m") is None
    matte = store.get_matte("m")
    assert matte is not None and matte.body == big and matte.meta["headers"] == {"X-A": "1"}
    stats = store.stats()
    assert stats["derived"].count == 1 and stats["matte"].count == 1
    assert store.volume() >= 300 * KB


def test_meta_roundtrips_as_json(store: DerivedStore) -> None:
    meta = {
        "content_type": "image/png",
        "headers": {"Content-Disposition": 'inline; filename="ünï cødé.png"', "X-N": "2"},
        "nested": [1, 2.5, None, True, {"a": "b"}],
    }
    assert store.put("k", b"", meta, tag="demo/ü")
    entry = store.get("k")
    assert entry is not None and entry.body == b"" and dict(entry.meta) == meta


def test_a_long_meta_is_kept_whole(store: DerivedStore) -> None:
    # a matte of a busy picture: every detection the route and hints were decided on (S3's
    # user metadata holds 2 KB: the S3 store keeps a longer meta beside the object)
    detections = [{"box": [i, i + 0.5, i + 40.25, i + 80.75], "score": 0.5, "class": "person"}
                  for i in range(120)]  # fmt: skip
    meta = {"content_type": "image/png", "detections": detections, "route": "ü " * 200}
    assert store.put_matte("busy", b"png", meta, tag="demo/busy")
    assert store.put("busy", b"webp", {**meta, "content_type": "image/webp"}, tag="demo/busy")
    matte, derived = store.get_matte("busy"), store.get("busy")
    assert matte is not None and matte.body == b"png" and dict(matte.meta) == meta
    assert derived is not None and derived.meta["detections"] == detections
    assert store.invalidate("demo/busy") == 2
    assert store.get_matte("busy") is None and store.get("busy") is None


def test_a_later_put_replaces_a_derived_entry(store: DerivedStore) -> None:
    store.put("k", b"one", {"n": 1}, tag="demo/a")
    store.put("k", b"two", {"n": 2}, tag="demo/a")
    entry = store.get("k")
    assert entry is not None and (entry.body, entry.meta["n"]) == (b"two", 2)


def test_invalidate_by_tag_drops_derived_and_mattes(store: DerivedStore) -> None:
    for i in range(3):
        store.put(f"d{i}", b"x" * (i * 40 * KB + 1), {}, tag="demo/shoes/red")
    store.put_matte("m", b"m", {}, tag="demo/shoes/red")
    # tags that share a beginning with the invalidated one
    store.put("folder", b"f", {}, tag="demo/shoes")
    store.put("longer", b"l", {}, tag="demo/shoes/red2")
    store.put("inside", b"i", {}, tag="demo/shoes/red/x")
    assert store.invalidate("demo/shoes/red") == 4
    assert all(store.get(f"d{i}") is None for i in range(3))
    assert store.get_matte("m") is None
    assert all(store.get(k) is not None for k in ("folder", "longer", "inside"))
    assert store.invalidate("demo/shoes/red") == 0
    assert store.put("d0", b"again", {}, tag="demo/shoes/red")  # usable after invalidation
    entry = store.get("d0")
    assert entry is not None and entry.body == b"again"


def test_max_matte_bytes_is_the_limit_put_matte_enforces(store: DerivedStore) -> None:
    limit = store.max_matte_bytes()
    if limit is None:  # the in-memory fake has no size bound
        assert store.put_matte("any", b"m" * (1024 * KB), {}, tag="t")
        return
    assert limit == MATTE_LIMIT
    assert store.put_matte("fits", b"m" * limit, {}, tag="t")
    assert not store.put_matte("over", b"m" * (limit + 1), {}, tag="t")
    assert store.get_matte("fits") is not None and store.get_matte("over") is None


def test_concurrent_puts_never_expose_a_partial_entry(store: DerivedStore) -> None:
    size = 512 * KB
    writers = 6
    stop = threading.Event()
    seen: list[int] = []

    def write(i: int) -> None:
        for _ in range(4):
            store.put("k", bytes([i]) * size, {"i": i}, tag="demo/race")

    def read() -> None:
        while not stop.is_set():
            entry = store.get("k")
            if entry is not None:
                i = entry.meta["i"]
                assert entry.body == bytes([i]) * size, "a torn or mismatched entry"
                seen.append(i)

    with ThreadPoolExecutor(writers + 2) as pool:
        readers = [pool.submit(read) for _ in range(2)]
        for f in [pool.submit(write, i) for i in range(writers)]:
            f.result()
        stop.set()
        for f in readers:
            f.result()
    final = store.get("k")
    assert final is not None and final.body == bytes([final.meta["i"]]) * size
    assert seen, "the readers never saw an entry"
