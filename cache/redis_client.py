"""What every Redis store shares: the client with bounded timeouts, the one error type, and
Lua scripts.

- `connect(url)` makes a `redis.Redis` whose every call is bounded: connecting gives up after
  `connect_timeout`, a reply after `timeout`, and nothing is retried (redis-py 6+ would retry
  three times with backoff by default, i.e. seconds of waiting on a dead server). A pooled
  connection that the server closed (a restart) is noticed and replaced when it is taken from
  the pool, so the same client works again as soon as the server does.
- `guarded` turns every way Redis can be unavailable (refused, timed out, loading its data,
  read-only during a failover) into `BackendUnavailable`; other errors (a bug in a script, a
  wrong type) pass through unchanged.
- `Lua` runs one server-side script: `EVALSHA`, loading it again when the server forgot it (a
  restart, `SCRIPT FLUSH`). A script is one atomic step; every read-modify-write of the stores
  is one.

Keys: every store works under a prefix that ends in a `{hash tag}` (`alphacdn:{jobs}:` …), so all
keys of one store live on one shard of a Redis Cluster and its multi-key scripts stay legal.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec, TypeVar

import redis
import redis.exceptions as rx
from redis.backoff import NoBackoff
from redis.retry import Retry

from .backend import BackendUnavailable

__all__ = ["Lua", "connect", "guarded"]

P = ParamSpec("P")
T = TypeVar("T")

#: what "Redis is not there right now" looks like through redis-py
_UNAVAILABLE: tuple[type[Exception], ...] = (
    rx.ConnectionError,  # refused, reset, closed; BusyLoadingError (server loading) is one too
    rx.TimeoutError,
    rx.ReadOnlyError,  # talking to a replica mid-failover
    rx.MasterDownError,
    rx.TryAgainError,
    rx.ClusterDownError,
)


def connect(url: str, *, connect_timeout: float = 1.0, timeout: float = 2.0) -> redis.Redis:
    """A client for `url` (`redis://host:port/db`, `rediss://…`, `unix://…`) whose calls give
    up within `connect_timeout` + `timeout` seconds and are never retried."""
    client: redis.Redis = redis.Redis.from_url(
        url,
        socket_connect_timeout=connect_timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        retry_on_timeout=False,
        health_check_interval=0,
    )
    return client


def guarded(fn: Callable[P, T]) -> Callable[P, T]:
    """Raise `BackendUnavailable` (from the redis-py error) when Redis cannot be reached."""

    @functools.wraps(fn)
    def call(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return fn(*args, **kwargs)
        except _UNAVAILABLE as exc:
            raise BackendUnavailable("redis", f"{type(exc).__name__}: {exc}") from exc

    return call


class Lua:
    """One Lua script on one client: `script(keys, args)` runs it atomically."""

    def __init__(self, client: redis.Redis, source: str) -> None:
        self._script = client.register_script(source)

    def __call__(self, keys: Sequence[str], args: Sequence[str | int | float]) -> Any:
        return self._script(keys=list(keys), args=list(args))


def command(client: redis.Redis, *args: str | int | float) -> Any:
    """One plain command (`GET`, `SADD` …); its reply untyped, as redis-py gives it."""
    return client.execute_command(*args)  # type: ignore[no-untyped-call]  # untyped in redis-py
