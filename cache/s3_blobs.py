"""`S3Blobs`: the `Blobs` of `blobs.py` (a task's input and result files) in an S3 bucket.

    blobs/<root>/<group>/.group      empty marker: the group exists (written by `create`)
    blobs/<root>/<group>/<name>      one blob

A blob name never starts with `.`, so the marker never collides with one. A group's time is
the newest of its objects' modification times. Nothing here expires: the task store removes
finished groups on purpose (`drop`), as with the local folder.
"""

from __future__ import annotations

from .blobs import check_blob_name
from .s3_bucket import S3Bucket

__all__ = ["S3Blobs"]

_MARKER = ".group"


class S3Blobs:
    """`Blobs` under `blobs/<root>/` in a bucket, shared by every replica and worker."""

    def __init__(self, bucket: S3Bucket, root: str) -> None:
        self._bucket = bucket
        self._base = f"blobs/{check_blob_name(root)}/"

    def _group(self, group: str) -> str:
        return f"{self._base}{check_blob_name(group)}/"

    def create(self, group: str) -> None:
        self._bucket.put(self._group(group) + _MARKER, b"")

    def put(self, group: str, name: str, data: bytes) -> None:
        self._bucket.put(self._group(group) + check_blob_name(name), data)

    def get(self, group: str, name: str) -> bytes | None:
        try:
            key = self._group(group) + check_blob_name(name)
        except ValueError:
            return None
        found = self._bucket.get(key)
        return found.body if found is not None else None

    def delete(self, group: str, name: str) -> bool:
        key = self._group(group) + check_blob_name(name)
        first = next(self._bucket.objects(key), None)  # one LIST, no body transferred
        if first is None or first.key != key:  # (the key itself sorts first under its prefix)
            return False
        self._bucket.delete([key])
        return True

    def drop(self, group: str) -> None:
        self._bucket.delete(o.key for o in self._bucket.objects(self._group(group)))

    def groups(self) -> list[tuple[str, float]]:
        newest: dict[str, float] = {}
        for obj in self._bucket.objects(self._base):
            group = obj.key[len(self._base) :].partition("/")[0]
            stamp = obj.last_modified.timestamp()
            newest[group] = max(stamp, newest.get(group, 0.0))
        return list(newest.items())
