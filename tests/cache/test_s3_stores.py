"""What only the S3 stores promise, on a real radosgw: matte written once, a long meta in a
sidecar, concurrent writers of one original serialised by conditional puts, debris swept,
lifecycle rules, marker repair."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from alphacdn.cache.s3_bucket import Conflict, S3Bucket, parse_store_url
from alphacdn.cache.s3_derived import S3Derived
from alphacdn.cache.s3_originals import S3Originals
from tests.ports import free_port
from tests.s3_server import S3Server

META = {"format": "png", "width": 1, "height": 1}


def test_parse_store_url() -> None:
    assert parse_store_url("s3://media") == ("media", "")
    assert parse_store_url("s3://media/site/a/") == ("media", "site/a")
    for bad in ["file:///data", "s3:///x", "s3://b?x=1", "media/x"]:
        with pytest.raises(ValueError):
            parse_store_url(bad)


def test_conditional_puts_are_honoured(s3_bucket: S3Bucket) -> None:
    etag = s3_bucket.put("k", b"one", if_absent=True)
    with pytest.raises(Conflict):
        s3_bucket.put("k", b"two", if_absent=True)
    with pytest.raises(Conflict):
        s3_bucket.put("k", b"two", if_etag="0" * 32)
    s3_bucket.put("k", b"three", if_etag=etag)
    found = s3_bucket.get("k")
    assert found is not None and found.body == b"three"


def test_a_matte_is_written_once(s3_bucket: S3Bucket) -> None:
    store = S3Derived(s3_bucket)
    assert store.put_matte("m", b"first", {"n": 1}, tag="demo/a")
    assert store.put_matte("m", b"second", {"n": 2}, tag="demo/a")
    entry = store.get_matte("m")
    assert entry is not None and (entry.body, entry.meta["n"]) == (b"first", 1)

    def put(i: int) -> bool:
        return store.put_matte("race", bytes([i]) * 100_000, {"i": i}, tag="demo/a")

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(put, range(8)))
    entry = store.get_matte("race")
    assert entry is not None and entry.body == bytes([entry.meta["i"]]) * 100_000


def test_a_long_meta_travels_in_a_sidecar_written_first(s3_bucket: S3Bucket) -> None:
    store = S3Derived(s3_bucket)
    short = {"n": 1}
    assert store.put_matte("plain", b"x", short, tag="demo/a")
    plain = s3_bucket.get("matte/obj/plain")
    assert plain is not None and "alphacdn" in plain.metadata  # one GET for a short meta

    def put(i: int) -> bool:
        meta = {"i": i, "detections": [[j, j, j + 9, j + 9, 0.5] for j in range(150)]}
        return store.put_matte("busy", bytes([i]) * 10_000, meta, tag="demo/a")

    with ThreadPoolExecutor(6) as pool:
        assert all(pool.map(put, range(6)))
    found = s3_bucket.get("matte/obj/busy")
    assert found is not None and set(found.metadata) == {"alphacdn-ref"}
    entry = store.get_matte("busy")  # the first writer's body with the first writer's meta
    assert entry is not None and entry.body == bytes([entry.meta["i"]]) * 10_000
    assert len(entry.meta["detections"]) == 150
    # an object whose sidecar is gone reads as a miss, never as an entry without its meta
    ref = found.metadata["alphacdn-ref"]
    s3_bucket.delete([f"matte/meta/busy#{ref}"])
    assert store.get_matte("busy") is None


def test_concurrent_writers_of_one_original_each_commit_a_version(s3_bucket: S3Bucket) -> None:
    store = S3Originals(s3_bucket)

    def put(i: int) -> int:
        return store.put("demo", "hot", bytes([i]) * 1000, META, backup=True).version

    with ThreadPoolExecutor(6) as pool:
        versions = list(pool.map(put, range(6)))
    assert len(set(versions)) == 6  # no writer overwrote another's commit
    current = store.stat("demo", "hot")
    assert current is not None and current.version == max(versions)
    assert sorted(b.version for b in store.backups("demo", "hot")) == sorted(versions)[:-1]
    for v in versions:  # every version kept is readable and whole
        assert len(set(store.read("demo", "hot", version=v))) == 1


def test_unreferenced_version_objects_are_swept(s3_bucket: S3Bucket) -> None:
    store = S3Originals(s3_bucket, sweep_after=timedelta(0))
    first = store.put("demo", "x", b"one", META)
    debris = "originals/data/demo/x#9999999999-" + "0" * 32 + ".png"  # as a crash leaves it
    s3_bucket.put(debris, b"half")
    other = "originals/data/demo/x2#1-" + "0" * 32 + ".png"  # another asset's: not swept
    s3_bucket.put(other, b"keep")
    second = store.put("demo", "x", b"two", META)
    names = {o.key for o in s3_bucket.objects("originals/data/demo/")}
    assert names == {other, f"originals/data/demo/x#{second.version}-{second.etag}.png"}
    assert first.version < second.version and store.read("demo", "x") == b"two"


def test_lifecycle_rules_bound_derived_lifetime(s3_bucket: S3Bucket) -> None:
    store = S3Derived(s3_bucket, derived_days=7, matte_days=60)
    assert s3_bucket.expiry() == {}
    store.set_lifetime()
    assert s3_bucket.expiry() == {"derived/": 7, "matte/": 60}


def test_lifecycle_expires_derived_files_before_mattes(
    s3_server: S3Server, s3_bucket: S3Bucket
) -> None:
    if s3_server.lc_day_seconds is None:
        pytest.skip("needs a radosgw whose lifecycle day is seconds long")
    store = S3Derived(s3_bucket, derived_days=1, matte_days=30)
    store.set_lifetime()
    store.put("d", b"d", {}, tag="demo/a")
    assert store.put_matte("m", b"m", {}, tag="demo/a")
    deadline = time.monotonic() + 30 * s3_server.lc_day_seconds
    while store.get("d") is not None:
        assert time.monotonic() < deadline, "the derived file outlived its expiry rule"
        time.sleep(0.5)
    assert store.get_matte("m") is not None


def test_repair_drops_markers_without_objects(s3_bucket: S3Bucket) -> None:
    store = S3Derived(s3_bucket)
    store.put("kept", b"k", {}, tag="demo/a")
    s3_bucket.put("derived/tag/demo/a#lost", b"")  # a crash between marker and object
    assert store.repair() == 1
    assert store.repair() == 0
    assert store.invalidate("demo/a") == 1


def test_a_dead_endpoint_raises_backend_unavailable_quickly() -> None:
    """Nothing listens: every store call fails fast with the one error type the wiring maps
    to 503 (not botocore's own, which would be a 500)."""

    from alphacdn.cache import BackendUnavailable
    from alphacdn.cache.s3_bucket import make_client

    port = free_port()  # nobody listens: connections are refused
    client = make_client(f"http://127.0.0.1:{port}", credentials=("k", "s"), region="us-east-1")
    bucket = S3Bucket(client, "nowhere")
    derived, originals = S3Derived(bucket), S3Originals(bucket)
    calls = [
        lambda: derived.get("a" * 64),
        lambda: derived.put("a" * 64, b"x", {"content_type": "image/png"}, tag="demo/a"),
        lambda: originals.stat("demo", "a"),
        lambda: list(bucket.objects("derived/")),
        lambda: derived.invalidate("demo/a"),
    ]
    for call in calls:
        t0 = time.monotonic()
        with pytest.raises(BackendUnavailable) as info:
            call()
        assert info.value.backend == "s3"
        assert time.monotonic() - t0 < 5


def test_a_silent_endpoint_raises_backend_unavailable_within_a_bounded_time() -> None:
    """A server that accepts connections and never answers (hung, overloaded): the read
    timeout and the attempt count bound each call (about 2 × 4 s)."""
    import socket

    from alphacdn.cache import BackendUnavailable
    from alphacdn.cache.s3_bucket import make_client

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)  # connections complete in the backlog; nothing is ever read
        port = listener.getsockname()[1]
        client = make_client(f"http://127.0.0.1:{port}", credentials=("k", "s"), region="eu")
        t0 = time.monotonic()
        with pytest.raises(BackendUnavailable, match="s3 unavailable: ReadTimeoutError"):
            S3Derived(S3Bucket(client, "silent")).get("a" * 64)
        assert time.monotonic() - t0 < 12
