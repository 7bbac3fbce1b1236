"""`create_app(settings)`: the Starlette app, its routes and its lifespan."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from alphacdn import engine, health, metrics
from alphacdn.assets import Assets
from alphacdn.backends import open_backends
from alphacdn.cache import BackendUnavailable, SingleFlight
from alphacdn.cors import Cors
from alphacdn.delivery import Delivery
from alphacdn.faces import Faces
from alphacdn.fetched import FetchedSources
from alphacdn.jobs.runner import JobKind, JobRunner
from alphacdn.jobs.upload_jobs import UploadJobs
from alphacdn.mattes import KIND, Mattes, matte_models
from alphacdn.mattes.preview import Previews
from alphacdn.mattes.remote import RemoteCutouts
from alphacdn.named import NamedTransformations
from alphacdn.presets import UploadPresets
from alphacdn.removebg.routes import removebg_routes
from alphacdn.removebg_deps import AppRemoveBgDeps
from alphacdn.responses import (
    backend_unavailable_handler,
    cdn_error_handler,
    error_response,
    unexpected_error_handler,
)
from alphacdn.routes import admin, delivery, download, upload
from alphacdn.settings import Settings
from alphacdn.transform.errors import CdnError, MethodNotAllowed, NotFound
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
    role = settings.fleet.role  # all | web (never runs a model) | worker (jobs only)
    # where state lives: local folders + diskcache, or S3 + Redis (alphacdn/backends.py)
    backends = open_backends(settings)
    originals = backends.originals
    derived = backends.derived
    named = NamedTransformations(
        backends.named,
        settings.engine.named_transformations,
        # a network store is asked at most once a second (a file is stat'ed per new path)
        recheck_seconds=1.0 if backends.state_kind == "redis" else 0.0,
    )
    eager = backends.eager
    flight = SingleFlight(backends.render_claims)
    # background work: the job loop, and mattes (the only way to a cut-out)
    runner = JobRunner(backends.jobs, settings.jobs)
    models = matte_models(settings.models)
    previews = (
        Previews(
            models,
            settings.jobs.matte_preview,
            max_source_pixels=settings.engine.max_source_pixels,
            max_source_side=settings.engine.max_source_side,
            waiting_max=settings.jobs.queue_max,
        )
        # a web replica never loads a model: no previews there (the plain 423)
        if settings.jobs.matte_preview and role != "web"
        else None
    )
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
        flight=SingleFlight(backends.matte_claims, ttl=settings.jobs.lease_seconds),
        models=models,
        previews=previews,
    )
    # remote sources of the fetch delivery type and l_fetch: layers (cached beside derived files)
    fetched = FetchedSources(
        settings.fetch,
        derived,
        allow_private_urls=settings.http.allow_private_urls,
        max_source_pixels=settings.engine.max_source_pixels,
        max_source_side=settings.engine.max_source_side,
    )
    # a web replica's cut-outs (remove.bg, synchronous eager) are made by a worker
    remote_cutouts = RemoteCutouts(mattes, backends.task_blobs)
    if role == "web":
        mattes.remote = remote_cutouts
    # faces (g_face, g_faces, c_thumb, e_pixelate_faces …): found once per content
    faces = Faces(
        models_dir=settings.models.models_dir,
        store=derived,
        originals=originals,
        max_source_pixels=settings.engine.max_source_pixels,
        max_source_side=settings.engine.max_source_side,
        threads=settings.models.ort_threads,
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
        fetched=fetched,
        mattes_now=mattes.get_now,
        matte_ready=mattes.ready,
        faces=lambda asset, required, source: faces.get(asset, required=required, source=source),
    )
    assets = Assets(originals, derived)
    upload_jobs = UploadJobs(settings.http, assets, named, delivery_flow, mattes)
    uploads = Uploads(
        http=settings.http,
        max_source_pixels=settings.engine.max_source_pixels,
        max_source_side=settings.engine.max_source_side,
        assets=assets,
        named=named,
        presets=UploadPresets(backends.presets, settings.http.upload_presets),
        after_upload=upload_jobs.after_upload,
        fetched=fetched,
    )
    # the remove.bg-style and tasks APIs, on the same mattes; tasks are jobs
    removebg, removebg_api = removebg_routes(
        AppRemoveBgDeps(settings, mattes),
        runner,
        task_retention_seconds=settings.jobs.task_retention_seconds,
        counters=backends.counters,
        blobs=backends.task_blobs,
    )
    # what the job loops run: every kind, from the part that owns it
    kinds: dict[str, JobKind] = {
        KIND: JobKind(mattes.handle),
        **upload_jobs.kinds(),
        **removebg_api.jobs.kinds(),
        **remote_cutouts.kinds(),
    }

    metrics.declare(models=[mattes.model], job_kinds=kinds)
    missing = mattes.missing_message()
    if missing:
        log.warning("background removal unavailable until the model is installed: %s", missing)
    if previews is not None and (missing_preview := previews.missing_message()):
        log.warning("preview cut-outs unavailable (423 instead): %s", missing_preview)
    person = mattes.models.person_model
    if person is not None and role != "web" and mattes.models.person_route() is None:
        log.warning(
            "cut-outs of people are not routed to %s: it, the detector or the face model is not "
            "installed (`alphacdn fetch-models %s centernet-coco blazeface`, or "
            "ALPHACDN_PERSON_MODEL=none)",
            person,
            person,
        )
    warm_up = settings.models.warm_up and not missing and role != "web"

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        log.info("role %s; %s", role, backends.describe())
        # create the bucket if missing; sweep files a crash left half-written locally
        await anyio.to_thread.run_sync(backends.prepare)
        # the job runner is entered last, so it stops before the remove.bg stores close
        async with (
            removebg_api.lifespan(),
            runner.running(kinds, loops=role != "web"),
            metrics.TALLY.running(),
        ):
            if warm_up:
                _warm_up(mattes.models, mattes.model)
            yield

    # what operators read: /health, /livez, /readyz, /metrics (text), /metrics.json; a worker
    # (`alphacdn worker --metrics-port`) answers these and nothing else
    access = metrics.Access(settings.http.metrics_token)
    readiness = health.Readiness(
        health.app_checks(settings, mattes, runner.store, needs_model=role != "web")
    )
    for name, probe in backends.probes:
        readiness.add(health.call_check(name, probe))
    gauges = metrics.AppGauges(runner.store, settings.jobs.queue_max, derived)
    routes: list[BaseRoute] = [
        *health.routes(settings, readiness, access),
        *metrics.routes(access, gauges, delivery_flow, derived, mattes, fetched, faces),
    ]
    if role != "worker":
        routes += [
            *upload.routes(uploads),
            *download.routes(uploads, delivery_flow),
            *admin.routes(uploads),
            *removebg,
            # the catch-all `/{cloud}/image/{rest:path}` goes after every API route
            delivery.route(delivery_flow),
        ]
    return _NoSniffApp(
        routes=routes,
        exception_handlers={
            CdnError: cdn_error_handler,
            BackendUnavailable: backend_unavailable_handler,
            Exception: unexpected_error_handler,
            404: not_found_handler,
            405: method_not_allowed_handler,
        },
        lifespan=lifespan,
        cors_origins=settings.http.cors_origins,
    )


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
    """Starlette with `NoSniff` and `metrics.Observe` (request id, request metrics) outermost:
    outside the server-error middleware too, so a 500 carries the headers and is counted
    (`middleware=` would sit inside it); `Cors` (when origins are configured) just inside them,
    so errors and 423s carry CORS headers too."""

    def __init__(self, *args: Any, cors_origins: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cors_origins = cors_origins

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        if self.cors_origins:
            stack = Cors(stack, self.cors_origins)
        return metrics.Observe(NoSniff(stack))


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
