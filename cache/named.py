"""Named transformations created through the admin API (`t_<name>`): one shared table.

`NamedStore` is what `alphacdn.named.NamedTransformations` needs: the table, a cheap `version`
that changes whenever the table does (read on the delivery path, so the table itself is read
again only after a change), and atomic set / delete.

Implementations: `FileNamed` (one JSON file under the state dir, replaced atomically; the
embedded default) and `RedisNamed` (`redis_named.py`, a fleet). `tests/cache/test_named.py` is
the contract both pass.
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from .files import write_atomic

__all__ = ["FileNamed", "NamedStore"]


class NamedStore(Protocol):
    """The admin-created `name → chain` table, shared by every process that opens it."""

    def version(self) -> Hashable:
        """A token that changes whenever the table changes (cheap: read per request)."""
        ...

    def load(self) -> dict[str, str]:
        """The whole table."""
        ...

    def set(self, name: str, chain: str) -> None:
        """Create or replace one entry (atomic across processes)."""
        ...

    def delete(self, name: str) -> bool:
        """Remove one entry; False if there was none."""
        ...


class FileNamed:
    """`NamedStore` in one JSON file, replaced atomically; writers on one host serialise on a
    lock file beside it, readers never wait."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def version(self) -> Hashable:
        try:
            st = self._path.stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_ino, st.st_size)

    def load(self) -> dict[str, str]:
        try:
            table = json.loads(self._path.read_text())
        except FileNotFoundError:
            return {}
        return {str(k): str(v) for k, v in table.items()}

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield  # the lock goes with the file's closing

    def _write(self, table: dict[str, str]) -> None:
        write_atomic(self._path, json.dumps(table, sort_keys=True).encode())

    def set(self, name: str, chain: str) -> None:
        with self._locked():
            table = self.load()
            table[name] = chain
            self._write(table)

    def delete(self, name: str) -> bool:
        with self._locked():
            table = self.load()
            if table.pop(name, None) is None:
                return False
            self._write(table)
            return True
