"""`RedisJobQueue`: the `JobQueue` on Redis, shared by every replica and worker of a fleet.

Plain redis-py and Lua, not arq/saq/rq: the contract is "one job per key, whatever its status,
until `delete`", and those libraries are built around the opposite (arq keeps a finished job's
result under its id and refuses to enqueue that id again until the result expires; rq and saq
key jobs by generated ids). Each protocol method is one Lua script, so each is atomic across
every process that talks to the server, without WATCH retry loops.

Layout, under `prefix` (which should carry a `{hash tag}`, so one queue is one Cluster slot):

    job:<key>        hash: the record's fields (payload/result as JSON text, None = absent)
    queued:<kind>    sorted set of queued keys; score = position (INCR seq for the back,
                     DECR front for the front, so a released / resumed job goes first)
    kinds            set of every kind ever queued (claim without `kinds` looks at each head)
    running          sorted set of claimed keys; score = lease_until (requeue_stale is a range)

Lua never parses payloads or results (cjson would turn `[]` into `{}` and round floats to 14
digits): they are opaque strings, and every time is computed here and sent as `repr(float)`.
Times come from this process's `clock`, like `JobStore`: hosts of a fleet keep NTP time, and a
lease is tens of seconds, so skew of milliseconds does not matter.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import fields
from typing import Any

import redis

from .owners import owner_is_dead
from .queue import FailureKind, JobRecord, JobStatus, QueueFull
from .redis_client import Lua, command, guarded

__all__ = ["RedisJobQueue"]

# shared by every script: ARGV[1] is the prefix
_PRELUDE = """
local P = ARGV[1]
local function jk(key) return P .. 'job:' .. key end
local function depth()
  local n = redis.call('ZCARD', P .. 'running')
  for _, kind in ipairs(redis.call('SMEMBERS', P .. 'kinds')) do
    n = n + redis.call('ZCARD', P .. 'queued:' .. kind)
  end
  return n
end
local function to_back(key, kind)
  redis.call('SADD', P .. 'kinds', kind)
  redis.call('ZADD', P .. 'queued:' .. kind, redis.call('INCR', P .. 'seq'), key)
end
local function to_front(key, kind)
  redis.call('SADD', P .. 'kinds', kind)
  redis.call('ZADD', P .. 'queued:' .. kind, redis.call('DECR', P .. 'front'), key)
end
local function unindex(key, kind)
  redis.call('ZREM', P .. 'running', key)
  redis.call('ZREM', P .. 'queued:' .. kind, key)
end
local function running_for(key, owner)
  local state = redis.call('HMGET', jk(key), 'status', 'owner')
  return state[1] == 'running' and state[2] == owner
end
"""

# ARGV: P, key, kind, payload, now, limit ('' = none) → {created 1|0, record} or {-1}: full
_SUBMIT = """
local key = ARGV[2]
local k = jk(key)
if redis.call('EXISTS', k) == 1 then return {0, redis.call('HGETALL', k)} end
if ARGV[6] ~= '' and depth() >= tonumber(ARGV[6]) then return {-1} end
redis.call('HSET', k, 'key', key, 'status', 'queued', 'kind', ARGV[3], 'payload', ARGV[4],
  'created_at', ARGV[5], 'updated_at', ARGV[5], 'attempts', '0')
to_back(key, ARGV[3])
return {1, redis.call('HGETALL', k)}
"""

# ARGV: P, owner, now, lease_until, filtered '1'|'0', kinds… → record or false
_CLAIM = """
local kinds = {}
if ARGV[5] == '1' then
  for i = 6, #ARGV do kinds[#kinds + 1] = ARGV[i] end
else
  kinds = redis.call('SMEMBERS', P .. 'kinds')
end
local best, best_score, best_kind = nil, nil, nil
for _, kind in ipairs(kinds) do
  local head = redis.call('ZRANGE', P .. 'queued:' .. kind, 0, 0, 'WITHSCORES')
  if head[1] and (best == nil or tonumber(head[2]) < best_score) then
    best, best_score, best_kind = head[1], tonumber(head[2]), kind
  end
end
if best == nil then return false end
redis.call('ZREM', P .. 'queued:' .. best_kind, best)
redis.call('ZADD', P .. 'running', ARGV[4], best)
local k = jk(best)
redis.call('HSET', k, 'status', 'running', 'owner', ARGV[2], 'lease_until', ARGV[4],
  'updated_at', ARGV[3], 'started_at', ARGV[3])
redis.call('HINCRBY', k, 'attempts', 1)
return redis.call('HGETALL', k)
"""

# ARGV: P, key, owner, now, lease_until → 1|0
_RENEW = """
if not running_for(ARGV[2], ARGV[3]) then return 0 end
redis.call('HSET', jk(ARGV[2]), 'lease_until', ARGV[5], 'updated_at', ARGV[4])
redis.call('ZADD', P .. 'running', 'XX', ARGV[5], ARGV[2])
return 1
"""

# ARGV: P, key, owner, now → 1|0
_RELEASE = """
local key = ARGV[2]
if not running_for(key, ARGV[3]) then return 0 end
local k = jk(key)
local kind = redis.call('HGET', k, 'kind')
unindex(key, kind)
to_front(key, kind)
local attempts = tonumber(redis.call('HGET', k, 'attempts') or '0')
redis.call('HDEL', k, 'owner', 'lease_until', 'started_at')
redis.call('HSET', k, 'status', 'queued', 'updated_at', ARGV[4],
  'attempts', math.max(0, attempts - 1))
return 1
"""

# ARGV: P, key, now, status, has_error, error, has_result, result, failure ('' = none)
# → record or false
_SETTLE = """
local key = ARGV[2]
local k = jk(key)
local kind = redis.call('HGET', k, 'kind')
if not kind then return false end
unindex(key, kind)
redis.call('HDEL', k, 'owner', 'lease_until')
redis.call('HSET', k, 'status', ARGV[4], 'updated_at', ARGV[3])
local function put(field, present, value)
  if present == '1' then redis.call('HSET', k, field, value) else redis.call('HDEL', k, field) end
end
put('error', ARGV[5], ARGV[6])
put('result', ARGV[7], ARGV[8])
put('failure', ARGV[9] ~= '' and '1' or '0', ARGV[9])
return redis.call('HGETALL', k)
"""

# ARGV: P, now, max_attempts, then (key, owner) pairs of running jobs whose owner this process
# found dead (taken over only if that owner still holds them) → how many stale jobs were found
_REQUEUE = """
local now, max_attempts = ARGV[2], tonumber(ARGV[3])
local stale = redis.call('ZRANGEBYSCORE', P .. 'running', '-inf', '(' .. now)
local seen = {}
for _, key in ipairs(stale) do seen[key] = true end
for i = 4, #ARGV - 1, 2 do
  local key, owner = ARGV[i], ARGV[i + 1]
  if not seen[key] and redis.call('ZSCORE', P .. 'running', key)
     and redis.call('HGET', jk(key), 'owner') == owner then
    stale[#stale + 1] = key
    seen[key] = true
  end
end
local resumed = {}
for i, key in ipairs(stale) do
  local k = jk(key)
  redis.call('ZREM', P .. 'running', key)
  local rec = redis.call('HMGET', k, 'attempts', 'created_at', 'kind')
  local attempts = tonumber(rec[1] or '0')
  redis.call('HDEL', k, 'owner', 'lease_until')
  if attempts >= max_attempts then
    redis.call('HSET', k, 'status', 'failed', 'updated_at', now, 'failure', 'abandoned',
      'error', 'abandoned after ' .. attempts .. ' attempts (worker died or timed out)')
  else
    redis.call('HSET', k, 'status', 'queued', 'updated_at', now)
    resumed[#resumed + 1] = {key, tonumber(rec[2] or '0'), rec[3], i}
  end
end
-- back to the front, oldest first: push the newest first, each later one goes before it
table.sort(resumed, function(a, b)
  if a[2] ~= b[2] then return a[2] > b[2] end
  return a[4] > b[4]
end)
for _, r in ipairs(resumed) do to_front(r[1], r[3]) end
return #stale
"""

# ARGV: P, key → 1|0
_DELETE = """
local k = jk(ARGV[2])
local kind = redis.call('HGET', k, 'kind')
if kind then unindex(ARGV[2], kind) end
return redis.call('DEL', k)
"""

_DEPTH = "return depth()"

_FIELDS = {f.name for f in fields(JobRecord)}
_FLOATS = {"created_at", "updated_at", "lease_until", "started_at"}
_JSON = {"payload", "result"}


def _num(x: float) -> str:
    """A time as Redis keeps it: the shortest text that reads back as the same float."""
    return repr(float(x))


def _record(reply: list[bytes] | dict[bytes, bytes]) -> JobRecord:
    """A record from `HGETALL` (a flat list from a script, a dict from redis-py); absent
    fields are None, unknown ones ignored."""
    pairs = reply.items() if isinstance(reply, dict) else zip(reply[::2], reply[1::2], strict=True)
    raw = {name.decode(): value.decode() for name, value in pairs}
    values: dict[str, Any] = dict.fromkeys(_FIELDS - {"started_at"})
    for name, text in raw.items():
        if name not in _FIELDS:
            continue  # a field a newer version writes: this one does not know it
        if name in _FLOATS:
            values[name] = float(text)
        elif name in _JSON:
            values[name] = json.loads(text)
        elif name == "attempts":
            values[name] = int(text)
        elif name == "status":
            values[name] = JobStatus(text)
        elif name == "failure":
            values[name] = FailureKind(text)
        else:
            values[name] = text
    return JobRecord(**values)


class RedisJobQueue:
    """`JobQueue` in Redis under `prefix`; every method is one atomic script or command."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = "alphacdn:{jobs}:",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._clock = clock

        def lua(body: str) -> Lua:
            return Lua(client, _PRELUDE + body)

        self._submit, self._claim, self._renew = lua(_SUBMIT), lua(_CLAIM), lua(_RENEW)
        self._release, self._settle_lua = lua(_RELEASE), lua(_SETTLE)
        self._requeue, self._delete = lua(_REQUEUE), lua(_DELETE)
        self._depth = lua(_DEPTH)

    def _run(self, script: Lua, *args: str | int | float) -> Any:
        # the first key routes the call (one slot for the whole queue, see the module doc)
        return script([self._prefix + "running"], [self._prefix, *args])

    @guarded
    def submit(
        self, key: str, kind: str, payload: Mapping[str, Any], *, limit: int | None = None
    ) -> tuple[JobRecord, bool]:
        """Create the job for `key` unless one exists; return it and whether it was created.

        With `limit`, raise QueueFull instead of creating when queued + running >= limit."""
        body = json.dumps(dict(payload), separators=(",", ":"))
        bound = "" if limit is None else str(limit)
        reply = self._run(self._submit, key, kind, body, _num(self._clock()), bound)
        if reply[0] == -1:
            raise QueueFull(f"{limit} jobs queued or running")
        return _record(reply[1]), reply[0] == 1

    @guarded
    def get(self, key: str) -> JobRecord | None:
        """The job for `key` (any status), or None."""
        flat = command(self._client, "HGETALL", self._prefix + "job:" + key)
        return _record(flat) if flat else None

    @guarded
    def claim_next(
        self, owner: str, lease_seconds: float, *, kinds: Collection[str] | None = None
    ) -> JobRecord | None:
        """Move the oldest queued job (of `kinds`, if given) to running for `owner`."""
        now = self._clock()
        only = ["0"] if kinds is None else ["1", *sorted(kinds)]
        flat = self._run(self._claim, owner, _num(now), _num(now + lease_seconds), *only)
        return _record(flat) if flat else None

    @guarded
    def renew(self, key: str, owner: str, lease_seconds: float) -> bool:
        """Extend `owner`'s lease; False if the job is no longer running for `owner`."""
        now = self._clock()
        return bool(self._run(self._renew, key, owner, _num(now), _num(now + lease_seconds)))

    @guarded
    def release(self, key: str, owner: str) -> bool:
        """Put `owner`'s running job back at the front of the queue, its attempt uncounted."""
        return bool(self._run(self._release, key, owner, _num(self._clock())))

    def _settle(
        self,
        key: str,
        status: JobStatus,
        error: str | None,
        result: Mapping[str, Any] | None,
        failure: FailureKind | None = None,
    ) -> JobRecord:
        body = "" if result is None else json.dumps(dict(result), separators=(",", ":"))
        flat = self._run(
            self._settle_lua,
            key,
            _num(self._clock()),
            status.value,
            "0" if error is None else "1",
            error or "",
            "0" if result is None else "1",
            body,
            "" if failure is None else failure.value,
        )
        if not flat:
            raise KeyError(key)
        return _record(flat)

    @guarded
    def finish(self, key: str, result: Mapping[str, Any]) -> JobRecord:
        """Mark the job done with `result`; raise KeyError if there is no such job."""
        return self._settle(key, JobStatus.DONE, None, result)

    @guarded
    def fail(self, key: str, error: str, *, result: Mapping[str, Any] | None = None) -> JobRecord:
        """Mark the job failed with `error` (and what a later submit needs to judge it);
        raise KeyError if there is no such job."""
        return self._settle(key, JobStatus.FAILED, error, result, FailureKind.ERROR)

    @guarded
    def requeue_stale(self, now: float | None = None, *, max_attempts: int = 3) -> int:
        """Requeue running jobs whose lease expired or whose owner on this host died, oldest
        first at the front; fail those that used `max_attempts` (failure `abandoned`); return
        how many were found."""
        at = self._clock() if now is None else now
        running = command(self._client, "ZRANGE", self._prefix + "running", 0, -1)
        dead: list[str] = []
        for raw in running:
            key = raw.decode()
            owner = command(self._client, "HGET", self._prefix + "job:" + key, "owner")
            if owner is not None and owner_is_dead(owner.decode()):
                dead += [key, owner.decode()]
        return int(self._run(self._requeue, _num(at), str(max_attempts), *dead))

    @guarded
    def depth(self) -> int:
        """Queued + running jobs (what `submit`'s limit bounds)."""
        return int(self._run(self._depth))

    @guarded
    def delete(self, key: str) -> bool:
        """Forget a job whatever its status; False if there was none."""
        return bool(self._run(self._delete, key))

    def close(self) -> None:
        """Release this handle's connections (a later call would open new ones)."""
        self._client.close()
