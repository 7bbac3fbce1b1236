"""`RedisCounters`: the `Counters` protocol (rate windows, credits) in Redis.

Counters are plain string keys holding a float; `add_within` is one Lua script (read, check the
limit, add, set the expiry), so concurrent adds on any number of hosts never pass a limit. The
addition itself is `INCRBYFLOAT`, which keeps the value's full precision (Lua's own
number-to-text conversion keeps 14 digits), and the script returns text for the same reason
(Redis truncates a Lua number reply to an integer). As in `DiskCounters`, each write sets the
expiry anew, and a write without `expire` leaves the counter without one.
"""

from __future__ import annotations

import math

import redis

from .redis_client import Lua, command, guarded

__all__ = ["RedisCounters"]

# KEYS: counter; ARGV: delta, limit ('' = none), default, expire ms ('' = none),
# first_always '1'|'0' → {added 1|0, value as text}
_ADD_WITHIN = """
local raw = redis.call('GET', KEYS[1])
local default = tonumber(ARGV[3])
local now = raw and tonumber(raw) or default
local untouched = now == default
if ARGV[2] ~= '' and now + tonumber(ARGV[1]) > tonumber(ARGV[2])
    and not (ARGV[5] == '1' and untouched) then
  return {0, raw or ARGV[3]}
end
if not raw then redis.call('SET', KEYS[1], ARGV[3]) end
local after = redis.call('INCRBYFLOAT', KEYS[1], ARGV[1])
if ARGV[4] ~= '' then
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
else
  redis.call('PERSIST', KEYS[1])
end
return {1, after}
"""


def _text(x: float) -> str:
    return repr(float(x))


class RedisCounters:
    """`Counters` in Redis under `prefix`; `add_within` is atomic across every client."""

    def __init__(self, client: redis.Redis, *, prefix: str = "alphacdn:{counters}:") -> None:
        self._client = client
        self._prefix = prefix
        self._add = Lua(client, _ADD_WITHIN)

    @guarded
    def value(self, name: str, default: float = 0) -> float:
        """The counter's value, `default` if absent or expired."""
        raw = command(self._client, "GET", self._prefix + name)
        return float(raw) if raw is not None else float(default)

    @guarded
    def add_within(
        self,
        name: str,
        delta: float,
        *,
        limit: float | None = None,
        default: float = 0,
        expire: float | None = None,
        first_always: bool = False,
    ) -> tuple[bool, float]:
        """Add `delta` unless the result would exceed `limit`; `(added, value after)`.

        `first_always`: an untouched counter (at `default`) always takes the first add, however
        large. `expire` (seconds) is set on every write."""
        added, after = self._add(
            [self._prefix + name],
            [
                _text(delta),
                "" if limit is None else _text(limit),
                _text(default),
                "" if expire is None else str(max(1, math.ceil(expire * 1000))),
                "1" if first_always else "0",
            ],
        )
        return bool(added), float(after)

    def close(self) -> None:
        """Release this handle's connections (a later call would open new ones)."""
        self._client.close()
