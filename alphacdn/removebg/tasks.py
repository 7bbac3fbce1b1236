"""Persisted async tasks (`/v2/tasks`): a diskcache store and a runner that survives restarts.

A task is `pending` until a runner claims it (`running`, with a lease it renews while working),
then `completed` (with `result` URLs) or `failed` (with `error`). Claims happen inside one
diskcache transaction, so several worker processes sharing the state dir run each task once. A
runner that stops puts its running tasks back to `pending`; one that dies leaves a lease that
expires, after which any runner re-claims the task. Inputs and results are stored next to it.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import diskcache

TOOL = "background_removal"
_ACTIVE = "active"  # ids of pending/running tasks, so claiming does not scan every key


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


@dataclass(frozen=True, slots=True)
class Claim:
    task_id: str
    record: dict[str, Any]


class TaskStore:
    """Task records (`task:<id>`), inputs (`input:<id>`) and results (`file:<id>:<name>`)."""

    def __init__(self, state_dir: Path) -> None:
        self._db = diskcache.Cache(str(state_dir / "removebg-tasks"))

    def close(self) -> None:
        self._db.close()

    def create(
        self,
        *,
        owner: str,
        args: dict[str, Any],
        fields: dict[str, str],
        image: bytes | None,
        base_url: str,
        webhook_url: str | None,
    ) -> dict[str, Any]:
        """Store a new pending task; `fields` are the removebg parameters it will run with."""
        task_id = uuid.uuid4().hex
        stamp = now_iso()
        record: dict[str, Any] = {
            "_id": task_id,
            "createdAt": stamp,
            "updatedAt": stamp,
            "user": hashlib.sha256(owner.encode()).hexdigest()[:16],
            "tool": TOOL,
            "output_type": "image",
            "args": args,
            "status": "pending",
            "error": None,
            "result": None,
            "cost": 0,
            "performance": None,
            # private fields, never shown (see `public`)
            "_owner": owner,
            "_fields": fields,
            "_base_url": base_url,
            "_webhook": webhook_url,
            "_lease_until": 0.0,
            "_attempts": 0,
            "_created": time.time(),
        }
        with self._db.transact():
            if image is not None:
                self._db.set(f"input:{task_id}", image)
            self._db.set(f"task:{task_id}", record)
            self._db.set(_ACTIVE, [*self._db.get(_ACTIVE, []), task_id])
        return record

    def get(self, task_id: str) -> dict[str, Any] | None:
        record = self._db.get(f"task:{task_id}")
        return record if isinstance(record, dict) else None

    def input(self, task_id: str) -> bytes | None:
        data = self._db.get(f"input:{task_id}")
        return data if isinstance(data, bytes) else None

    def claim(self, lease_seconds: float) -> Claim | None:
        """Mark the oldest claimable task running (pending, or running with an expired lease)."""
        now = time.time()
        with self._db.transact():
            for task_id in self._db.get(_ACTIVE, []):
                record = self.get(task_id)
                if record is None:
                    continue
                expired = record["status"] == "running" and record["_lease_until"] < now
                if record["status"] == "pending" or expired:
                    record.update(
                        status="running",
                        updatedAt=now_iso(),
                        _lease_until=now + lease_seconds,
                        _attempts=record["_attempts"] + 1,
                        _started=now,
                    )
                    self._db.set(f"task:{task_id}", record)
                    return Claim(task_id, record)
        return None

    def renew(self, task_id: str, lease_seconds: float) -> None:
        with self._db.transact():
            record = self.get(task_id)
            if record is not None and record["status"] == "running":
                record["_lease_until"] = time.time() + lease_seconds
                self._db.set(f"task:{task_id}", record)

    def finish(self, task_id: str, **changes: Any) -> dict[str, Any]:
        """Set the final (or back-to-pending) state; drop the task from the active list."""
        with self._db.transact():
            record = self.get(task_id) or {}
            record.update(changes, updatedAt=now_iso())
            self._db.set(f"task:{task_id}", record)
            if record.get("status") in ("completed", "failed"):
                self._db.set(_ACTIVE, [i for i in self._db.get(_ACTIVE, []) if i != task_id])
                self._db.delete(f"input:{task_id}")
        return record

    def put_file(self, task_id: str, name: str, data: bytes, media_type: str) -> None:
        self._db.set(f"file:{task_id}:{name}", (media_type, data))

    def get_file(self, task_id: str, name: str) -> tuple[str, bytes] | None:
        value = self._db.get(f"file:{task_id}:{name}")
        if isinstance(value, tuple) and len(value) == 2:
            return str(value[0]), bytes(value[1])
        return None


def public(record: dict[str, Any]) -> dict[str, Any]:
    """The task as the API shows it (private `_…` fields removed, `_id` kept)."""
    return {k: v for k, v in record.items() if k == "_id" or not k.startswith("_")}


__all__ = ["TOOL", "Claim", "TaskStore", "now_iso", "public"]
