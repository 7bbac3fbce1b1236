"""`BlobFolder`: named blobs in groups under one folder, written atomically, never evicted.

    <root>/<group>/<name>

For bytes that belong to a job (a task's input and result files): they stay until their owner
removes them on purpose (`drop`), whatever their total size. Group and blob names are single
path segments of letters, digits, `.`, `-` and `_` (checked, so a name taken from a URL can
never leave the folder).

`Blobs` is the protocol the task store needs; `S3Blobs` (`s3_blobs.py`) keeps the same groups in
a bucket, so a task created on one web replica runs on any worker.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Protocol

from .files import write_atomic

__all__ = ["BlobFolder", "Blobs", "check_blob_name"]


class Blobs(Protocol):
    """Named blobs in groups, never evicted (see `BlobFolder`)."""

    def create(self, group: str) -> None:
        """Make `group` exist (empty), so `groups()` lists it before it holds a blob."""
        ...

    def put(self, group: str, name: str, data: bytes) -> None:
        """Store `data` as `group/name`, replacing any previous one atomically."""
        ...

    def get(self, group: str, name: str) -> bytes | None:
        """The blob, or None (also for a name that could not be stored)."""
        ...

    def delete(self, group: str, name: str) -> bool:
        """Remove one blob; False if it was not there."""
        ...

    def drop(self, group: str) -> None:
        """Remove a group and every blob in it (no error if it is gone already)."""
        ...

    def groups(self) -> list[tuple[str, float]]:
        """Every group with its last-modified time (seconds since the epoch)."""
        ...


_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")


def check_blob_name(name: str) -> str:
    """`name` if it is a valid group or blob name; ValueError otherwise."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"invalid blob name {name!r}")
    return name


_checked = check_blob_name


class BlobFolder:
    """Blobs by (group, name); safe to share between processes (renames are atomic)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, group: str, name: str | None = None) -> Path:
        folder = self.root / _checked(group)
        return folder if name is None else folder / _checked(name)

    def create(self, group: str) -> None:
        """Make `group` exist (empty), so `groups()` lists it before it holds a blob."""
        self._path(group).mkdir(exist_ok=True)

    def put(self, group: str, name: str, data: bytes) -> None:
        """Store `data` as `group/name`, replacing any previous one atomically."""
        path = self._path(group, name)
        path.parent.mkdir(exist_ok=True)
        write_atomic(path, data)

    def get(self, group: str, name: str) -> bytes | None:
        """The blob, or None (also for a name that could not be stored)."""
        try:
            return self._path(group, name).read_bytes()
        except (ValueError, FileNotFoundError, NotADirectoryError):
            return None

    def delete(self, group: str, name: str) -> bool:
        """Remove one blob; False if it was not there."""
        try:
            self._path(group, name).unlink()
        except FileNotFoundError:
            return False
        return True

    def drop(self, group: str) -> None:
        """Remove a group and every blob in it (no error if it is gone already)."""
        shutil.rmtree(self._path(group), ignore_errors=True)

    def groups(self) -> list[tuple[str, float]]:
        """Every group with its folder's last-modified time (seconds since the epoch)."""
        found = []
        for entry in self.root.iterdir():
            try:
                if entry.is_dir() and _NAME.fullmatch(entry.name):
                    found.append((entry.name, entry.stat().st_mtime))
            except FileNotFoundError:  # dropped by another process meanwhile
                continue
        return found
