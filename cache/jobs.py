"""`JobStore`: the embedded `JobQueue`, a diskcache shared by the processes of one host.

Records live in a diskcache under the state dir, next to two small ordered indexes (`queue`:
queued keys, oldest first; `running`: claimed keys). Every change runs inside
`Cache.transact()`, i.e. one SQLite `BEGIN IMMEDIATE` transaction, so read-modify-write steps
(submit-once, claim-next, requeue) are atomic across processes and survive a crash whole or not
at all. The indexes stay small because the queue is bounded by the wiring (`depth()`); done and
failed records stay until `delete`, so a failed job answers its error instead of a new 423 (a
failed record may keep a `result` that lets the wiring judge it stale later and run it again).
Nothing is ever evicted: the cache is opened with `eviction_policy="none"`.

Leases: a claimed job carries `owner` (`host:pid:nonce`) and `lease_until`; the runner renews
it while working. `requeue_stale` (at startup and periodically) puts jobs whose lease expired,
or whose owner is a dead process on this host, back at the front of the queue, so a restart
resumes them at once; a job that keeps killing its worker fails after `max_attempts` (failure
`abandoned`, told apart from a job's own error) instead of looping forever. Keep leases short
(tens of seconds) and renew them every third of the lease, so a restart on another host
resumes quickly.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import diskcache

from .owners import owner_is_dead
from .queue import FailureKind, JobRecord, JobStatus, QueueFull

__all__ = ["JobStore"]

_QUEUE = "index:queue"
_RUNNING = "index:running"


class JobStore:
    """Jobs persisted in a diskcache directory; every method is atomic across processes."""

    def __init__(self, directory: Path, *, clock: Callable[[], float] = time.time) -> None:
        # eviction_policy="none": diskcache's default would silently drop job state past 1 GB
        self._cache = diskcache.Cache(str(directory), eviction_policy="none")
        self._clock = clock

    @contextmanager
    def _txn(self) -> Iterator[None]:
        with self._cache.transact(retry=True):
            yield

    def _load(self, key: str) -> JobRecord | None:
        raw = self._cache.get("job:" + key)
        return JobRecord.from_json(raw) if raw is not None else None

    def _save(self, rec: JobRecord) -> JobRecord:
        self._cache.set("job:" + rec.key, rec.to_json(), retry=True)
        return rec

    def _index(self, name: str) -> list[str]:
        return list(self._cache.get(name, default=[]))

    def _set_index(self, name: str, keys: list[str]) -> None:
        self._cache.set(name, keys, retry=True)

    def _unindex(self, key: str) -> None:
        for name in (_QUEUE, _RUNNING):
            keys = self._index(name)
            if key in keys:
                keys.remove(key)
                self._set_index(name, keys)

    def submit(
        self, key: str, kind: str, payload: Mapping[str, Any], *, limit: int | None = None
    ) -> tuple[JobRecord, bool]:
        """Create the job for `key` unless one exists; return it and whether it was created.

        With `limit`, raise QueueFull instead of creating when queued + running >= limit.
        """
        with self._txn():
            existing = self._load(key)
            if existing is not None:
                return existing, False
            queue = self._index(_QUEUE)
            if limit is not None and len(queue) + len(self._index(_RUNNING)) >= limit:
                raise QueueFull(f"{limit} jobs queued or running")
            now = self._clock()
            rec = JobRecord(
                key=key,
                status=JobStatus.QUEUED,
                kind=kind,
                payload=dict(payload),
                error=None,
                created_at=now,
                updated_at=now,
                attempts=0,
                owner=None,
                lease_until=None,
                result=None,
            )
            self._set_index(_QUEUE, [*queue, key])
            return self._save(rec), True

    def get(self, key: str) -> JobRecord | None:
        """The job for `key`, or None."""
        return self._load(key)

    def claim_next(
        self, owner: str, lease_seconds: float, *, kinds: Collection[str] | None = None
    ) -> JobRecord | None:
        """Move the oldest queued job (of `kinds`, if given) to running for `owner`."""
        with self._txn():
            queue = self._index(_QUEUE)
            for key in queue:
                rec = self._load(key)
                if rec is None or (kinds is not None and rec.kind not in kinds):
                    continue
                queue.remove(key)
                self._set_index(_QUEUE, queue)
                self._set_index(_RUNNING, [*self._index(_RUNNING), key])
                now = self._clock()
                return self._save(
                    replace(
                        rec,
                        status=JobStatus.RUNNING,
                        owner=owner,
                        lease_until=now + lease_seconds,
                        attempts=rec.attempts + 1,
                        updated_at=now,
                        started_at=now,
                    )
                )
        return None

    def renew(self, key: str, owner: str, lease_seconds: float) -> bool:
        """Extend `owner`'s lease; False if the job is no longer running for `owner`."""
        with self._txn():
            rec = self._load(key)
            if rec is None or rec.status is not JobStatus.RUNNING or rec.owner != owner:
                return False
            now = self._clock()
            self._save(replace(rec, lease_until=now + lease_seconds, updated_at=now))
            return True

    def _settle(self, key: str, **changes: Any) -> JobRecord:
        with self._txn():
            rec = self._load(key)
            if rec is None:
                raise KeyError(key)
            self._unindex(key)
            changes.setdefault("owner", None)
            changes.setdefault("lease_until", None)
            return self._save(replace(rec, updated_at=self._clock(), **changes))

    def finish(self, key: str, result: Mapping[str, Any]) -> JobRecord:
        """Mark the job done with `result`; raise KeyError if there is no such job."""
        return self._settle(
            key, status=JobStatus.DONE, result=dict(result), error=None, failure=None
        )

    def fail(self, key: str, error: str, *, result: Mapping[str, Any] | None = None) -> JobRecord:
        """Mark the job failed with `error`; raise KeyError if there is no such job.

        `result` keeps what a later submit needs to judge the failure (e.g. the limit it hit,
        so the job can run again once the limit is raised)."""
        kept = dict(result) if result is not None else None
        return self._settle(
            key, status=JobStatus.FAILED, error=error, result=kept, failure=FailureKind.ERROR
        )

    def release(self, key: str, owner: str) -> bool:
        """Put `owner`'s running job back at the front of the queue, its attempt uncounted."""
        with self._txn():
            rec = self._load(key)
            if rec is None or rec.status is not JobStatus.RUNNING or rec.owner != owner:
                return False
            self._unindex(key)
            self._set_index(_QUEUE, [key, *self._index(_QUEUE)])
            self._save(
                replace(
                    rec,
                    status=JobStatus.QUEUED,
                    owner=None,
                    lease_until=None,
                    started_at=None,
                    attempts=max(0, rec.attempts - 1),
                    updated_at=self._clock(),
                )
            )
            return True

    def requeue_stale(self, now: float | None = None, *, max_attempts: int = 3) -> int:
        """Requeue running jobs whose lease expired or whose owner died (fail those out of
        attempts, as abandoned); return count."""
        now = self._clock() if now is None else now
        with self._txn():
            stale = []
            for key in self._index(_RUNNING):
                rec = self._load(key)
                if rec is not None and (
                    rec.lease_until is None
                    or rec.lease_until < now
                    or (rec.owner is not None and owner_is_dead(rec.owner))
                ):
                    stale.append(rec)
            for rec in stale:
                self._unindex(rec.key)
                spent = rec.attempts >= max_attempts
                self._save(
                    replace(
                        rec,
                        status=JobStatus.FAILED if spent else JobStatus.QUEUED,
                        error=f"abandoned after {rec.attempts} attempts (worker died or timed out)"
                        if spent
                        else rec.error,
                        failure=FailureKind.ABANDONED if spent else None,
                        owner=None,
                        lease_until=None,
                        updated_at=now,
                    )
                )
            # resumed jobs were submitted first: they go back to the front, oldest first
            resumed = sorted(
                (r for r in stale if r.attempts < max_attempts), key=lambda r: r.created_at
            )
            if resumed:
                self._set_index(_QUEUE, [r.key for r in resumed] + self._index(_QUEUE))
            return len(stale)

    def depth(self) -> int:
        """Queued + running jobs (what the bounded queue limits)."""
        with self._txn():
            return len(self._index(_QUEUE)) + len(self._index(_RUNNING))

    def delete(self, key: str) -> bool:
        """Forget a job (e.g. when its asset is deleted); False if there was none."""
        with self._txn():
            self._unindex(key)
            return bool(self._cache.delete("job:" + key, retry=True))

    def close(self) -> None:
        """Close this process's SQLite connection."""
        self._cache.close()
