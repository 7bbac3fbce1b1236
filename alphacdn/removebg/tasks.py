"""`/v2/tasks` state: each task is a job of kind `task` on the app's one job queue, and its input
and result files are blobs in a `Blobs` store (one group per task, a folder under the state dir
or S3 for a fleet) that never evicts.

A task is `pending` (queued) until a runner claims it (`running`), then `completed` (with result
URLs) or `failed` (with `error`). Claims, leases and restarts are the job queue's. A finished
task is kept for `retention_seconds` after it finished, then `sweep` removes its record and its
files on purpose.
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from alphacdn.cache import Blobs, JobQueue, JobRecord, JobStatus

TOOL = "background_removal"
#: the job kind of a task on the job queue
KIND = "task"
_INPUT = "input"
_ID = re.compile(r"[0-9a-f]{32}")
_STATUS = {
    JobStatus.QUEUED: "pending",
    JobStatus.RUNNING: "running",
    JobStatus.DONE: "completed",
    JobStatus.FAILED: "failed",
}


def _iso(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, UTC).isoformat()


def job_key(task_id: str) -> str:
    """The task's key on the job queue."""
    return f"{KIND}:{task_id}"


def task_id(record: JobRecord) -> str:
    """Inverse of `job_key`."""
    return record.key.removeprefix(f"{KIND}:")


def public(record: JobRecord) -> dict[str, Any]:
    """The task as the API shows it (never its owner key, fields or webhook)."""
    p = record.payload
    done = record.status is JobStatus.DONE
    outcome = record.result or {}
    return {
        "_id": task_id(record),
        "createdAt": _iso(record.created_at),
        "updatedAt": _iso(record.updated_at),
        "user": hashlib.sha256(str(p["owner"]).encode()).hexdigest()[:16],
        "tool": TOOL,
        "output_type": "image",
        "args": p["args"],
        "status": _STATUS[record.status],
        "error": record.error,
        "result": outcome.get("result") if done else None,
        "cost": outcome.get("cost", 0) if done else 0,
        "performance": outcome.get("performance"),
    }


class TaskStore:
    """Tasks over a job queue (records) and a blob folder (`<id>/input`, `<id>/<result>`)."""

    def __init__(
        self,
        queue: JobQueue,
        blobs: Blobs,
        *,
        retention_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.queue = queue
        self.blobs = blobs
        self.retention_seconds = retention_seconds
        self._clock = clock

    def create(
        self,
        *,
        owner: str,
        args: dict[str, Any],
        fields: dict[str, str],
        image: bytes | None,
        base_url: str,
        webhook_url: str | None,
    ) -> JobRecord:
        """Queue a new task; `fields` are the removebg parameters it will run with."""
        new_id = uuid.uuid4().hex
        # the folder exists before the job does, so the sweep finds every task through it
        self.blobs.create(new_id)
        if image is not None:
            self.blobs.put(new_id, _INPUT, image)
        payload = {
            "owner": owner,
            "args": args,
            "fields": fields,
            "base_url": base_url,
            "webhook": webhook_url,
        }
        record, _ = self.queue.submit(job_key(new_id), KIND, payload)
        return record

    def get(self, task_id: str) -> JobRecord | None:
        """The task's record, or None (also for an id we could never have made)."""
        return self.queue.get(job_key(task_id)) if _ID.fullmatch(task_id) else None

    def input(self, task_id: str) -> bytes | None:
        """The uploaded image of a task, until the task is finished."""
        return self.blobs.get(task_id, _INPUT)

    def put_file(self, task_id: str, name: str, data: bytes) -> None:
        """Store a result file (served by `get_file` until the task is swept)."""
        self.blobs.put(task_id, name, data)

    def get_file(self, task_id: str, name: str) -> tuple[str, bytes] | None:
        """(media type, bytes) of a completed task's result file, or None."""
        record = self.get(task_id)
        if record is None or record.status is not JobStatus.DONE or record.result is None:
            return None
        for part in record.result.get("result") or []:
            for output in part.get("output", []):
                if output.get("filename") == name:
                    data = self.blobs.get(task_id, name)
                    if data is None:
                        return None
                    return str(output["mediaAttributes"]["mimeType"]), data
        return None

    def finished(self, task_id: str) -> None:
        """The task is done or failed: its input is no longer needed."""
        self.blobs.delete(task_id, _INPUT)

    def sweep(self, now: float | None = None) -> int:
        """Remove tasks that finished more than `retention_seconds` ago (record and files), and
        folders left without a task for as long; return how many tasks were removed."""
        cutoff = (self._clock() if now is None else now) - self.retention_seconds
        removed = 0
        for group, modified in self.blobs.groups():
            record = self.queue.get(job_key(group))
            if record is None:
                if modified < cutoff:  # created but never queued (a crash in between)
                    self.blobs.drop(group)
                continue
            settled = record.status in (JobStatus.DONE, JobStatus.FAILED)
            if settled and record.updated_at < cutoff:
                self.queue.delete(record.key)
                self.blobs.drop(group)
                removed += 1
        return removed


__all__ = ["KIND", "TOOL", "TaskStore", "job_key", "public", "task_id"]
