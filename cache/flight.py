"""Single-flight: N concurrent requests for one missing result do the work once, on one host.

Two layers, because they fail differently:

- within a process, a dict of in-flight calls: followers simply await the leader's outcome;
- across worker processes, `Claims`: a lease row in a diskcache, taken with `add` (an atomic
  INSERT under SQLite's write lock, so exactly one process wins). Losers poll the caller's
  `check` (typically a derived-cache lookup) until the result appears or the claim disappears,
  then try to claim themselves.

A claim must not outlive its holder (kill -9, OOM, a deploy): a restart would otherwise make the
next request for that key wait out the lease. So a claim names its owner (`host:pid:nonce`) and
is short (`ttl`, default 10 s) and renewed every third of it while the holder works. A waiter on
the same host whose holder's pid is gone takes the claim over at once; a holder elsewhere that
died stops renewing and its claim lapses within `ttl`.

`ClaimStore` is what `SingleFlight` needs from the claims: `Claims` (diskcache, one host) and
`RedisClaims` (`redis_claims.py`, a fleet) implement it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

import anyio
import anyio.to_thread
import diskcache

from .owners import new_owner, owner_is_dead

__all__ = ["ClaimStore", "Claims", "SingleFlight"]

T = TypeVar("T")


class ClaimStore(Protocol):
    """Expiring exclusive claims on string keys, shared by every process that opens the store."""

    def try_claim(self, key: str, ttl: float) -> str | None:
        """Take the claim for `ttl` seconds; its token, or None if someone alive holds it."""
        ...

    def release(self, key: str, token: str) -> bool:
        """Give the claim back, only if `token` still holds it."""
        ...

    def renew(self, key: str, token: str, ttl: float) -> bool:
        """Extend a claim `token` still holds by `ttl` seconds from now; False if it was lost."""
        ...

    def held(self, key: str) -> bool:
        """Whether a live claim exists for `key`."""
        ...

    def close(self) -> None:
        """Release this handle's connections."""
        ...


class Claims:
    """Expiring exclusive claims on string keys, shared by every process using `directory`."""

    def __init__(self, directory: Path) -> None:
        # never evict a live claim for space; expired ones are still culled on each `add`
        self._cache = diskcache.Cache(str(directory), eviction_policy="none")

    def try_claim(self, key: str, ttl: float) -> str | None:
        """Take the claim for `ttl` seconds; return its token (`host:pid:nonce`), or None if
        someone alive holds it. A claim whose holder on this host is dead is taken over."""
        token = new_owner()
        # `add` only inserts if the key is absent or expired, atomically across processes.
        if self._cache.add(key, token, expire=ttl, retry=True):
            return token
        with self._cache.transact(retry=True):
            held = self._cache.get(key)
            if isinstance(held, str) and owner_is_dead(held):
                self._cache.set(key, token, expire=ttl)
                return token
        return None

    def release(self, key: str, token: str) -> bool:
        """Give the claim back, only if `token` still holds it (it may have expired and moved)."""
        with self._cache.transact(retry=True):
            if self._cache.get(key) != token:
                return False
            return bool(self._cache.delete(key))

    def renew(self, key: str, token: str, ttl: float) -> bool:
        """Extend a claim we still hold by `ttl` seconds from now; False if it was lost."""
        with self._cache.transact(retry=True):
            if self._cache.get(key) != token:
                return False
            return bool(self._cache.touch(key, expire=ttl))

    def held(self, key: str) -> bool:
        """Whether a live claim exists for `key`: unexpired, and not held by a dead process."""
        token = self._cache.get(key)
        return token is not None and not (isinstance(token, str) and owner_is_dead(token))

    @contextmanager
    def claim(self, key: str, ttl: float) -> Iterator[bool]:
        """`with claims.claim(key, ttl) as won:` — released on exit if won."""
        token = self.try_claim(key, ttl)
        try:
            yield token is not None
        finally:
            if token is not None:
                self.release(key, token)

    def close(self) -> None:
        """Close this process's SQLite connection."""
        self._cache.close()


@dataclass
class _Call:
    done: anyio.Event = field(default_factory=anyio.Event)
    ok: bool = False
    value: Any = None
    error: BaseException | None = None


class SingleFlight:
    """Deduplicate concurrent producers of one key, in this process and across processes."""

    def __init__(
        self, claims: ClaimStore, *, ttl: float = 10.0, poll_interval: float = 0.05
    ) -> None:
        """`ttl`: the claim's lease, renewed every third of it while `produce` runs (a holder
        on another host that died blocks the others at most that long)."""
        self._claims = claims
        self._ttl = ttl
        self._poll = poll_interval
        self._calls: dict[str, _Call] = {}

    async def run(
        self,
        key: str,
        produce: Callable[[], Awaitable[T]],
        check: Callable[[], T | None],
    ) -> T:
        """Return `check()` if it has a result, else `produce()` once for all concurrent callers.

        `produce` must make its result visible to `check` (e.g. store it in the derived cache)
        before returning, so callers in other processes find it. `check` is synchronous and
        runs in a worker thread. An error of `produce` reaches every caller waiting in this
        process; callers elsewhere then try themselves.
        """
        while (call := self._calls.get(key)) is not None:
            await call.done.wait()
            if call.ok:
                return cast(T, call.value)
            if call.error is not None:
                raise call.error
            # the leader was cancelled (its client went away): one of us takes over
        call = _Call()
        self._calls[key] = call
        try:
            call.value = await self._lead(key, produce, check)
            call.ok = True
            return cast(T, call.value)
        except anyio.get_cancelled_exc_class():
            raise
        except BaseException as exc:
            call.error = exc
            raise
        finally:
            del self._calls[key]
            call.done.set()

    async def _holding(self, key: str, token: str, produce: Callable[[], Awaitable[T]]) -> T:
        """`produce()` while renewing the claim every third of `ttl`: a long producer keeps it,
        a crashed one loses it within `ttl`."""

        async def renew() -> None:
            while True:
                await anyio.sleep(self._ttl / 3)
                await anyio.to_thread.run_sync(self._claims.renew, key, token, self._ttl)

        result: list[T] = []
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(renew)
                result.append(await produce())
                tg.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            while isinstance(group, BaseExceptionGroup) and len(group.exceptions) == 1:
                inner = group.exceptions[0]
                if not isinstance(inner, BaseExceptionGroup):
                    raise inner from None  # the producer's own error, not the group's wrapper
                group = inner
            raise
        return result[0]

    async def _lead(
        self, key: str, produce: Callable[[], Awaitable[T]], check: Callable[[], T | None]
    ) -> T:
        while True:
            hit = await anyio.to_thread.run_sync(check)
            if hit is not None:
                return hit
            token = await anyio.to_thread.run_sync(self._claims.try_claim, key, self._ttl)
            if token is not None:
                try:
                    # another process may have finished between our check and our claim
                    hit = await anyio.to_thread.run_sync(check)
                    if hit is not None:
                        return hit
                    return await self._holding(key, token, produce)
                finally:
                    with anyio.CancelScope(shield=True):
                        await anyio.to_thread.run_sync(self._claims.release, key, token)
            while await anyio.to_thread.run_sync(self._claims.held, key):
                await anyio.sleep(self._poll)
                hit = await anyio.to_thread.run_sync(check)
                if hit is not None:
                    return hit
