"""`TaskRunner`: claims persisted tasks and runs them through `RemoveBg`; start/stop in lifespan.

runner = TaskRunner(store, service)
await runner.start()      # resumes tasks left pending (or with an expired lease)
...
await runner.stop()       # running tasks go back to pending for the next start
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from alphacdn.net import FetchError, post_json
from alphacdn.removebg.errors import ApiError
from alphacdn.removebg.params import parse_params
from alphacdn.removebg.service import RemoveBg
from alphacdn.removebg.tasks import Claim, TaskStore, public

log = logging.getLogger("alphacdn.tasks")


class TaskRunner:
    """Runs up to `concurrency` tasks at once in this process; polls the shared store."""

    def __init__(
        self,
        store: TaskStore,
        service: RemoveBg,
        *,
        concurrency: int = 1,
        poll_seconds: float = 0.5,
        lease_seconds: float = 60.0,
        webhook_attempts: int = 3,
    ) -> None:
        self.store = store
        self.service = service
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self.lease_seconds = lease_seconds
        self.webhook_attempts = webhook_attempts
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()

    def wake(self) -> None:
        """A task was created: look now instead of at the next poll."""
        self._wake.set()

    async def start(self) -> None:
        if self._loop_task is None:
            self._loop_task = asyncio.create_task(self._loop(), name="removebg-tasks")

    async def stop(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None
        for job in list(self._running):
            job.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)

    @contextlib.asynccontextmanager
    async def lifespan(self) -> AsyncIterator[TaskRunner]:
        await self.start()
        try:
            yield self
        finally:
            await self.stop()

    async def _loop(self) -> None:
        while True:
            claim = None
            if len(self._running) < self.concurrency:
                try:
                    claim = await asyncio.to_thread(self.store.claim, self.lease_seconds)
                except Exception:  # a locked or broken store must not end the loop
                    log.exception("claiming a task failed")
            if claim is not None:
                job = asyncio.create_task(self._run(claim))
                self._running.add(job)
                job.add_done_callback(self._running.discard)
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)

    async def _heartbeat(self, task_id: str) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            await asyncio.to_thread(self.store.renew, task_id, self.lease_seconds)

    async def _run(self, claim: Claim) -> None:
        task_id, record = claim.task_id, claim.record
        beat = asyncio.create_task(self._heartbeat(task_id))
        try:
            changes = await self._execute(task_id, record)
        except asyncio.CancelledError:
            self.store.finish(task_id, status="pending", _lease_until=0.0)
            raise
        finally:
            beat.cancel()
        final = self.store.finish(task_id, **changes)
        self.wake()
        if final.get("_webhook"):
            await self._notify(str(final["_webhook"]), {"task": public(final)})

    async def _execute(self, task_id: str, record: dict[str, Any]) -> dict[str, Any]:
        started = time.time()
        performance = {"waitTime": round(started - record["_created"], 3)}
        try:
            key = self.service.deps.api_keys.get(record["_owner"])
            if key is None:
                raise ApiError(403, "invalid_api_key", "Invalid API Key")
            stored = self.store.input(task_id)
            files = {"image_file": stored} if stored is not None else {}
            params = parse_params(record["_fields"], files)
            outcome = await self.service.run(params, key, metered=False)
        except ApiError as exc:
            performance["runTime"] = round(time.time() - started, 3)
            error = f"{exc.title} ({exc.code})" if exc.code else exc.title
            return {"status": "failed", "error": error, "performance": performance}
        except Exception:
            log.exception("task %s failed", task_id)
            performance["runTime"] = round(time.time() - started, 3)
            return {"status": "failed", "error": "Internal error", "performance": performance}
        c = outcome.composed
        name = f"{task_id}.{c.extension}"
        url = await self.service.deps.publish(name, c.body, c.media_type)
        if url is None:
            self.store.put_file(task_id, name, c.body, c.media_type)
            url = f"{record['_base_url'].rstrip('/')}/v2/tasks/{task_id}/files/{name}"
        performance["runTime"] = round(time.time() - started, 3)
        output = {
            "url": url,
            "filename": name,
            "mediaAttributes": {"mimeType": c.media_type, "width": c.width, "height": c.height},
        }
        return {
            "status": "completed",
            "result": [{"output": [output], "headers": outcome.headers()}],
            "cost": outcome.credits,
            "performance": performance,
        }

    async def _notify(self, url: str, payload: dict[str, Any]) -> None:
        """POST the final task to its webhook; retry with backoff; failures are only logged."""
        allow = self.service.deps.allow_private_urls
        for attempt in range(self.webhook_attempts):
            try:
                status = await post_json(url, payload, timeout=10.0, allow_private=allow)
                if status < 500:
                    return
            except FetchError as exc:
                log.warning("webhook %s: %s", url, exc)
            await asyncio.sleep(2**attempt)
        log.warning("webhook %s gave up after %d attempts", url, self.webhook_attempts)


__all__ = ["TaskRunner"]
