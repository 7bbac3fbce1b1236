"""`RedisNamed`: the admin-created named transformations (`NamedStore`) in Redis.

The table is one hash; beside it, a random token is replaced in the same script as every
change, so `version` (one `GET`) tells a replica when to read the hash again. A token rather
than a counter: a restarted or flushed server would count from 1 again and repeat a version a
replica already holds.
"""

from __future__ import annotations

import uuid
from collections.abc import Hashable

import redis

from .redis_client import Lua, command, guarded

__all__ = ["RedisNamed"]

# KEYS: table, version; ARGV: name, chain, new version token
_SET = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[3])
return 1
"""
# KEYS: table, version; ARGV: name, new version token → 1|0
_DELETE = """
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
return 1
"""


class RedisNamed:
    """`NamedStore` in Redis under `prefix` (a hash and its version token)."""

    def __init__(self, client: redis.Redis, *, prefix: str = "alphacdn:{named}:") -> None:
        self._client = client
        self._keys = [prefix + "table", prefix + "version"]
        self._set = Lua(client, _SET)
        self._delete = Lua(client, _DELETE)

    @guarded
    def version(self) -> Hashable:
        raw = command(self._client, "GET", self._keys[1])
        return raw.decode() if raw is not None else ""

    @guarded
    def load(self) -> dict[str, str]:
        raw = command(self._client, "HGETALL", self._keys[0])
        if isinstance(raw, dict):
            return {k.decode(): v.decode() for k, v in raw.items()}
        pairs = list(raw)
        return {pairs[i].decode(): pairs[i + 1].decode() for i in range(0, len(pairs), 2)}

    @guarded
    def set(self, name: str, chain: str) -> None:
        self._set(self._keys, [name, chain, uuid.uuid4().hex])

    @guarded
    def delete(self, name: str) -> bool:
        return bool(self._delete(self._keys, [name, uuid.uuid4().hex]))

    def close(self) -> None:
        """Release this handle's connections (a later call would open new ones)."""
        self._client.close()
