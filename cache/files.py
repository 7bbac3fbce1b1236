"""Atomic file writes: a reader sees the old file or the new one, whole, never a mix."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

__all__ = ["write_atomic"]


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` via temp file + fsync + rename + directory fsync."""
    tmp = path.parent / f".tmp-{uuid.uuid4().hex}"
    with open(tmp, "xb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)  # makes the rename itself survive a power loss
    finally:
        os.close(dir_fd)
