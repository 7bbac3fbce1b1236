"""`RedisClaims`: the single-flight claims of `flight.Claims` in Redis, shared by a fleet.

A claim is one key holding its owner's token (`host:pid:nonce`), taken with `SET NX PX` (Redis
expires it; no clock of ours is involved). Release and renew are Lua scripts that act only
while the key still holds the caller's token, so a holder whose claim lapsed and was taken by
another can neither delete nor extend the new one. As with `Claims`, a waiter on the holder's
own host takes over at once when the holder's process is gone; elsewhere a dead holder stops
renewing and its claim lapses within the ttl.
"""

from __future__ import annotations

import math
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from .owners import owner_is_dead
from .redis_client import Lua, command, guarded

__all__ = ["RedisClaims"]

_HOST = socket.gethostname()

# KEYS: claim; ARGV: token → 1|0
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# KEYS: claim; ARGV: token, ttl ms → 1|0
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
# KEYS: claim; ARGV: the dead holder's token, new token, ttl ms → 1|0 (taken over)
_TAKE_OVER = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
"""


def _ms(ttl: float) -> int:
    return max(1, math.ceil(ttl * 1000))


class RedisClaims:
    """Expiring exclusive claims on string keys, shared by every process using `prefix`."""

    def __init__(self, client: redis.Redis, *, prefix: str = "alphacdn:{claims}:") -> None:
        self._client = client
        self._prefix = prefix
        self._release = Lua(client, _RELEASE)
        self._renew = Lua(client, _RENEW)
        self._take_over = Lua(client, _TAKE_OVER)

    def _held_token(self, key: str) -> str | None:
        raw = command(self._client, "GET", self._prefix + key)
        return raw.decode() if raw is not None else None

    @guarded
    def try_claim(self, key: str, ttl: float) -> str | None:
        """Take the claim for `ttl` seconds; return its token (`host:pid:nonce`), or None if
        someone alive holds it. A claim whose holder on this host is dead is taken over."""
        token = f"{_HOST}:{os.getpid()}:{uuid.uuid4().hex}"
        name = self._prefix + key
        if command(self._client, "SET", name, token, "NX", "PX", _ms(ttl)):
            return token
        held = self._held_token(key)
        if held is None or not owner_is_dead(held):
            return None
        if self._take_over([name], [held, token, _ms(ttl)]):
            return token
        return None

    @guarded
    def release(self, key: str, token: str) -> bool:
        """Give the claim back, only if `token` still holds it (it may have expired and moved)."""
        return bool(self._release([self._prefix + key], [token]))

    @guarded
    def renew(self, key: str, token: str, ttl: float) -> bool:
        """Extend a claim we still hold by `ttl` seconds from now; False if it was lost."""
        return bool(self._renew([self._prefix + key], [token, _ms(ttl)]))

    @guarded
    def held(self, key: str) -> bool:
        """Whether a live claim exists for `key`: unexpired, and not held by a dead process."""
        token = self._held_token(key)
        return token is not None and not owner_is_dead(token)

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
        """Release this handle's connections (a later call would open new ones)."""
        self._client.close()
