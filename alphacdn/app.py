"""`create_app(settings)`: the Starlette app, its routes and its lifespan."""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from alphacdn import engine
from alphacdn.assets import Assets
from alphacdn.cache import (
    Claims,
    DerivedCache,
    DerivedStore,
    EagerChains,
    JobStore,
    LocalOriginals,
    SingleFlight,
)
from alphacdn.delivery import Delivery
from alphacdn.jobs.runner import JobKind, JobRunner
from alphacdn.jobs.upload_jobs import UploadJobs
from alphacdn.mattes import KIND, Mattes, matte_models
from alphacdn.named import NamedTransformations
from alphacdn.removebg.routes import removebg_routes
from alphacdn.removebg_deps import AppRemoveBgDeps
from alphacdn.responses import cdn_error_handler, error_response, unexpected_error_handler
from alphacdn.routes import admin, delivery, upload
from alphacdn.settings import Settings
from alphacdn.transform.errors import CdnError, MethodNotAllowed, NotFound, Unauthorized
from alphacdn.uploads import Uploads

if TYPE_CHECKING:
    from alphacdn.models.matting import MatteModels

log = logging.getLogger("alphacdn")


def create_app(settings: Settings) -> Starlette:
    """Build the app for one settings object (tests build theirs with temp dirs).

    Every part is made once here and handed what it needs; read top to bottom, this is the
    table of contents of the server."""
    engine.configure(
        vips_concurrency=settings.engine.vips_concurrency,
        vips_cache_mb=settings.engine.vips_cache_mb,
    )
    c = settings.cache
    # bytes at rest
    originals = LocalOriginals(c.originals_dir)
    derived = DerivedCache(c.derived_dir, size_limit=c.size_limit_bytes)
    named = NamedTransformations(c.state_dir / "named.json", settings.engine.named_transformations)
    eager = EagerChains(c.state_dir / "eager")
    flight = SingleFlight(Claims(c.state_dir / "flight"))
    # background work: the job loop, and mattes (the only way to a cut-out)
    runner = JobRunner(JobStore(c.state_dir / "jobs"), settings.jobs)
    mattes = Mattes(
        model=settings.models.default_model,
        settings=settings.jobs,
        cache_size=c.size_limit_bytes,
        max_source_pixels=settings.engine.max_source_pixels,
        max_source_side=settings.engine.max_source_side,
        originals=originals,
        store=derived,
        jobs=runner.store,
        runner=runner,
        # claims as long as a job's lease, renewed while a matte is made
        flight=SingleFlight(Claims(c.state_dir / "matte-flight"), ttl=settings.jobs.lease_seconds),
        models=matte_models(settings.models),
    )
    # the flows
    delivery_flow = Delivery(
        http=settings.http,
        engine_settings=settings.engine,
        originals=originals,
        derived=derived,
        named=named,
        eager=eager,
        flight=flight,
        mattes=mattes.get,
    )
    assets = Assets(originals, derived)
    upload_jobs = UploadJobs(settings.http, assets, named, delivery_flow, mattes)
    uploads = Uploads(
        http=settings.http,
        max_source_pixels=settings.engine.max_source_pixels,
        max_source_side=settings.engine.max_source_side,
        assets=assets,
        named=named,
        after_upload=upload_jobs.after_upload,
    )
    # the remove.bg-style and tasks APIs, on the same mattes; tasks are jobs
    removebg, removebg_api = removebg_routes(
        AppRemoveBgDeps(settings, mattes),
        runner,
        task_retention_seconds=settings.jobs.task_retention_seconds,
    )
    # what the job loops run: every kind, from the part that owns it
    kinds: dict[str, JobKind] = {
        KIND: JobKind(mattes.handle),
        **upload_jobs.kinds(),
        **removebg_api.jobs.kinds(),
    }

    missing = mattes.missing_message()
    if missing:
        log.warning("background removal unavailable until the model is installed: %s", missing)
    person = mattes.models.person_model
    if person is not None and mattes.models.person_route() is None:
        log.warning(
            "cut-outs of people are not routed to %s: it or the detector is not installed "
            "(`alphacdn fetch-models %s centernet-coco`, or ALPHACDN_PERSON_MODEL=none)",
            person,
            person,
        )
    warm_up = settings.models.warm_up and not missing

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # sweep files a crash left half-written in the derived cache
        await anyio.to_thread.run_sync(derived.repair)
        # the job runner is entered last, so it stops before the remove.bg stores close
        async with removebg_api.lifespan(), runner.running(kinds):
            if warm_up:
                _warm_up(mattes.models, mattes.model)
            yield

    routes: list[BaseRoute] = [
        Route("/health", health(settings)),
        Route("/metrics", metrics(delivery_flow, derived, mattes, settings.http.metrics_token)),
        *upload.routes(uploads),
        *admin.routes(uploads),
        *removebg,
        # the catch-all `/{cloud}/image/{rest:path}` goes after every API route
        delivery.route(delivery_flow),
    ]
    return _NoSniffApp(
        routes=routes,
        exception_handlers={
            CdnError: cdn_error_handler,
            Exception: unexpected_error_handler,
            404: not_found_handler,
            405: method_not_allowed_handler,
        },
        lifespan=lifespan,
    )


Endpoint = Callable[[Request], Awaitable[Response]]


def health(settings: Settings) -> Endpoint:
    """`GET /health`: up, and which clouds this server answers for."""
    body = {"status": "ok", "clouds": list(settings.http.clouds)}

    async def endpoint(request: Request) -> Response:
        return JSONResponse(body)

    return endpoint


def metrics(
    delivery_flow: Delivery, derived: DerivedStore, mattes: Mattes, token: str | None
) -> Endpoint:
    """`GET /metrics`: per-process counters (plain JSON): renders done, cache volume, jobs.

    They name public_ids, so only a loopback client or one with `Authorization: Bearer
    <ALPHACDN_METRICS_TOKEN>` reads them; anyone else gets the 404 of an unknown path (401 when
    a token is configured). uvicorn takes a proxy's X-Forwarded-For from loopback only, so a
    client behind a reverse proxy on this host that sends it is judged by its own address."""
    expected = f"Bearer {token}".encode() if token else None

    async def endpoint(request: Request) -> Response:
        if not _is_loopback_client(request):
            given = request.headers.get("authorization", "").encode()
            if expected is None:
                raise NotFound(f"No such endpoint: {request.url.path}")
            if not hmac.compare_digest(given, expected):
                raise Unauthorized(
                    "metrics need a bearer token", headers={"WWW-Authenticate": "Bearer"}
                )
        runner = mattes.runner
        body: dict[str, object] = {
            "pid": os.getpid(),
            "renders": delivery_flow.renders,
            "derived_bytes": derived.volume(),
            "jobs": {
                "completed": runner.completed,
                "failed": runner.failed,
                "queued_or_running": runner.store.depth(),
                **mattes.counters(),
            },
        }
        return JSONResponse(body)

    return endpoint


def _is_loopback_client(request: Request) -> bool:
    client = request.client
    if client is None:
        return False
    try:
        address = ipaddress.ip_address(client.host)
    except ValueError:
        return False  # a name (a test client's `testclient`), never a loopback address
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


_NOSNIFF = (b"x-content-type-options", b"nosniff")


class NoSniff:
    """Pure ASGI middleware: `X-Content-Type-Options: nosniff` on every HTTP response.

    It only appends a header to `http.response.start` (BaseHTTPMiddleware would put every
    response body through a stream and a task, which costs the cache-hit path CPU)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_nosniff(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), _NOSNIFF]
            await send(message)

        await self.app(scope, receive, send_nosniff)


class _NoSniffApp(Starlette):
    """Starlette with `NoSniff` outermost: outside the server-error middleware too, so a 500
    carries the header as well (`middleware=` would sit inside it)."""

    def build_middleware_stack(self) -> ASGIApp:
        return NoSniff(super().build_middleware_stack())


async def not_found_handler(request: Request, exc: Exception) -> Response:
    return error_response(request, NotFound(f"No such endpoint: {request.url.path}"))


async def method_not_allowed_handler(request: Request, exc: Exception) -> Response:
    err = MethodNotAllowed(f"Method {request.method} not allowed on {request.url.path}")
    return error_response(request, err)


def _warm_up(models: MatteModels, model: str) -> None:
    """Load the model in a thread while the server already answers (a matte job that comes
    first waits for the same session instead of making a second one); then the detector and
    the person model when cut-outs of people are routed."""

    def run() -> None:
        t0 = time.perf_counter()
        try:
            first = models.matter.warm_up(model)
        except Exception:
            log.exception("model warm-up failed (the first matte job will load %s)", model)
            return
        log.info(
            "model %s warmed up in %.1f s (first inference %.1f s)",
            model,
            time.perf_counter() - t0,
            first,
        )
        t0 = time.perf_counter()
        try:
            person = models.warm_up_route()
        except Exception:
            log.exception("person route warm-up failed (the first routed matte will load it)")
            return
        if person is not None:
            log.info("detector and %s warmed up in %.1f s", person, time.perf_counter() - t0)

    threading.Thread(target=run, name=f"warm-up-{model}", daemon=True).start()


def create_app_from_env() -> Starlette:
    """uvicorn factory for `--workers N`: each worker process reads the same environment."""
    return create_app(Settings.from_env(os.environ))


__all__ = ["create_app", "create_app_from_env"]
