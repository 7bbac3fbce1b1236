"""Blob store contract (`Blobs`): a task's files in groups, in a local folder or an S3 bucket
(real radosgw), with the same answers."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from alphacdn.cache import BlobFolder, Blobs
from alphacdn.cache.s3_blobs import S3Blobs
from alphacdn.cache.s3_bucket import S3Bucket


@pytest.fixture(params=["folder", "s3"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> Blobs:
    if request.param == "s3":
        bucket: S3Bucket = request.getfixturevalue("s3_bucket")
        return S3Blobs(bucket, "tasks")
    return BlobFolder(tmp_path / "tasks")


def test_groups_hold_named_blobs(blobs: Blobs) -> None:
    before = time.time() - 5
    assert blobs.groups() == []
    blobs.create("a1")
    assert [g for g, _ in blobs.groups()] == ["a1"]  # listed while still empty
    blobs.put("a1", "input", b"\x00in")
    blobs.put("a1", "out.png", b"png")
    blobs.put("a1", "out.png", b"png2")  # replaced whole
    blobs.put("b2", "input", b"other")  # a group comes into being with its first blob
    assert blobs.get("a1", "input") == b"\x00in"
    assert blobs.get("a1", "out.png") == b"png2"
    assert blobs.get("a1", "missing") is None
    assert blobs.get("a1", "../b2/input") is None  # never a name outside the group
    found = dict(blobs.groups())
    assert sorted(found) == ["a1", "b2"]
    assert all(t > before for t in found.values())
    assert blobs.delete("a1", "input") is True
    assert blobs.delete("a1", "input") is False
    assert blobs.delete("a1", "inp") is False
    assert blobs.get("a1", "input") is None
    blobs.drop("a1")
    blobs.drop("a1")  # gone already: no error
    assert [g for g, _ in blobs.groups()] == ["b2"]
    assert blobs.get("b2", "input") == b"other"


def test_names_are_checked(blobs: Blobs) -> None:
    for bad in ("", ".hidden", "a/b", "x" * 200):
        with pytest.raises(ValueError):
            blobs.put("g", bad, b"x")
        with pytest.raises(ValueError):
            blobs.create(bad)
