"""Named transformations (`t_<name>`): from the config file, plus those created via the admin API.

Admin-created ones live in a `cache.NamedStore` (a JSON file under the state dir, or Redis for a
fleet); the table is read again only when the store's version changes, so every process and
replica sees the same table. With `recheck_seconds` (Redis: 1 s), the version is asked at most
that often, so the delivery path does not wait on the network for every new URL; a change made
on another replica shows within that time. If the store cannot be reached (Redis down),
delivery keeps the last table it read (and asks again after `_RETRY_AFTER_FAILURE` s); creating
or deleting one answers 503.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Hashable, Mapping
from types import MappingProxyType

from alphacdn.cache import BackendUnavailable
from alphacdn.cache.named import NamedStore
from alphacdn.transform.errors import InvalidRequest

log = logging.getLogger("alphacdn")

_NAME = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
#: seconds between two warnings about an unreachable store
_WARN_EVERY = 30.0
#: seconds before a store that could not be reached is asked again
_RETRY_AFTER_FAILURE = 5.0
_UNREAD = object()


class NamedTransformations:
    """`name → chain` table: config-file entries first, admin-created entries override them."""

    def __init__(
        self, store: NamedStore, configured: Mapping[str, str], *, recheck_seconds: float = 0.0
    ) -> None:
        self._store = store
        self._configured = dict(configured)
        self._lock = threading.Lock()
        self._version: Hashable = _UNREAD
        self._merged: Mapping[str, str] = MappingProxyType(dict(self._configured))
        self._warned = 0.0
        self._recheck = recheck_seconds
        #: when the version may next be asked (monotonic)
        self._next_check = 0.0

    def _refresh(self) -> None:
        now = time.monotonic()
        if now < self._next_check:
            return
        self._next_check = now + self._recheck
        try:
            version = self._store.version()
            if version == self._version:
                return
            stored = self._store.load()
        except BackendUnavailable as exc:
            if self._version is _UNREAD:
                self._next_check = 0.0
                raise  # nothing read yet: no table to fall back on
            self._next_check = now + max(self._recheck, _RETRY_AFTER_FAILURE)
            if now - self._warned > _WARN_EVERY:
                self._warned = now
                log.warning("named transformations: using the last table read (%s)", exc)
            return
        self._version = version
        self._merged = MappingProxyType({**self._configured, **stored})

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
        self._store.set(name, chain)
        self._next_check = 0.0  # this process sees its own change at once
        self.current()

    def delete(self, name: str) -> bool:
        """Remove an admin-created transformation; config-file ones cannot be deleted."""
        found = self._store.delete(name)
        self._next_check = 0.0
        self.current()
        return found


__all__ = ["NamedTransformations"]
