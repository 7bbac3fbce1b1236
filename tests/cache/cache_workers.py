"""Child-process bodies for the cross-process cache tests (importable by `spawn` children)."""

from __future__ import annotations

import asyncio
import functools
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import diskcache.core
import redis

from alphacdn.cache import (
    Claims,
    Counters,
    DerivedCache,
    DiskCounters,
    EagerChains,
    EagerStore,
    Entry,
    JobQueue,
    JobStore,
    SingleFlight,
)
from alphacdn.cache.named import FileNamed, NamedStore
from alphacdn.cache.redis_claims import RedisClaims
from alphacdn.cache.redis_client import connect
from alphacdn.cache.redis_counters import RedisCounters
from alphacdn.cache.redis_eager import RedisEager
from alphacdn.cache.redis_named import RedisNamed
from alphacdn.cache.redis_queue import RedisJobQueue

SIZE_LIMIT = 64 * 1024 * 1024
_barrier: Any = None


@functools.cache
def _redis(url: str) -> redis.Redis:
    return connect(url)


def redis_client() -> redis.Redis:
    """A client of the session's Redis (the `redis_url` fixture exports where it is)."""
    return _redis(os.environ["ALPHACDN_TEST_REDIS_URL"])


def redis_prefix(where: str) -> str:
    """The key prefix standing for the location `where` (a test's own tmp path)."""
    return f"test:{{{where}}}:"


#: every `JobQueue` implementation: name → opener(location, clock); the queue contract tests
#: run against each (adding a backend is one line here, and its server fixture in NEEDS)
QUEUES: dict[str, Callable[[str, Callable[[], float]], JobQueue]] = {
    "diskcache": lambda where, clock: JobStore(Path(where), clock=clock),
    "redis": lambda where, clock: RedisJobQueue(
        redis_client(), prefix=redis_prefix(where), clock=clock
    ),
}

#: every `Claims` implementation: name → opener(location). SingleFlight is typed for the
#: diskcache `Claims`; `RedisClaims` has the same methods.
CLAIMS: dict[str, Callable[[str], Claims]] = {
    "diskcache": lambda where: Claims(Path(where)),
    "redis": lambda where: cast(Claims, RedisClaims(redis_client(), prefix=redis_prefix(where))),
}

#: every `Counters` implementation: name → opener(location)
COUNTERS: dict[str, Callable[[str], Counters]] = {
    "diskcache": lambda where: DiskCounters(Path(where)),
    "redis": lambda where: RedisCounters(redis_client(), prefix=redis_prefix(where)),
}

#: every shared `EagerStore` implementation: name → opener(location)
EAGER: dict[str, Callable[[str], EagerStore]] = {
    "diskcache": lambda where: EagerChains(Path(where)),
    "redis": lambda where: RedisEager(redis_client(), prefix=redis_prefix(where)),
}

#: every `NamedStore` implementation: name → opener(location)
NAMED: dict[str, Callable[[str], NamedStore]] = {
    "file": lambda where: FileNamed(Path(where) / "named.json"),
    "redis": lambda where: RedisNamed(redis_client(), prefix=redis_prefix(where)),
}

#: the session fixture a backend's server comes from (tests request it before opening one)
NEEDS = {"redis": "redis_url"}


def init(barrier: Any) -> None:
    """Pool initializer: keep the shared barrier (it can only be passed at process start)."""
    global _barrier
    _barrier = barrier


def _go() -> None:
    if _barrier is not None:
        _barrier.wait(timeout=30)


def crash_mid_write(directory: str, key: str, body: bytes) -> None:
    """Put `body`, but die (no cleanup, like SIGKILL) after half of the value file is written."""
    real_open = open

    class _Dying:
        def __init__(self, f: Any) -> None:
            self._f, self._written = f, 0

        def __enter__(self) -> _Dying:
            return self

        def __exit__(self, *exc: object) -> None:
            self._f.close()

        def write(self, chunk: bytes) -> int:
            if self._written + len(chunk) > len(body) // 2:
                self._f.write(chunk[: len(body) // 2 - self._written])
                self._f.flush()
                os._exit(3)
            self._written += len(chunk)
            return int(self._f.write(chunk))

    def dying_open(path: str, mode: str = "r", **kw: Any) -> Any:
        return _Dying(real_open(path, mode, **kw))

    diskcache.core.open = dying_open  # type: ignore[attr-defined]  # module global, child only
    DerivedCache(Path(directory), size_limit=SIZE_LIMIT).put(key, body, {"n": 1}, tag="t")


def crash_before_commit(directory: str, key: str, body: bytes) -> None:
    """Put `body`, but die after the value file is complete, before its row is committed."""
    os.fsync = lambda fd: os._exit(3)  # child only
    DerivedCache(Path(directory), size_limit=SIZE_LIMIT).put(key, body, {"n": 1}, tag="t")


def put_forever(directory: str, key: str, size: int) -> None:
    """Overwrite `key` with bodies of one repeated byte `i` and meta `{"i": i}` until killed."""
    cache = DerivedCache(Path(directory), size_limit=SIZE_LIMIT)
    i = 0
    while True:
        i = (i + 1) % 256
        cache.put(key, bytes([i]) * size, {"i": i}, tag="t")


def single_flight_once(impl: str, state_dir: str, derived_dir: str, log: str) -> bytes:
    """Run one SingleFlight for a shared key; every produce appends a line to `log`."""
    derived = DerivedCache(Path(derived_dir), size_limit=SIZE_LIMIT)
    flight = SingleFlight(CLAIMS[impl](state_dir), ttl=10, poll_interval=0.02)

    async def produce() -> Entry:
        with open(log, "a") as f:
            f.write(f"{os.getpid()}\n")
        await asyncio.sleep(0.3)
        derived.put("k", b"rendered", {"by": os.getpid()}, tag="t")
        return Entry(b"rendered", {})

    _go()
    entry = asyncio.run(flight.run("k", produce, lambda: derived.get("k")))
    return entry.body


def submit_all(impl: str, where: str, keys: list[str]) -> list[str]:
    """Submit every key; return the keys this process created."""
    queue = QUEUES[impl](where, time.time)
    _go()
    return [k for k in keys if queue.submit(k, "matte", {"k": k})[1]]


def claim_all(impl: str, where: str, owner: str) -> list[str]:
    """Claim jobs until the queue is empty; return their keys."""
    queue = QUEUES[impl](where, time.time)
    _go()
    claimed = []
    while (rec := queue.claim_next(owner, 60)) is not None:
        claimed.append(rec.key)
    return claimed


def add_up_to(impl: str, where: str, n: int, limit: int) -> int:
    """`add_within("n", 1, limit=limit)` `n` times; return how many adds were taken."""
    counters = COUNTERS[impl](where)
    return sum(counters.add_within("n", 1, limit=limit)[0] for _ in range(n))


def add_chains(impl: str, where: str, worker: int) -> None:
    """Allow 20 chains of this worker's own for one asset."""
    store = EAGER[impl](where)
    for i in range(20):
        store.add("demo/a", f"w_{worker * 100 + i}")


def set_names(impl: str, where: str, worker: int) -> None:
    """Create 20 named transformations of this worker's own."""
    store = NAMED[impl](where)
    for i in range(20):
        store.set(f"w{worker}_{i}", f"w_{worker * 100 + i}")
