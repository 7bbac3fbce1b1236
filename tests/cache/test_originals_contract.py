"""One contract for every OriginalsStore implementation (local folder, in-memory fake, S3)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from alphacdn.cache import (
    AssetNotFound,
    LocalOriginals,
    MemoryOriginals,
    OriginalsStore,
    UnsafePublicId,
)
from alphacdn.cache.s3_bucket import S3Bucket
from alphacdn.cache.s3_originals import S3Originals

Factory = Callable[[Path], OriginalsStore]
FACTORIES: dict[str, Factory] = {
    "local": lambda tmp: LocalOriginals(tmp / "originals"),
    "memory": lambda tmp: MemoryOriginals(),
}


@pytest.fixture(params=[*sorted(FACTORIES), "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> OriginalsStore:
    if request.param == "s3":  # a bucket of its own on the session's radosgw (conftest.py)
        bucket: S3Bucket = request.getfixturevalue("s3_bucket")
        return S3Originals(bucket)
    factory: Factory = FACTORIES[request.param]
    return factory(tmp_path)


def _meta(fmt: str = "png", **extra: object) -> dict[str, object]:
    return {"format": fmt, "width": 1, "height": 1, **extra}


def test_put_stat_read_roundtrip(store: OriginalsStore) -> None:
    meta = {"format": "JPG", "width": 40, "height": 30, "tags": ["a", "b"], "confidence": 0.9}
    rec = store.put("demo", "shoes/red", b"abc", meta)
    assert rec.public_id == "shoes/red" and rec.cloud == "demo"
    assert (rec.format, rec.width, rec.height, rec.bytes) == ("jpg", 40, 30, 3)
    assert rec.etag == hashlib.md5(b"abc").hexdigest()
    assert rec.created_at.endswith("Z") and rec.tags == ("a", "b")
    assert dict(rec.meta) == {"confidence": 0.9}
    assert store.stat("demo", "shoes/red") == rec
    assert store.read("demo", "shoes/red") == b"abc"
    assert store.stat("demo", "shoes") is None
    assert store.stat("other", "shoes/red") is None


def test_versions_strictly_increase_within_one_second(store: OriginalsStore) -> None:
    versions = [store.put("demo", "x", bytes([i]), _meta()).version for i in range(5)]
    assert versions == sorted(set(versions))
    assert store.read("demo", "x") == bytes([4])


def test_overwrite_without_backup_drops_old_version(store: OriginalsStore) -> None:
    first = store.put("demo", "x", b"one", _meta())
    store.put("demo", "x", b"two", _meta())
    assert store.backups("demo", "x") == []
    with pytest.raises(AssetNotFound):
        store.read("demo", "x", version=first.version)


def test_backup_keeps_previous_version(store: OriginalsStore) -> None:
    first = store.put("demo", "dog", b"jpeg", _meta("jpg"))
    second = store.put("demo", "dog", b"png", _meta(), backup=True)
    assert second.version > first.version
    assert store.backups("demo", "dog") == [first]
    assert store.read("demo", "dog") == b"png"
    assert store.read("demo", "dog", version=first.version) == b"jpeg"


def test_delete(store: OriginalsStore) -> None:
    first = store.put("demo", "a/b", b"1", _meta())
    assert store.delete("demo", "a/b") is True
    assert store.delete("demo", "a/b") is False
    assert store.delete("demo", "never") is False
    assert store.stat("demo", "a/b") is None
    with pytest.raises(AssetNotFound):
        store.read("demo", "a/b")
    again = store.put("demo", "a/b", b"2", _meta())
    assert again.version > first.version  # a CDN may still cache the old versioned URL


def test_folder_and_asset_with_the_same_name(store: OriginalsStore) -> None:
    store.put("demo", "shoes", b"folder-named", _meta())
    store.put("demo", "shoes/red", b"inside", _meta())
    assert store.read("demo", "shoes") == b"folder-named"
    assert store.read("demo", "shoes/red") == b"inside"


def test_list_paginates_by_public_id(store: OriginalsStore) -> None:
    ids = ["a", "b/c", "b/d", "e", "shoes/red", "shoes/blue"]
    for i in ids:
        store.put("demo", i, b"x", _meta())
    store.put("other", "zzz", b"x", _meta())
    store.delete("demo", "e")
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page, cursor = store.list("demo", max_results=2, next_cursor=cursor)
        assert len(page) <= 2
        seen += [r.public_id for r in page]
        if cursor is None:
            break
    assert seen == sorted(set(ids) - {"e"})
    page, cursor = store.list("demo", prefix="shoes/")
    assert [r.public_id for r in page] == ["shoes/blue", "shoes/red"] and cursor is None


UNSAFE = [
    "",
    "..",
    "../x",
    "a/../../x",
    "a/..",
    "/etc/passwd",
    "a//b",
    "a/",
    "./a",
    "%2e%2e/x",
    "%2E%2E%2Fx",
    "a/%2e%2e/%2e%2e/x",
    "%252e%252e/x",
    "a\\..\\x",
    "a\x00b",
    "a\nb",
    "%00",
    "a#b",
    "%2Fetc",
]


@pytest.mark.parametrize("public_id", UNSAFE)
def test_unsafe_public_ids_are_refused(store: OriginalsStore, public_id: str) -> None:
    with pytest.raises(UnsafePublicId):
        store.put("demo", public_id, b"x", _meta())
    with pytest.raises(UnsafePublicId):
        store.stat("demo", public_id)
    with pytest.raises(UnsafePublicId):
        store.read("demo", public_id)
    with pytest.raises(UnsafePublicId):
        store.delete("demo", public_id)


@pytest.mark.parametrize("cloud", ["", "..", "a/b", "../x", "x y"])
def test_unsafe_cloud_names_are_refused(store: OriginalsStore, cloud: str) -> None:
    with pytest.raises(UnsafePublicId):
        store.put(cloud, "x", b"x", _meta())


def test_odd_but_safe_public_ids(store: OriginalsStore) -> None:
    for public_id in ["a..b", "...", "ü/ñ", "a b", "a%20b", ".hidden"]:
        store.put("demo", public_id, public_id.encode(), _meta())
        assert store.read("demo", public_id) == public_id.encode()


def test_local_files_stay_under_root(tmp_path: Path) -> None:
    store = LocalOriginals(tmp_path / "root")
    store.put("demo", "a/b", b"x", _meta())
    for unsafe in UNSAFE:
        with pytest.raises(UnsafePublicId):
            store.put("demo", unsafe, b"x", _meta())
    outside = {p for p in tmp_path.rglob("*") if not p.is_relative_to(tmp_path / "root")}
    assert outside == set()


def test_local_crash_debris_is_invisible_and_swept(tmp_path: Path) -> None:
    store = LocalOriginals(tmp_path)
    store.put("demo", "x", b"one", _meta())
    asset_dir = tmp_path / "demo" / "x#"
    (asset_dir / ".tmp-dead").write_bytes(b"half")  # as a crash mid-put leaves it
    (asset_dir / "9999999999.png").write_bytes(b"orphan")
    assert store.read("demo", "x") == b"one"
    store.put("demo", "x", b"two", _meta())
    names = sorted(p.name for p in asset_dir.iterdir())
    assert names == sorted([".lock", "state.json", f"{store.stat('demo', 'x').version}.png"])  # type: ignore[union-attr]
    assert LocalOriginals(tmp_path).read("demo", "x") == b"two"


def test_put_refuses_bad_meta(store: OriginalsStore) -> None:
    for meta in [{}, {"format": "png", "width": 1}, _meta("../x"), _meta(width="wide")]:
        with pytest.raises(ValueError):
            store.put("demo", "x", b"x", meta)
    assert store.stat("demo", "x") is None
    assert store.list("demo") == ([], None)
