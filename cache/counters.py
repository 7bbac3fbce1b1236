"""Shared numeric counters with atomic check-and-add: the remove.bg API's rate windows, free
calls and credit balances, shared by every worker process on the host.

`DiskCounters` keeps them in a diskcache under the state dir with eviction off (a balance must
never vanish to make room); each read-modify-write runs in one SQLite transaction. A scale-out
implementation (Redis) only has to provide the same three methods (`Counters`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import diskcache

__all__ = ["Counters", "DiskCounters"]


class Counters(Protocol):
    """Named numbers, each optionally expiring; `add_within` is atomic across processes."""

    def value(self, name: str, default: float = 0) -> float:
        """The counter's value, `default` if absent or expired."""
        ...

    def add_within(
        self,
        name: str,
        delta: float,
        *,
        limit: float | None = None,
        default: float = 0,
        expire: float | None = None,
        first_always: bool = False,
    ) -> tuple[bool, float]:
        """Add `delta` unless the result would exceed `limit`; `(added, value after)`.

        `first_always`: an untouched counter (at `default`) always takes the first add, however
        large (a lone heavy image passes a rate window). `expire` (seconds) is set on write."""
        ...

    def close(self) -> None: ...


class DiskCounters:
    """`Counters` in a diskcache directory (eviction off), shared by the host's processes."""

    def __init__(self, directory: Path) -> None:
        self._db = diskcache.Cache(str(directory), eviction_policy="none")

    def value(self, name: str, default: float = 0) -> float:
        return float(self._db.get(name, default))

    def add_within(
        self,
        name: str,
        delta: float,
        *,
        limit: float | None = None,
        default: float = 0,
        expire: float | None = None,
        first_always: bool = False,
    ) -> tuple[bool, float]:
        with self._db.transact(retry=True):
            now = float(self._db.get(name, default))
            untouched = now == default
            if limit is not None and now + delta > limit and not (first_always and untouched):
                return False, now
            self._db.set(name, now + delta, expire=expire)
            return True, now + delta

    def close(self) -> None:
        self._db.close()
