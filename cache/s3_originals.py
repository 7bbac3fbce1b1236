"""Originals in an S3-compatible bucket (`OriginalsStore`), shared by every replica and worker.

Layout under the bucket's prefix (`#` never occurs in a checked public_id, so the data objects
of one asset share the prefix `<public_id>#` and no other asset's)::

    originals/state/<cloud>/shoes/red              state: current record + backups + last version
    originals/data/<cloud>/shoes/red#1700000000-<md5>.jpg   bytes of one version

S3 keys are flat, so the state of `shoes` and of `shoes/red` are simply two objects, and the
listing of `originals/state/<cloud>/` comes back in public_id order (UTF-8 byte order is code
point order), which `list` pages through directly.

Commit protocol (a reader sees the old or the new version whole, never a mix): the version object
is written first under a name no other write uses, then the state object is replaced with a
conditional put (`If-Match` the ETag read, or `If-None-Match: *` for a new asset). The state
object is the commit point; a writer that loses the race re-reads the state and tries again with
the next version, so concurrent writers on any number of hosts serialise without a lock. After a
commit, the versions the new state dropped are deleted; a crash between the two puts only leaves
an unreferenced version object, which a later write of that asset sweeps once it is older than
`sweep_after` (younger ones may belong to a write still in flight elsewhere).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from .originals import (
    AssetNotFound,
    AssetRecord,
    UnsafePublicId,
    check_cloud,
    check_public_id,
    list_page,
    list_start,
    make_record,
    next_version,
)
from .s3_bucket import Conflict, S3Bucket

__all__ = ["S3Originals", "WriteConflict"]

_STATE = "originals/state/"
_DATA = "originals/data/"
#: conditional-put rounds before a write gives up (each lost round means another writer won)
_ATTEMPTS = 20
#: how often `read` re-reads the state when the version it picked was swept meanwhile
_READ_ATTEMPTS = 5


class WriteConflict(RuntimeError):
    """Other writers of the same asset kept winning the commit; nothing was changed."""


@dataclass
class _State:
    current: AssetRecord | None = None
    backups: list[AssetRecord] = field(default_factory=list)
    last_version: int = 0
    #: ETag of the state object as read (None: no state object yet)
    etag: str | None = None

    def records(self) -> list[AssetRecord]:
        return [*self.backups, *([self.current] if self.current else [])]

    def to_bytes(self) -> bytes:
        doc = {
            "current": self.current.to_json() if self.current else None,
            "backups": [b.to_json() for b in self.backups],
            # kept after delete, so a re-upload never reuses a version a CDN may still cache
            "last_version": self.last_version,
        }
        return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def _data_name(rec: AssetRecord) -> str:
    # the md5 makes the name unique to these bytes: two writers racing for one version number
    # write two objects, and the loser's never replaces the winner's
    return f"{rec.public_id}#{rec.version}-{rec.etag}.{rec.format}"


class S3Originals:
    """Originals in an S3 bucket (`OriginalsStore`); safe for any number of processes and hosts."""

    def __init__(self, bucket: S3Bucket, *, sweep_after: timedelta = timedelta(hours=1)) -> None:
        self._bucket = bucket
        self._sweep_after = sweep_after

    def _state_key(self, cloud: str, public_id: str) -> str:
        check_public_id(public_id)
        key = f"{_STATE}{check_cloud(cloud)}/{public_id}"
        try:  # the longest key of this asset: a data key, `#` + version-md5.format (<= 63)
            self._bucket.full_key(f"{_DATA}{cloud}/{public_id}#{'0' * 63}")
        except ValueError:
            raise UnsafePublicId("public_id too long for an S3 key") from None
        return key

    def _load(self, cloud: str, public_id: str) -> _State:
        obj = self._bucket.get(self._state_key(cloud, public_id))
        if obj is None:
            return _State()
        raw = json.loads(obj.body)
        current = raw.get("current")
        return _State(
            current=AssetRecord.from_json(current) if current else None,
            backups=[AssetRecord.from_json(b) for b in raw.get("backups", [])],
            last_version=int(raw.get("last_version", 0)),
            etag=obj.etag,
        )

    def _commit(self, cloud: str, public_id: str, old: _State, new: _State) -> bool:
        """Replace the state `old` was read from by `new`; False if another writer came first."""
        try:
            self._bucket.put(
                self._state_key(cloud, public_id),
                new.to_bytes(),
                content_type="application/json",
                if_absent=old.etag is None,
                if_etag=old.etag,
            )
        except Conflict:
            return False
        return True

    def _dropped(self, cloud: str, old: _State, new: _State) -> None:
        """Delete the version objects `old` referenced and `new` no longer does."""
        kept = {_data_name(r) for r in new.records()}
        self._bucket.delete(
            f"{_DATA}{cloud}/{_data_name(r)}" for r in old.records() if _data_name(r) not in kept
        )

    def _sweep(self, cloud: str, public_id: str, state: _State) -> None:
        """Delete old version objects no state references (crash debris, lost races)."""
        kept = {f"{_DATA}{cloud}/{_data_name(r)}" for r in state.records()}
        cutoff = datetime.now(UTC) - self._sweep_after
        self._bucket.delete(
            o.key
            for o in self._bucket.objects(f"{_DATA}{cloud}/{public_id}#")
            if o.key not in kept and o.last_modified < cutoff
        )

    def put(
        self,
        cloud: str,
        public_id: str,
        data: bytes,
        meta: Mapping[str, Any],
        *,
        backup: bool = False,
    ) -> AssetRecord:
        """Store `data` atomically as a new version; keep the previous one if `backup`."""
        self._state_key(cloud, public_id)  # checks the ids before any I/O
        draft = make_record(cloud, public_id, data, meta, version=0)
        for _ in range(_ATTEMPTS):
            old = self._load(cloud, public_id)
            rec = replace(draft, version=next_version(old.last_version))
            self._bucket.put(f"{_DATA}{cloud}/{_data_name(rec)}", data)
            backups = [*old.backups, old.current] if backup and old.current else old.backups
            new = _State(current=rec, backups=list(backups), last_version=rec.version)
            if self._commit(cloud, public_id, old, new):
                self._dropped(cloud, old, new)
                self._sweep(cloud, public_id, new)
                return rec
            # lost the race: our version object is unreferenced and the sweep will take it
        raise WriteConflict(f"{cloud}/{public_id}: {_ATTEMPTS} concurrent writes won first")

    def stat(self, cloud: str, public_id: str) -> AssetRecord | None:
        """The current record, or None."""
        return self._load(cloud, public_id).current

    def read(self, cloud: str, public_id: str, *, version: int | None = None) -> bytes:
        """Bytes of the current (or the given current/backup) version; raise AssetNotFound."""
        # Between reading the state and the version object, a concurrent put may commit and
        # delete the version we picked; the state is then newer, so read it again.
        for _ in range(_READ_ATTEMPTS):
            state = self._load(cloud, public_id)
            if version is None:
                rec = state.current
            else:
                rec = next((r for r in state.records() if r.version == version), None)
            if rec is None:
                break
            obj = self._bucket.get(f"{_DATA}{cloud}/{_data_name(rec)}")
            if obj is not None:
                return obj.body
        suffix = "" if version is None else f" v{version}"
        raise AssetNotFound(f"{cloud}/{public_id}{suffix}")

    def delete(self, cloud: str, public_id: str) -> bool:
        """Remove the asset and its backups; False if it did not exist."""
        for _ in range(_ATTEMPTS):
            old = self._load(cloud, public_id)
            if old.current is None:
                return False
            new = _State(last_version=old.last_version)  # a tombstone keeps the last version
            if self._commit(cloud, public_id, old, new):
                self._dropped(cloud, old, new)
                return True
        raise WriteConflict(f"{cloud}/{public_id}: {_ATTEMPTS} concurrent writes won first")

    def backups(self, cloud: str, public_id: str) -> list[AssetRecord]:
        """Records of the kept backup versions, oldest first."""
        return list(self._load(cloud, public_id).backups)

    def _ids(self, cloud: str, prefix: str, after: str | None) -> Iterator[str]:
        base = f"{_STATE}{check_cloud(cloud)}/"
        start = base + after if after is not None else None
        for obj in self._bucket.objects(base + prefix, start_after=start):
            yield obj.key[len(base) :]

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
        ids = self._ids(cloud, prefix, after)
        return list_page(ids, lambda public_id: self.stat(cloud, public_id), max_results)
