"""Named transformations (`t_<name>`): from the config file, plus those created via the admin API.

Admin-created ones are persisted as one JSON file under the state dir (atomic replace), and
re-read when its mtime changes so several `--workers` see the same table.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from alphacdn.transform.errors import InvalidRequest

_NAME = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


class NamedTransformations:
    """`name → chain` table: config-file entries first, admin-created entries override them."""

    def __init__(self, path: Path, configured: Mapping[str, str]) -> None:
        self._path = path
        self._configured = dict(configured)
        self._lock = threading.Lock()
        self._mtime: float | None = None
        self._stored: dict[str, str] = {}
        self._merged: Mapping[str, str] = MappingProxyType(dict(self._configured))

    def _refresh(self) -> None:
        try:
            mtime = self._path.stat().st_mtime
        except FileNotFoundError:
            if self._mtime is not None or self._stored:
                self._stored, self._mtime = {}, None
                self._merge()
            return
        if mtime != self._mtime:
            self._stored = json.loads(self._path.read_text())
            self._mtime = mtime
            self._merge()

    def _merge(self) -> None:
        self._merged = MappingProxyType({**self._configured, **self._stored})

    def table(self) -> dict[str, str]:
        """The current table (a copy)."""
        return dict(self.current())

    def current(self) -> Mapping[str, str]:
        """The current table, read-only: the same object until the table changes, so what is
        derived from it (parsed delivery URLs) can be kept while it `is` the same."""
        with self._lock:
            self._refresh()
            return self._merged

    def set(self, name: str, chain: str) -> None:
        """Create or replace a named transformation (persisted)."""
        if not _NAME.match(name):
            raise InvalidRequest(f"Invalid transformation name: {name!r}")
        with self._lock:
            self._refresh()
            self._stored[name] = chain
            self._write()
            self._merge()

    def delete(self, name: str) -> bool:
        """Remove an admin-created transformation; config-file ones cannot be deleted."""
        with self._lock:
            self._refresh()
            found = self._stored.pop(name, None) is not None
            if found:
                self._write()
                self._merge()
            return found

    def _write(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self._path.parent, prefix=".named-")
        with os.fdopen(fd, "w") as f:
            json.dump(self._stored, f, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._path)
        self._mtime = self._path.stat().st_mtime


__all__ = ["NamedTransformations"]
