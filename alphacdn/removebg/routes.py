"""The remove.bg-style API surface: `/v1.0/removebg`, `/v1.0/account`, `/v2/tasks/…`,
`/openapi.json`.

    api = RemoveBgApi(deps, runner, task_retention_seconds=…)   # deps: RemoveBgDeps (deps.py);
                                              # tasks run as jobs of kind `task` on `runner`
    routes = api.routes()                     # mount in the app (plain paths, no prefix)
    async with api.lifespan(): ...            # sweeps expired tasks, then closes the stores

`removebg_routes(deps, runner)` returns both the routes and that api object, whose `lifespan()`
the app lifespan enters outside the runner's (so the runner stops first).
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from alphacdn.base_url import base_url
from alphacdn.cache import BlobFolder, Blobs, Counters
from alphacdn.jobs.runner import JobRunner
from alphacdn.removebg.deps import RemoveBgDeps
from alphacdn.removebg.guard import guarded
from alphacdn.removebg.limits import Limits
from alphacdn.removebg.openapi import openapi_document
from alphacdn.removebg.params import parse_params
from alphacdn.removebg.request import read_parameters
from alphacdn.removebg.service import Outcome, RemoveBg
from alphacdn.removebg.task_jobs import TaskJobs
from alphacdn.removebg.task_routes import TaskEndpoints
from alphacdn.removebg.tasks import TaskStore


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "image/" not in accept


def _json_result(outcome: Outcome) -> dict[str, object]:
    """remove.bg's JSON response (`Accept: application/json`)."""
    c = outcome.composed
    left, top, width, height = c.subject
    return {
        "data": {
            "result_b64": base64.b64encode(c.body).decode(),
            "format": c.extension,
            "width": c.width,
            "height": c.height,
            "foreground_top": top,
            "foreground_left": left,
            "foreground_width": width,
            "foreground_height": height,
            "type": outcome.type,
            "credits_charged": outcome.credits,
            "confidence": round(outcome.confidence, 4),
        }
    }


class RemoveBgApi:
    """Routes + the objects behind them (limits, task store, task jobs) for one deps."""

    def __init__(
        self,
        deps: RemoveBgDeps,
        runner: JobRunner,
        *,
        task_retention_seconds: float,
        render_threads: int = 2,
        rate_window_seconds: int = 60,
        counters: Counters | None = None,
        blobs: Blobs | None = None,
    ) -> None:
        """`counters` and `blobs`: the shared stores of a fleet (default: under the state dir)."""
        deps.state_dir.mkdir(parents=True, exist_ok=True)
        self.deps = deps
        self.limits = Limits(
            deps.state_dir,
            deps.api_keys,
            window_seconds=rate_window_seconds,
            counters=counters,
        )
        self.service = RemoveBg(deps, self.limits, render_threads)
        self.store = TaskStore(
            runner.store,
            blobs or BlobFolder(deps.state_dir / "tasks"),
            retention_seconds=task_retention_seconds,
        )
        self.jobs = TaskJobs(self.store, self.service)
        self.tasks = TaskEndpoints(self.limits, self.store, runner, deps.public_url)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/v1.0/removebg", guarded(self.remove_background), methods=["POST"]),
            Route("/v1.0/account", guarded(self.account), methods=["GET"]),
            Route("/v2/tasks/create", guarded(self.tasks.create), methods=["POST"]),
            Route("/v2/tasks/{task_id}", guarded(self.tasks.get), methods=["GET"]),
            Route("/v2/tasks/{task_id}/files/{name}", guarded(self.tasks.file), methods=["GET"]),
            Route("/openapi.json", self.openapi, methods=["GET"]),
        ]

    @contextlib.asynccontextmanager
    async def lifespan(self) -> AsyncIterator[RemoveBgApi]:
        try:
            async with self.jobs.sweeping():
                yield self
        finally:
            self.limits.close()

    async def remove_background(self, request: Request, headers: dict[str, str]) -> Response:
        key = self.limits.authenticate(request.headers.get("x-api-key"))
        headers.update(await anyio.to_thread.run_sync(self.limits.rate_headers, key))
        fields, files = await read_parameters(request)
        params = parse_params(fields, files)
        outcome = await self.service.run(params, key)
        headers.update(outcome.headers())
        if _wants_json(request):
            return JSONResponse(_json_result(outcome), headers=headers)
        return Response(
            outcome.composed.body, media_type=outcome.composed.media_type, headers=headers
        )

    async def account(self, request: Request, headers: dict[str, str]) -> Response:
        key = self.limits.authenticate(request.headers.get("x-api-key"))
        headers.update(await anyio.to_thread.run_sync(self.limits.rate_headers, key))
        account = await anyio.to_thread.run_sync(self.limits.account, key)
        return JSONResponse(account, headers=headers)

    async def openapi(self, request: Request) -> Response:
        return JSONResponse(openapi_document(base_url(request, self.deps.public_url)))


def removebg_routes(
    deps: RemoveBgDeps,
    runner: JobRunner,
    *,
    task_retention_seconds: float,
    counters: Counters | None = None,
    blobs: Blobs | None = None,
) -> tuple[list[BaseRoute], RemoveBgApi]:
    """Routes for `deps` (tasks run on `runner`) plus the api object whose `lifespan()` sweeps
    expired tasks."""
    api = RemoveBgApi(
        deps,
        runner,
        task_retention_seconds=task_retention_seconds,
        counters=counters,
        blobs=blobs,
    )
    return api.routes(), api


__all__ = ["RemoveBgApi", "removebg_routes"]
