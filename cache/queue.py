"""The job queue protocol: persisted jobs, one per key, claimed under a lease.

A job is submitted once per key (a second submit finds the first), claimed by one worker at a
time under a lease it renews while working, and settled as done (with a result) or failed (with
an error). A lease that lapses, or whose owner (`host:pid:nonce`, see `cache.owners`) is a dead
process on this host, puts the job back in the queue at once, so a restart resumes it. A failed
job says why (`failure`): its own error (`error`: its input, it stays failed) or its workers died
`max_attempts` times (`abandoned`: deploys, OOM; the wiring may run it again after a
back-off). Every method is atomic across the processes (and, for a shared backend, the
machines) that open the same queue.

    queued ──claim_next──▶ running ──finish──▶ done
      ▲                      │ └─────fail────▶ failed
      └──release / lease lapsed or owner dead (requeue_stale)

Implementations: `JobStore` (diskcache, embedded). `tests/cache/test_queue_contract.py` is the
contract every implementation passes.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, Protocol

__all__ = ["FailureKind", "JobQueue", "JobRecord", "JobStatus", "QueueFull"]


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class FailureKind(StrEnum):
    """Why a job failed."""

    #: its handler raised (the job's own input or limits): it stays failed, with the reason
    ERROR = "error"
    #: its workers died `max_attempts` times (deploys, OOM): nothing says the job is at fault
    ABANDONED = "abandoned"


class QueueFull(Exception):
    """`submit` with a `limit` found queued + running at the limit."""


@dataclass(frozen=True, slots=True)
class JobRecord:
    """State of one job; `payload` and `result` are JSON-serialisable dicts."""

    key: str
    status: JobStatus
    kind: str
    payload: dict[str, Any]
    error: str | None
    created_at: float
    updated_at: float
    attempts: int
    owner: str | None
    lease_until: float | None
    result: dict[str, Any] | None
    #: when the current attempt was claimed (`updated_at` moves with every lease renewal);
    #: None while queued, and in records written before this field existed
    started_at: float | None = None
    #: why a failed job failed; None unless failed (and in records written before it existed)
    failure: FailureKind | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain dict (enums as their string values)."""
        failure = self.failure.value if self.failure is not None else None
        return {**asdict(self), "status": self.status.value, "failure": failure}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> JobRecord:
        """Inverse of `to_json`."""
        failure = d.get("failure")
        return cls(
            **{
                **d,
                "status": JobStatus(d["status"]),
                "failure": FailureKind(failure) if failure is not None else None,
            }
        )


class JobQueue(Protocol):
    """Persisted jobs shared by every worker; each method is one atomic step."""

    def submit(
        self, key: str, kind: str, payload: Mapping[str, Any], *, limit: int | None = None
    ) -> tuple[JobRecord, bool]:
        """Create the job for `key` unless one exists; return it and whether it was created.

        With `limit`, raise QueueFull instead of creating when queued + running >= limit."""
        ...

    def get(self, key: str) -> JobRecord | None:
        """The job for `key` (any status), or None."""
        ...

    def claim_next(
        self, owner: str, lease_seconds: float, *, kinds: Collection[str] | None = None
    ) -> JobRecord | None:
        """Move the oldest queued job (of `kinds`, if given) to running for `owner`."""
        ...

    def renew(self, key: str, owner: str, lease_seconds: float) -> bool:
        """Extend `owner`'s lease; False if the job is no longer running for `owner`."""
        ...

    def release(self, key: str, owner: str) -> bool:
        """Put `owner`'s running job back at the front of the queue (a graceful stop: the
        attempt is not counted); False if the job is no longer running for `owner`."""
        ...

    def finish(self, key: str, result: Mapping[str, Any]) -> JobRecord:
        """Mark the job done with `result`; raise KeyError if there is no such job."""
        ...

    def fail(self, key: str, error: str, *, result: Mapping[str, Any] | None = None) -> JobRecord:
        """Mark the job failed with `error` (failure `error`: its own) and what a later submit
        needs to judge it; raise KeyError if there is no such job."""
        ...

    def requeue_stale(self, now: float | None = None, *, max_attempts: int = 3) -> int:
        """Requeue running jobs whose lease expired or whose owner is a dead process on this
        host (`cache.owners.owner_is_dead`), oldest first at the front; fail those that used
        `max_attempts` (failure `abandoned`); return how many were found."""
        ...

    def depth(self) -> int:
        """Queued + running jobs (what `submit`'s limit bounds)."""
        ...

    def delete(self, key: str) -> bool:
        """Forget a job whatever its status; False if there was none."""
        ...

    def close(self) -> None:
        """Release this handle's connections."""
        ...
