"""`create_app(settings)`: the Starlette app, its routes and its lifespan."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from alphacdn import engine
from alphacdn.responses import cdn_error_handler, error_response, unexpected_error_handler
from alphacdn.routes import admin, delivery, upload
from alphacdn.services import Services
from alphacdn.settings import Settings
from alphacdn.transform.errors import CdnError, MethodNotAllowed, NotFound

if TYPE_CHECKING:
    from alphacdn.models import Matter

log = logging.getLogger("alphacdn")


async def health(request: Request) -> Response:
    services: Services = request.app.state.services
    return JSONResponse({"status": "ok", "clouds": list(services.settings.http.clouds)})


async def metrics(request: Request) -> Response:
    """Per-process counters (plain JSON): renders done, cache volume."""
    services: Services = request.app.state.services
    body: dict[str, object] = {
        "pid": os.getpid(),
        "renders": services.renders,
        "derived_bytes": services.derived.volume(),
    }
    if services.mattes is not None:
        runner = services.mattes.runner
        body["jobs"] = {
            "completed": runner.completed,
            "failed": runner.failed,
            "queued_or_running": runner.store.depth(),
            **services.mattes.counters(),
        }
    return JSONResponse(body)


def build_routes() -> list[BaseRoute]:
    v = "/v1_1/{cloud}"
    return [
        Route("/health", health),
        Route("/metrics", metrics),
        Route(f"{v}/image/upload", upload.upload, methods=["POST"]),
        Route(f"{v}/image/destroy", upload.destroy, methods=["POST"]),
        Route(f"{v}/resources/image", admin.list_resources, methods=["GET"]),
        Route(f"{v}/resources/image/upload", admin.list_resources, methods=["GET"]),
        Route(f"{v}/resources/image/upload", admin.delete_resources, methods=["DELETE"]),
        Route(f"{v}/resources/image/upload/{{public_id:path}}", admin.get_resource),
        Route(
            f"{v}/transformations", admin.transformations, methods=["GET", "POST", "PUT", "DELETE"]
        ),
        Route("/{cloud}/image/{rest:path}", delivery.deliver, methods=["GET", "HEAD"]),
    ]


def create_app(settings: Settings) -> Starlette:
    """Build the app for one settings object (tests build theirs with temp dirs)."""
    engine.configure(
        vips_concurrency=settings.engine.vips_concurrency,
        vips_cache_mb=settings.engine.vips_cache_mb,
    )
    services = Services(settings)
    _attach_jobs(services)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # sweep files a crash left half-written in the derived cache
        await anyio.to_thread.run_sync(services.derived.repair)
        async with contextlib.AsyncExitStack() as stack:
            for start in services.startup:
                await stack.enter_async_context(start())
            yield

    routes = build_routes()
    # API routes go before the catch-all delivery route `/{cloud}/image/{rest:path}`
    routes[-1:-1] = services.extra_routes
    app = Starlette(
        routes=routes,
        exception_handlers={
            CdnError: cdn_error_handler,
            Exception: unexpected_error_handler,
            404: not_found_handler,
            405: method_not_allowed_handler,
        },
        lifespan=lifespan,
    )
    app.state.services = services
    return app


async def not_found_handler(request: Request, exc: Exception) -> Response:
    return error_response(request, NotFound(f"No such endpoint: {request.url.path}"))


async def method_not_allowed_handler(request: Request, exc: Exception) -> Response:
    err = MethodNotAllowed(f"Method {request.method} not allowed on {request.url.path}")
    return error_response(request, err)


def _attach_jobs(services: Services) -> None:
    """The persisted job runner, background removal and upload-time work."""
    from alphacdn.cache import Claims, JobStore, SingleFlight
    from alphacdn.jobs.runner import JobRunner
    from alphacdn.jobs.upload_jobs import UploadJobs
    from alphacdn.mattes import KIND, Mattes, matte_models
    from alphacdn.removebg.routes import removebg_routes
    from alphacdn.removebg_deps import AppRemoveBgDeps

    s = services.settings
    runner = JobRunner(JobStore(s.cache.state_dir / "jobs"), s.jobs)
    mattes = Mattes(
        model=s.models.default_model,
        settings=s.jobs,
        cache_size=s.cache.size_limit_bytes,
        max_source_pixels=s.engine.max_source_pixels,
        originals=services.originals,
        store=services.derived,
        jobs=runner.store,
        runner=runner,
        # claims as long as a job's lease, renewed while a matte is made
        flight=SingleFlight(Claims(s.cache.state_dir / "matte-flight"), ttl=s.jobs.lease_seconds),
        models=matte_models(s.models),
    )
    runner.handlers[KIND] = mattes.handle
    missing = mattes.missing_message()
    if missing:
        log.warning("background removal unavailable until the model is installed: %s", missing)
    services.matte_source = mattes.get
    services.mattes = mattes
    UploadJobs(services, mattes)
    if s.models.warm_up and not missing:
        services.startup.append(lambda: _warm_up(mattes.models.matter, mattes.model))
    # the remove.bg-style and tasks APIs, on the same mattes; tasks are jobs
    routes, api = removebg_routes(
        AppRemoveBgDeps(services, mattes),
        runner,
        task_retention_seconds=s.jobs.task_retention_seconds,
    )
    services.extra_routes.extend(routes)
    services.startup.append(api.lifespan)
    services.startup.append(runner.running)  # entered last, so it stops first


@contextlib.asynccontextmanager
async def _warm_up(matter: Matter, model: str) -> AsyncIterator[None]:
    """Load the model in a thread while the server already answers (a matte job that comes
    first waits for the same session instead of making a second one)."""

    def run() -> None:
        t0 = time.perf_counter()
        try:
            first = matter.warm_up(model)
        except Exception:
            log.exception("model warm-up failed (the first matte job will load %s)", model)
            return
        log.info(
            "model %s warmed up in %.1f s (first inference %.1f s)",
            model,
            time.perf_counter() - t0,
            first,
        )

    threading.Thread(target=run, name=f"warm-up-{model}", daemon=True).start()
    yield


def create_app_from_env() -> Starlette:
    """uvicorn factory for `--workers N`: each worker process reads the same environment."""
    return create_app(Settings.from_env(os.environ))


__all__ = ["create_app", "create_app_from_env"]
