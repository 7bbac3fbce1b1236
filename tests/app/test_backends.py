"""`open_backends`: the settings choose every store in one place; the default is the embedded
one-host set, `file:///…` moves the bytes, `s3://…` and `redis://…` switch to the fleet's."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from alphacdn.backends import open_backends
from alphacdn.cache import BlobFolder, DerivedCache, EagerChains, JobStore, LocalOriginals
from alphacdn.cache.named import FileNamed
from alphacdn.cache.redis_claims import RedisClaims
from alphacdn.cache.redis_counters import RedisCounters
from alphacdn.cache.redis_eager import RedisEager
from alphacdn.cache.redis_named import RedisNamed
from alphacdn.cache.redis_queue import RedisJobQueue
from alphacdn.cache.s3_blobs import S3Blobs
from alphacdn.cache.s3_derived import S3Derived
from alphacdn.cache.s3_originals import S3Originals
from alphacdn.settings import Settings


def test_the_default_is_the_embedded_set_under_the_data_dir(tmp_path: Path) -> None:
    b = open_backends(Settings.for_data_dir(tmp_path))
    assert isinstance(b.originals, LocalOriginals) and isinstance(b.derived, DerivedCache)
    assert isinstance(b.jobs, JobStore) and isinstance(b.eager, EagerChains)
    assert isinstance(b.named, FileNamed) and isinstance(b.task_blobs, BlobFolder)
    assert b.describe() == "store: file, shared state: diskcache"
    b.originals.put("demo", "a", b"bytes", {"format": "jpg", "width": 1, "height": 1})
    assert (tmp_path / "originals").is_dir()
    b.prepare()  # sweeps the local derived cache; nothing to do


def test_a_file_url_moves_the_bytes_not_the_state(tmp_path: Path) -> None:
    s = Settings.for_data_dir(tmp_path / "data")
    s = replace(s, fleet=replace(s.fleet, store_url=f"file://{tmp_path / 'media'}"))
    b = open_backends(s)
    b.originals.put("demo", "a", b"bytes", {"format": "jpg", "width": 1, "height": 1})
    assert (tmp_path / "media" / "originals").is_dir()
    assert (tmp_path / "media" / "derived").is_dir()
    assert not (tmp_path / "data" / "originals").exists()
    assert (tmp_path / "data" / "state" / "jobs").is_dir()


def test_s3_and_redis_urls_choose_the_fleet_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    s = Settings.for_data_dir(tmp_path)
    fleet = replace(
        s.fleet,
        store_url="s3://media/site",
        s3_endpoint_url="http://127.0.0.1:9",
        redis_url="redis://127.0.0.1:9/0",
    )
    b = open_backends(replace(s, fleet=fleet))  # nothing is contacted yet
    assert isinstance(b.originals, S3Originals) and isinstance(b.derived, S3Derived)
    assert isinstance(b.task_blobs, S3Blobs)
    assert isinstance(b.jobs, RedisJobQueue) and isinstance(b.render_claims, RedisClaims)
    assert isinstance(b.matte_claims, RedisClaims) and b.matte_claims is not b.render_claims
    assert isinstance(b.counters, RedisCounters) and isinstance(b.eager, RedisEager)
    assert isinstance(b.named, RedisNamed)
    assert b.describe() == "store: s3, shared state: redis"
    b.prepare()  # the bucket cannot be reached: logged, not raised (requests answer 503)
