"""The embedded originals store: one folder per asset under the data dir.

Layout (`#` never occurs in a checked public_id, so an asset folder can never collide with a
folder of public_ids: `shoes#/` is the asset `shoes`, `shoes/` holds `shoes/red#/`)::

    <root>/<cloud>/shoes/red#/state.json        current record + backups + last version
    <root>/<cloud>/shoes/red#/1700000000.jpg    bytes of one version (current or backup)
    <root>/<cloud>/shoes/red#/.lock             flock: one writer per asset across processes

Every file is written to a temp name, fsynced and renamed; `state.json` is renamed last and is
the commit point, so a reader sees either the old or the new version, whole, never a mix, and a
crash only leaves unreferenced files that the next write of that asset removes.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .files import write_atomic
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

__all__ = ["LocalOriginals"]

_STATE = "state.json"
_LOCK = ".lock"


@dataclass
class _State:
    current: AssetRecord | None = None
    backups: list[AssetRecord] = field(default_factory=list)
    last_version: int = 0

    def records(self) -> list[AssetRecord]:
        return [*self.backups, *([self.current] if self.current else [])]


def _data_name(rec: AssetRecord) -> str:
    return f"{rec.version}.{rec.format}"


#: bound of the in-memory memo of checked paths and parsed records
_MEMO_MAX = 50_000


class LocalOriginals:
    """Originals in a local folder (`OriginalsStore`); safe for several processes on one host."""

    def __init__(self, root: Path) -> None:
        self._root = Path(root).resolve()
        self._root.mkdir(parents=True, exist_ok=True)
        # The hot path (every delivery request) is stat(): remember asset dirs already checked
        # and records keyed by their state file's (inode, mtime, size). Every write replaces the
        # state file by rename (a new inode), so a write by any process invalidates the entry.
        self._checked: dict[tuple[str, str], Path] = {}
        self._records: dict[Path, tuple[tuple[int, int, int], AssetRecord | None]] = {}

    def _asset_dir(self, cloud: str, public_id: str) -> Path:
        known = self._checked.get((cloud, public_id))
        if known is not None:
            return known
        segments = check_public_id(public_id)
        *folders, leaf = segments
        path = self._root.joinpath(check_cloud(cloud), *folders, leaf + "#")
        # Defence in depth: check_public_id already refuses anything that could climb out.
        if not path.resolve().is_relative_to(self._root):
            raise UnsafePublicId(f"public_id escapes the store: {public_id!r}")
        if len(self._checked) > _MEMO_MAX:
            self._checked.clear()
        self._checked[(cloud, public_id)] = path
        return path

    @contextmanager
    def _locked(self, asset_dir: Path) -> Iterator[None]:
        asset_dir.mkdir(parents=True, exist_ok=True)
        with open(asset_dir / _LOCK, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @staticmethod
    def _load(asset_dir: Path) -> _State:
        try:
            raw = json.loads((asset_dir / _STATE).read_bytes())
        except FileNotFoundError:
            return _State()
        current = raw.get("current")
        return _State(
            current=AssetRecord.from_json(current) if current else None,
            backups=[AssetRecord.from_json(b) for b in raw.get("backups", [])],
            last_version=int(raw.get("last_version", 0)),
        )

    @staticmethod
    def _save(asset_dir: Path, state: _State) -> None:
        doc = {
            "current": state.current.to_json() if state.current else None,
            "backups": [b.to_json() for b in state.backups],
            # kept after delete, so a re-upload never reuses a version a CDN may still cache
            "last_version": state.last_version,
        }
        write_atomic(asset_dir / _STATE, json.dumps(doc, ensure_ascii=False).encode("utf-8"))

    @staticmethod
    def _sweep(asset_dir: Path, state: _State) -> None:
        """Remove files the state no longer references (old versions, crash debris)."""
        keep = {_STATE, _LOCK, *(_data_name(r) for r in state.records())}
        for name in os.listdir(asset_dir):
            if name not in keep:
                (asset_dir / name).unlink(missing_ok=True)

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
        asset_dir = self._asset_dir(cloud, public_id)
        draft = make_record(cloud, public_id, data, meta, version=0)  # validates before any I/O
        with self._locked(asset_dir):
            state = self._load(asset_dir)
            version = next_version(state.last_version)
            rec = replace(draft, version=version)
            write_atomic(asset_dir / _data_name(rec), data)
            if backup and state.current is not None:
                state.backups.append(state.current)
            state.current, state.last_version = rec, version
            self._save(asset_dir, state)
            self._sweep(asset_dir, state)
        return rec

    def stat(self, cloud: str, public_id: str) -> AssetRecord | None:
        """The current record, or None."""
        asset_dir = self._asset_dir(cloud, public_id)
        try:
            st = os.stat(asset_dir / _STATE)
        except FileNotFoundError:
            return None
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        memo = self._records.get(asset_dir)
        if memo is not None and memo[0] == stamp:
            return memo[1]
        record = self._load(asset_dir).current
        if len(self._records) > _MEMO_MAX:
            self._records.clear()
        self._records[asset_dir] = (stamp, record)
        return record

    def path(self, cloud: str, public_id: str, *, version: int | None = None) -> Path:
        """File holding the current (or given) version; raise AssetNotFound. Local-only extra."""
        asset_dir = self._asset_dir(cloud, public_id)
        state = self._load(asset_dir)
        if version is None:
            if state.current is None:
                raise AssetNotFound(f"{cloud}/{public_id}")
            return asset_dir / _data_name(state.current)
        for rec in state.records():
            if rec.version == version:
                return asset_dir / _data_name(rec)
        raise AssetNotFound(f"{cloud}/{public_id} v{version}")

    def read(self, cloud: str, public_id: str, *, version: int | None = None) -> bytes:
        """Bytes of the current (or the given current/backup) version; raise AssetNotFound."""
        # Between loading the state and opening the file, a concurrent put may commit and sweep
        # the version we picked; the state is then newer, so reload it and try again.
        for _ in range(5):
            try:
                return self.path(cloud, public_id, version=version).read_bytes()
            except FileNotFoundError:
                continue
        raise AssetNotFound(f"{cloud}/{public_id}")

    def delete(self, cloud: str, public_id: str) -> bool:
        """Remove the asset and its backups; False if it did not exist."""
        asset_dir = self._asset_dir(cloud, public_id)
        if not asset_dir.exists():
            return False
        with self._locked(asset_dir):
            state = self._load(asset_dir)
            if state.current is None:
                return False
            state.current, state.backups = None, []
            self._save(asset_dir, state)
            self._sweep(asset_dir, state)
        return True

    def backups(self, cloud: str, public_id: str) -> list[AssetRecord]:
        """Records of the kept backup versions, oldest first."""
        return list(self._load(self._asset_dir(cloud, public_id)).backups)

    def _all_ids(self, cloud: str) -> list[str]:
        base = self._root / check_cloud(cloud)
        ids: list[str] = []
        for dirpath, dirnames, _files in os.walk(base):
            rel = os.path.relpath(dirpath, base)
            folders = []
            for d in dirnames:
                if d.endswith("#"):
                    ids.append(d[:-1] if rel == "." else f"{rel}/{d[:-1]}")
                else:
                    folders.append(d)
            dirnames[:] = folders  # never descend into an asset folder
        return sorted(ids)

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
        ids = (
            i for i in self._all_ids(cloud) if i.startswith(prefix) and (after is None or i > after)
        )
        return list_page(ids, lambda public_id: self.stat(cloud, public_id), max_results)
