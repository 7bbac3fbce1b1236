"""In-memory fakes of the cache protocols, for tests of the wiring (one process only)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from .derived import CacheStats, Entry, Kind
from .originals import (
    AssetNotFound,
    AssetRecord,
    check_cloud,
    check_public_id,
    list_page,
    list_start,
    make_record,
    next_version,
)

__all__ = ["MemoryDerived", "MemoryOriginals"]


@dataclass
class _Asset:
    current: tuple[AssetRecord, bytes] | None = None
    backups: list[tuple[AssetRecord, bytes]] = field(default_factory=list)
    last_version: int = 0


class MemoryOriginals:
    """`OriginalsStore` in a dict: same rules (safety check, versions, backups), no disk."""

    def __init__(self) -> None:
        self._assets: dict[tuple[str, str], _Asset] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(cloud: str, public_id: str) -> tuple[str, str]:
        check_public_id(public_id)
        return check_cloud(cloud), public_id

    def put(
        self,
        cloud: str,
        public_id: str,
        data: bytes,
        meta: Mapping[str, Any],
        *,
        backup: bool = False,
    ) -> AssetRecord:
        """Store `data` as a new version; keep the previous one if `backup`."""
        key = self._key(cloud, public_id)
        draft = make_record(cloud, public_id, data, meta, version=0)
        with self._lock:
            asset = self._assets.setdefault(key, _Asset())
            version = next_version(asset.last_version)
            rec = replace(draft, version=version)
            if backup and asset.current is not None:
                asset.backups.append(asset.current)
            asset.current, asset.last_version = (rec, bytes(data)), version
        return rec

    def stat(self, cloud: str, public_id: str) -> AssetRecord | None:
        """The current record, or None."""
        asset = self._assets.get(self._key(cloud, public_id))
        return asset.current[0] if asset and asset.current else None

    def read(self, cloud: str, public_id: str, *, version: int | None = None) -> bytes:
        """Bytes of the current (or the given current/backup) version; raise AssetNotFound."""
        with self._lock:
            asset = self._assets.get(self._key(cloud, public_id))
            if asset is not None and asset.current is not None:
                for rec, data in [asset.current, *asset.backups]:
                    if version is None or rec.version == version:
                        return data
        raise AssetNotFound(f"{cloud}/{public_id}")

    def delete(self, cloud: str, public_id: str) -> bool:
        """Remove the asset and its backups; False if it did not exist."""
        with self._lock:
            asset = self._assets.get(self._key(cloud, public_id))
            if asset is None or asset.current is None:
                return False
            asset.current, asset.backups = None, []
            return True

    def backups(self, cloud: str, public_id: str) -> list[AssetRecord]:
        """Records of the kept backup versions, oldest first."""
        asset = self._assets.get(self._key(cloud, public_id))
        return [rec for rec, _ in asset.backups] if asset else []

    def list(
        self,
        cloud: str,
        *,
        prefix: str = "",
        max_results: int = 10,
        next_cursor: str | None = None,
    ) -> tuple[list[AssetRecord], str | None]:
        """Current records ordered by public_id, a page at a time; cursor None = last page."""
        after = list_start(max_results, next_cursor)
        with self._lock:
            recs = {
                a.current[0].public_id: a.current[0]
                for (c, _), a in self._assets.items()
                if c == cloud and a.current
            }
        ids = (i for i in sorted(recs) if i.startswith(prefix) and (after is None or i > after))
        return list_page(ids, recs.get, max_results)


class MemoryDerived:
    """`DerivedStore` in a dict: no size bound, no persistence, same tag invalidation."""

    def __init__(self) -> None:
        self._entries: dict[tuple[Kind, str], tuple[Entry, str]] = {}
        self._lock = threading.Lock()

    def _put(self, kind: Kind, key: str, body: bytes, meta: Mapping[str, Any], tag: str) -> bool:
        with self._lock:
            self._entries[(kind, key)] = (Entry(bytes(body), MappingProxyType(dict(meta))), tag)
        return True

    def _get(self, kind: Kind, key: str) -> Entry | None:
        found = self._entries.get((kind, key))
        return found[0] if found else None

    def get(self, key: str) -> Entry | None:
        """The derived entry, or None."""
        return self._get("derived", key)

    def put(self, key: str, body: bytes, meta: Mapping[str, Any], *, tag: str) -> bool:
        """Store a derived entry, grouped by `tag`; always True."""
        return self._put("derived", key, body, meta, tag)

    def get_matte(self, key: str) -> Entry | None:
        """The matte entry, or None."""
        return self._get("matte", key)

    def put_matte(self, key: str, body: bytes, meta: Mapping[str, Any], *, tag: str) -> bool:
        """Store a matte, grouped by `tag`; always True."""
        return self._put("matte", key, body, meta, tag)

    def max_matte_bytes(self) -> int | None:
        """None: no size bound."""
        return None

    def invalidate(self, tag: str) -> int:
        """Drop every entry of every kind with this tag; return how many."""
        with self._lock:
            doomed = [k for k, (_, t) in self._entries.items() if t == tag]
            for k in doomed:
                del self._entries[k]
        return len(doomed)

    def stats(self) -> dict[Kind, CacheStats]:
        """Sum of body sizes and entry count per namespace."""
        out: dict[Kind, CacheStats] = {}
        for kind in ("derived", "matte"):
            bodies = [e.body for (k, _), (e, _) in self._entries.items() if k == kind]
            out[kind] = CacheStats(volume=sum(map(len, bodies)), count=len(bodies), size_limit=0)
        return out

    def volume(self) -> int:
        """Sum of body sizes."""
        return sum(len(e.body) for e, _ in self._entries.values())
