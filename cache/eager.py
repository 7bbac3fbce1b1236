"""The eager allow-list: per asset, the canonical chains declared `eager` at upload.

Strict mode serves an unsigned transformation only if it is named or one of these, so the list
is shared by every worker process on a host (a diskcache `Index` under the state dir) and read
on the delivery path (one small SQLite read, inside the request's one thread hop).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol

import diskcache

__all__ = ["EagerChains", "EagerStore", "MemoryEager"]


class EagerStore(Protocol):
    """What the wiring needs from an eager allow-list (all methods synchronous)."""

    def chains(self, tag: str) -> frozenset[str]:
        """The canonical chains allowed for the asset `tag` (empty if none)."""
        ...

    def add(self, tag: str, chain: str) -> None:
        """Allow the canonical `chain` for the asset `tag` (atomic across processes)."""
        ...


class EagerChains:
    """The embedded `EagerStore`: a persistent diskcache `Index` of `tag → sorted chains`."""

    def __init__(self, directory: Path) -> None:
        self._index = diskcache.Index(str(directory))

    def chains(self, tag: str) -> frozenset[str]:
        """The canonical chains allowed for the asset `tag` (empty if none)."""
        return frozenset(self._index.get(tag, ()))

    def add(self, tag: str, chain: str) -> None:
        """Allow the canonical `chain` for the asset `tag` (one transaction: no lost update)."""
        with self._index.transact():
            chains = set(self._index.get(tag, ()))
            chains.add(chain)
            self._index[tag] = sorted(chains)


class MemoryEager:
    """`EagerStore` in a dict, for tests of the wiring (one process only)."""

    def __init__(self) -> None:
        self._chains: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()

    def chains(self, tag: str) -> frozenset[str]:
        """The canonical chains allowed for the asset `tag` (empty if none)."""
        return self._chains.get(tag, frozenset())

    def add(self, tag: str, chain: str) -> None:
        """Allow the canonical `chain` for the asset `tag`."""
        with self._lock:
            self._chains[tag] = self._chains.get(tag, frozenset()) | {chain}
