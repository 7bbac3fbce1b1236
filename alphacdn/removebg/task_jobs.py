"""`TaskJobs`: runs `/v2/tasks` tasks as jobs of kind `task` on the app's one `JobRunner`, posts
their webhooks, and sweeps finished tasks past their retention.

    jobs = TaskJobs(store, service, runner)   # registers the handler for kind `task`
    async with jobs.sweeping(): ...           # removes expired tasks while the app runs
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import anyio.to_thread

from alphacdn.cache import BackendUnavailable, JobRecord
from alphacdn.jobs.runner import JobKind
from alphacdn.net import send_webhook
from alphacdn.removebg.errors import ApiError
from alphacdn.removebg.params import parse_params
from alphacdn.removebg.service import RemoveBg
from alphacdn.removebg.tasks import KIND, TaskStore, public, task_id

log = logging.getLogger("alphacdn.tasks")

#: the longest pause between two sweeps (a short retention sweeps more often)
MAX_SWEEP_INTERVAL = 3600.0


class TaskFailed(Exception):
    """A task's failure as the API shows it; the runner stores `public` as the task's error and
    `job_result` (its timings) with it."""

    def __init__(self, public: str, job_result: dict[str, Any]) -> None:
        super().__init__(public)
        self.public = public
        self.job_result = job_result


class TaskJobs:
    """The handler and the after-job step of kind `task`, and the retention sweep."""

    def __init__(self, store: TaskStore, service: RemoveBg) -> None:
        self.store = store
        self.service = service

    def kinds(self) -> dict[str, JobKind]:
        """The job kind this part runs (for the runner's table, built by `create_app`)."""
        return {KIND: JobKind(self.run, self.settled)}

    async def run(self, record: JobRecord) -> dict[str, Any]:
        """Run the removal; return the task's result, cost and timings (raise TaskFailed)."""
        started = time.time()
        claimed = record.started_at if record.started_at is not None else started
        performance = {"waitTime": round(claimed - record.created_at, 3)}
        p = record.payload
        tid = task_id(record)
        try:
            key = self.service.deps.api_keys.get(str(p["owner"]))
            if key is None:
                raise ApiError(403, "invalid_api_key", "Invalid API Key")
            stored = await anyio.to_thread.run_sync(self.store.input, tid)
            files = {"image_file": stored} if stored is not None else {}
            params = parse_params(dict(p["fields"]), files)
            outcome = await self.service.run(params, key, metered=False)
        except ApiError as exc:
            performance["runTime"] = round(time.time() - started, 3)
            error = f"{exc.title} ({exc.code})" if exc.code else exc.title
            raise TaskFailed(error, {"performance": performance}) from exc
        except BackendUnavailable:
            raise  # a store is down: the runner puts the task back, it is not failed
        except Exception as exc:
            log.exception("task %s failed", tid)
            performance["runTime"] = round(time.time() - started, 3)
            raise TaskFailed("Internal error", {"performance": performance}) from exc
        c = outcome.composed
        name = f"{tid}.{c.extension}"
        url = await self.service.deps.publish(name, c.body, c.media_type)
        if url is None:
            await anyio.to_thread.run_sync(self.store.put_file, tid, name, c.body)
            url = f"{str(p['base_url']).rstrip('/')}/v2/tasks/{tid}/files/{name}"
        performance["runTime"] = round(time.time() - started, 3)
        output = {
            "url": url,
            "filename": name,
            "mediaAttributes": {"mimeType": c.media_type, "width": c.width, "height": c.height},
        }
        return {
            "result": [{"output": [output], "headers": outcome.headers()}],
            "cost": outcome.credits,
            "performance": performance,
        }

    async def settled(self, record: JobRecord) -> None:
        """The task is done or failed: drop its input, POST the final task to its webhook."""
        await anyio.to_thread.run_sync(self.store.finished, task_id(record))
        webhook = record.payload.get("webhook")
        if webhook:
            await send_webhook(
                str(webhook),
                {"task": public(record)},
                allow_private=self.service.deps.allow_private_urls,
            )

    @contextlib.asynccontextmanager
    async def sweeping(self) -> AsyncIterator[None]:
        """Sweep expired tasks now and then while the app runs (every worker does; a sweep
        that finds nothing costs one directory listing)."""
        interval = min(MAX_SWEEP_INTERVAL, max(0.2, self.store.retention_seconds / 10))

        async def loop() -> None:
            while True:
                try:
                    removed = await anyio.to_thread.run_sync(self.store.sweep)
                except Exception:  # a locked or broken store must not end the loop
                    log.exception("sweeping expired tasks failed")
                else:
                    if removed:
                        log.info("removed %d task(s) past their retention", removed)
                await anyio.sleep(interval)

        async with anyio.create_task_group() as tg:
            tg.start_soon(loop)
            try:
                yield
            finally:
                tg.cancel_scope.cancel()


__all__ = ["TaskFailed", "TaskJobs"]
