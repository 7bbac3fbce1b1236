"""The Redis stores when Redis is not there: every call fails fast with `BackendUnavailable`
(refused, or no answer within the socket timeout), and the same objects work again once the
server is back. The behaviour shared with the embedded stores is in the contract tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from alphacdn.cache import BackendUnavailable
from alphacdn.cache.redis_claims import RedisClaims
from alphacdn.cache.redis_client import command, connect
from alphacdn.cache.redis_counters import RedisCounters
from alphacdn.cache.redis_eager import RedisEager
from alphacdn.cache.redis_queue import RedisJobQueue
from tests.services import RedisProcess


def _calls(url: str, *, timeout: float = 2.0) -> dict[str, Callable[[], Any]]:
    """One call of each store, all on one client (as the wiring will share one)."""
    client = connect(url, connect_timeout=0.5, timeout=timeout)
    queue = RedisJobQueue(client)
    claims = RedisClaims(client)
    counters = RedisCounters(client)
    eager = RedisEager(client)
    return {
        "queue.submit": lambda: queue.submit("a", "matte", {"p": [1.5, []]}),
        "queue.claim_next": lambda: queue.claim_next("w", 30),
        "queue.depth": queue.depth,
        "claims.try_claim": lambda: claims.try_claim("k", 10),
        "claims.held": lambda: claims.held("k"),
        "counters.add_within": lambda: counters.add_within("n", 1, limit=10),
        "counters.value": lambda: counters.value("n"),
        "eager.add": lambda: eager.add("demo/a", "e_sepia"),
        "eager.chains": lambda: eager.chains("demo/a"),
    }


def test_a_stopped_redis_fails_every_call_fast_and_a_restart_heals_the_same_objects(
    own_redis: RedisProcess,
) -> None:
    calls = _calls(own_redis.url)
    for call in calls.values():
        call()  # connections are open and pooled
    own_redis.stop()
    for name, call in calls.items():
        started = time.monotonic()
        with pytest.raises(BackendUnavailable) as caught:
            call()
        assert time.monotonic() - started < 0.5, name
        assert caught.value.backend == "redis" and caught.value.retry_after > 0
    own_redis.start()  # an empty server on the same port: the scripts are gone too
    assert calls["queue.submit"]()[1] is True  # the job is new again: nothing persisted
    assert calls["queue.claim_next"]() is not None
    assert calls["claims.try_claim"]() is not None and calls["claims.held"]()
    assert calls["counters.add_within"]() == (True, 1)
    calls["eager.add"]()
    assert calls["eager.chains"]() == {"e_sepia"}
    assert calls["queue.depth"]() == 1 and calls["counters.value"]() == 1


def test_a_server_that_does_not_answer_times_out(own_redis: RedisProcess) -> None:
    calls = _calls(own_redis.url, timeout=0.3)
    for call in calls.values():
        call()
    # the server accepts connections but answers nothing for a while (as when it is swapping,
    # or a network path drops packets)
    command(connect(own_redis.url), "CLIENT", "PAUSE", "1500", "ALL")
    paused = time.monotonic()
    for name in ("queue.depth", "claims.held"):
        started = time.monotonic()
        with pytest.raises(BackendUnavailable, match="Timeout"):
            calls[name]()
        assert 0.25 < time.monotonic() - started < 1.2, name
    time.sleep(max(0.0, paused + 1.5 - time.monotonic()))
    assert calls["queue.depth"]() == 1  # the same objects answer again once it does
    assert calls["claims.held"]()


def test_errors_that_are_not_unavailability_pass_through(redis_url: str) -> None:
    """A wrong-type key is a bug or a foreign writer, not an outage: no 503 for it."""
    client = connect(redis_url)
    command(client, "SET", "test:{wrongtype}:demo/a", "x")
    with pytest.raises(Exception) as caught:
        RedisEager(client, prefix="test:{wrongtype}:").chains("demo/a")
    assert not isinstance(caught.value, BackendUnavailable)
