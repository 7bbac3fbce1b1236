"""Derived images and mattes: a size-bounded diskcache shared by every worker process on a host.

Two namespaces (`get`/`put` for derived images, `get_matte`/`put_matte` for mattes), each its
own diskcache under one directory, because they are used in opposite ways:

- derived images are read on every cache hit and cost one render to rebuild, so they use
  `least-recently-stored`: a hit is a pure read (no SQLite write lock shared by the workers —
  ~55 µs vs ~190 µs per get measured here for LRU), at the price of occasionally re-rendering a
  popular file once per cache turnover; a CDN in front absorbs most repeat hits anyway;
- mattes are read only when a *new* derived image of an asset is rendered, but cost a model run
  (seconds, and a 423 for the user) to rebuild, so they use `least-recently-used` and keep the
  mattes of assets still being transformed.

Both are invalidated together by the asset tag (`keys.asset_tag`).

Atomicity: diskcache writes a large value to a fresh randomly named file, closes it and only then
commits the SQLite row that points at it, so a reader never finds a row whose file is still being
written; a process killed mid-put leaves at most an unreferenced file, which `repair()` sweeps.
diskcache does not fsync that file, so after a power loss a committed row could point at a
truncated file: `_DurableDisk` fsyncs before the commit, and every entry carries its body length,
checked on read (a mismatch is dropped and reported as a miss). Body and metadata are one value,
so they can never disagree.
"""

from __future__ import annotations

import json
import os
import struct
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, Protocol

import diskcache
from diskcache.core import UNKNOWN

__all__ = ["CacheStats", "DerivedCache", "DerivedStore", "Entry", "Kind"]

Kind = Literal["derived", "matte"]
_KINDS: tuple[Kind, ...] = ("derived", "matte")
_MAGIC = b"ACD1"
_HEADER = struct.Struct(">4sI")


@dataclass(frozen=True, slots=True)
class Entry:
    """One cached body and its small JSON metadata (content_type, etag, headers …)."""

    body: bytes
    meta: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class CacheStats:
    """Size of one namespace: bytes on disk (files + index) and number of entries."""

    volume: int
    count: int
    size_limit: int


class DerivedStore(Protocol):
    """What the wiring needs from a derived + matte cache (all methods synchronous)."""

    def get(self, key: str) -> Entry | None:
        """The derived entry, or None."""
        ...

    def put(self, key: str, body: bytes, meta: Mapping[str, Any], *, tag: str) -> bool:
        """Store a derived entry atomically, grouped by `tag`; False if too large to cache."""
        ...

    def get_matte(self, key: str) -> Entry | None:
        """The matte entry, or None."""
        ...

    def put_matte(self, key: str, body: bytes, meta: Mapping[str, Any], *, tag: str) -> bool:
        """Store a matte atomically, grouped by `tag`; False if too large to cache."""
        ...

    def max_matte_bytes(self) -> int | None:
        """The largest matte body `put_matte` accepts (None: no limit)."""
        ...

    def invalidate(self, tag: str) -> int:
        """Drop every derived entry and matte with this tag; return how many."""
        ...

    def stats(self) -> dict[Kind, CacheStats]:
        """Volume and count per namespace."""
        ...

    def volume(self) -> int:
        """Bytes on disk of both namespaces."""
        ...


class _DurableDisk(diskcache.Disk):  # type: ignore[misc]
    """diskcache's Disk, plus an fsync of each value file before its row is committed."""

    def __init__(self, directory: str, **kwargs: Any) -> None:
        super().__init__(directory, **kwargs)
        self._root = directory

    def store(self, value: Any, read: bool, key: Any = UNKNOWN) -> tuple[int, int, Any, Any]:
        size, mode, filename, db_value = super().store(value, read, key=key)
        if filename is not None:
            fd = os.open(os.path.join(self._root, filename), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        return size, mode, filename, db_value


def _pack(body: bytes, meta: Mapping[str, Any]) -> bytes:
    header = json.dumps({"len": len(body), "meta": dict(meta)}, separators=(",", ":")).encode()
    return b"".join((_HEADER.pack(_MAGIC, len(header)), header, body))


def _unpack(value: bytes) -> Entry | None:
    try:
        magic, n = _HEADER.unpack_from(value)
        header = json.loads(value[_HEADER.size : _HEADER.size + n])
        body = value[_HEADER.size + n :]
    except (struct.error, ValueError):
        return None
    if magic != _MAGIC or header.get("len") != len(body):
        return None
    return Entry(body=body, meta=MappingProxyType(header.get("meta", {})))


class DerivedCache:
    """The embedded `DerivedStore`: two size-bounded diskcaches (derived, matte) under one dir."""

    def __init__(
        self,
        directory: Path,
        *,
        size_limit: int,
        matte_share: float = 0.25,
        max_entry_fraction: float = 0.125,
    ) -> None:
        """`size_limit` bytes in total, `matte_share` of it for mattes; bodies larger than
        `max_entry_fraction` of their namespace are not cached (one huge file must not flush
        everything else)."""
        if not 0 < matte_share < 1:
            raise ValueError("matte_share must be in (0, 1)")
        limits = {"matte": int(size_limit * matte_share)}
        limits["derived"] = size_limit - limits["matte"]
        policies = {"derived": "least-recently-stored", "matte": "least-recently-used"}
        self._limits: dict[Kind, int] = {k: limits[k] for k in _KINDS}
        self._max_entry = {k: int(limits[k] * max_entry_fraction) for k in _KINDS}
        self._caches: dict[Kind, diskcache.Cache] = {
            kind: diskcache.Cache(
                str(Path(directory) / kind),
                size_limit=limits[kind],
                eviction_policy=policies[kind],
                tag_index=True,
                disk=_DurableDisk,
            )
            for kind in _KINDS
        }

    def _get(self, kind: Kind, key: str) -> Entry | None:
        cache = self._caches[kind]
        value = cache.get(key)
        if value is None:
            return None
        entry = _unpack(value) if isinstance(value, bytes) else None
        if entry is None:
            cache.delete(key)  # failed its integrity check: drop it, report a miss
        return entry

    def _put(self, kind: Kind, key: str, body: bytes, meta: Mapping[str, Any], tag: str) -> bool:
        if len(body) > self._max_entry[kind]:
            return False
        return bool(self._caches[kind].set(key, _pack(body, meta), tag=tag, retry=True))

    def get(self, key: str) -> Entry | None:
        """The derived entry, or None (also for one that fails its integrity check)."""
        return self._get("derived", key)

    def put(self, key: str, body: bytes, meta: Mapping[str, Any], *, tag: str) -> bool:
        """Store a derived entry atomically, grouped by `tag`; False if too large to cache."""
        return self._put("derived", key, body, meta, tag)

    def get_matte(self, key: str) -> Entry | None:
        """The matte entry, or None (also for one that fails its integrity check)."""
        return self._get("matte", key)

    def put_matte(self, key: str, body: bytes, meta: Mapping[str, Any], *, tag: str) -> bool:
        """Store a matte atomically, grouped by `tag`; False if too large to cache."""
        return self._put("matte", key, body, meta, tag)

    def max_matte_bytes(self) -> int | None:
        """The largest matte body `put_matte` accepts: `max_entry_fraction` of the matte share."""
        return self._max_entry["matte"]

    def delete(self, key: str, *, kind: Kind = "derived") -> bool:
        """Drop one entry; False if it was not there."""
        return bool(self._caches[kind].delete(key, retry=True))

    def invalidate(self, tag: str) -> int:
        """Drop every derived file and matte with this tag (`cloud/public_id`); return how many."""
        return sum(int(c.evict(tag, retry=True)) for c in self._caches.values())

    def stats(self) -> dict[Kind, CacheStats]:
        """Volume (bytes on disk incl. index) and entry count per namespace."""
        return {
            kind: CacheStats(volume=int(c.volume()), count=len(c), size_limit=self._limits[kind])
            for kind, c in self._caches.items()
        }

    def volume(self) -> int:
        """Bytes on disk of both namespaces."""
        return sum(int(c.volume()) for c in self._caches.values())

    def repair(self) -> int:
        """Remove value files no index row references (left by crashes); return issues found.

        Walks every file under the lock, so run it at startup or from a maintenance task.
        """
        found = 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # diskcache reports each fix as a warning
            for cache in self._caches.values():
                found += len(cache.check(fix=True, retry=True))
        return found

    def close(self) -> None:
        """Close the SQLite connections of this process."""
        for cache in self._caches.values():
            cache.close()
