"""`RedisEager`: the eager allow-list (`EagerStore`) in Redis, one set per asset tag.

`SADD` is atomic, so concurrent adds on any number of hosts lose no update and need no script;
`chains` is one `SMEMBERS` on the delivery path.
"""

from __future__ import annotations

import redis

from .redis_client import command, guarded

__all__ = ["RedisEager"]


class RedisEager:
    """`EagerStore` in Redis: one set of canonical chains per asset tag, under `prefix`."""

    def __init__(self, client: redis.Redis, *, prefix: str = "alphacdn:{eager}:") -> None:
        self._client = client
        self._prefix = prefix

    @guarded
    def chains(self, tag: str) -> frozenset[str]:
        """The canonical chains allowed for the asset `tag` (empty if none)."""
        members = command(self._client, "SMEMBERS", self._prefix + tag)
        return frozenset(m.decode() for m in members)

    @guarded
    def add(self, tag: str, chain: str) -> None:
        """Allow the canonical `chain` for the asset `tag` (atomic across every client)."""
        command(self._client, "SADD", self._prefix + tag, chain)

    def close(self) -> None:
        """Release this handle's connections (a later call would open new ones)."""
        self._client.close()
