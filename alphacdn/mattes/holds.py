"""Delivery requests held for a matte in progress (`ALPHACDN_MATTE_WAIT`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

from alphacdn.transform.errors import MatteInProgress

T = TypeVar("T")

#: a held request looks again at least this often (a job in another worker process cannot
#: wake it)
_RECHECK = 1.0


class _Waiters:
    """Requests held for one matte key, and the event that wakes them."""

    def __init__(self) -> None:
        self.event = anyio.Event()
        self.count = 0


class Holds:
    """Requests waiting per matte key, woken when a job for that key ends in this process."""

    def __init__(self) -> None:
        #: matte key → the requests held for it; set when a job for it ends in this process
        self._finished: dict[str, _Waiters] = {}

    async def hold(self, key: str, wait: float, look: Callable[[], Awaitable[T]]) -> T:
        """`look()` until it stops raising MatteInProgress or `wait` seconds are over (then
        its last 423): it wakes when a job of this process ends, and every second otherwise."""
        deadline = anyio.current_time() + wait
        # registered before looking, so a job that finishes in between still wakes us
        finished = self._finished.setdefault(key, _Waiters())
        finished.count += 1
        try:
            while True:
                try:
                    return await look()
                except MatteInProgress:
                    left = deadline - anyio.current_time()
                    if left <= 0:
                        raise
                with anyio.move_on_after(min(left, _RECHECK)):
                    await finished.event.wait()
                if finished.event.is_set():  # that job ended: wait on the next one, if any
                    finished.count -= 1
                    finished = self._finished.setdefault(key, _Waiters())
                    finished.count += 1
        finally:
            finished.count -= 1
            if finished.count == 0 and self._finished.get(key) is finished:
                del self._finished[key]  # nobody waits (e.g. the job ran in another worker)

    def wake(self, key: str) -> None:
        """Wake the requests held for `key` (its job ended here, done or failed)."""
        finished = self._finished.pop(key, None)
        if finished is not None:
            finished.event.set()


__all__ = ["Holds"]
