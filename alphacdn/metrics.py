"""The server's metrics: Prometheus counters and histograms (prometheus-client), what records
them, and where they are read.

Every metric is made here, once per process; the parts that own an event record it through the
helpers below (`Observe`: requests; `count_delivery`: cache hits and misses; `Delivery`:
renders; `JobRunner`: jobs; `Mattes`: model runs). Under `alphacdn serve` every process counts in
its own files under `PROMETHEUS_MULTIPROC_DIR` (`metrics_dir.prepare`), so whichever worker
process answers `/metrics` answers for all of them; without that variable (an app built in a
test) counts stay in memory and `/metrics` answers for the one process. Requests and cache
hits, the per-request events, are tallied in plain lists first and written out every second
(`Tally`): another process's scrape sees them up to a second late.

Labels are bounded: a route is its template (`/{cloud}/image/{rest:path}`, never a path or
public_id; `unmatched` for a 404 no route took), a method one of the standard ones or `other`,
a status the number sent. Values read at scrape time (queue depth, cache volume) come from
`AppGauges`, added to the scrape of the process that answers.

Readers: `GET /metrics` (text format), `GET /metrics.json` (this process's counters as JSON, as
before), and `serve_metrics(port, ...)` for a process without the HTTP app (`alphacdn worker
--metrics-port`): a small HTTP server thread answering `/metrics`, `/livez` and `/readyz`. All
of them answer loopback clients, and others only with `Authorization: Bearer
<ALPHACDN_METRICS_TOKEN>` (no token configured: 404, as for an unknown path).
"""

from __future__ import annotations

import bisect
import contextlib
import hmac
import http.server
import ipaddress
import json
import logging
import os
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from alphacdn.logs import REQUEST_ID, request_id_of
from alphacdn.metrics_dir import ENV, pid_alive
from alphacdn.transform.errors import NotFound, Unauthorized

if TYPE_CHECKING:
    from alphacdn.cache import DerivedStore, JobQueue
    from alphacdn.delivery import Delivery
    from alphacdn.faces import Faces
    from alphacdn.fetched import FetchedSources
    from alphacdn.mattes import Mattes

log = logging.getLogger("alphacdn.metrics")

#: whether this process counts in files (prometheus-client decided when it was imported)
MULTIPROCESS: bool = bool(getattr(values.ValueClass, "_multiprocess", False))

_HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_WORK_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600)

REQUESTS = Counter(
    "alphacdn_http_requests",
    "HTTP requests answered, by route template, method and status",
    ("route", "method", "status"),
)
REQUEST_SECONDS = Histogram(
    "alphacdn_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response, by route template, method "
    "and status",
    ("route", "method", "status"),
    buckets=_HTTP_BUCKETS,
)
DELIVERY_CACHE = Counter(
    "alphacdn_delivery_cache",
    "Delivery requests by derived-cache result (hit: served from the cache; miss: rendered "
    "for this request)",
    ("result",),
)
RENDERS = Counter("alphacdn_renders", "Derived images rendered and stored")
RENDER_SECONDS = Histogram(
    "alphacdn_render_duration_seconds",
    "Pixel work of one render (decode, transform, encode), stopped renders included",
    buckets=_WORK_BUCKETS,
)
JOBS = Counter(
    "alphacdn_jobs",
    "Jobs run to the end, by kind and outcome (completed, failed)",
    ("kind", "outcome"),
)
JOB_SECONDS = Histogram(
    "alphacdn_job_duration_seconds",
    "Run time of a job (claim to settle), by kind and outcome",
    ("kind", "outcome"),
    buckets=_WORK_BUCKETS,
)
MODEL_RUNS = Counter("alphacdn_model_runs", "Matting model inferences, by model", ("model",))
PROCESSES = Gauge(
    "alphacdn_processes",
    "Live processes of this server that serve or run jobs",
    multiprocess_mode="livesum",
)

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
_LIVE_GAUGE = re.compile(r"gauge_live\w*_(\d+)\.db")


def count_delivery(cache_status: str) -> None:
    """One delivery answer: `HIT` or `MISS` (as in `X-Alphacdn-Cache`); tallied, see `Tally`."""
    TALLY.cache[cache_status != "HIT"] += 1


def observe_job(kind: str, outcome: str, seconds: float) -> None:
    """One job settled (`outcome`: completed or failed) after `seconds`."""
    JOBS.labels(kind, outcome).inc()
    JOB_SECONDS.labels(kind, outcome).observe(seconds)


def count_model_run(model: str) -> None:
    MODEL_RUNS.labels(model).inc()


def declare(*, models: Iterable[str] = (), job_kinds: Iterable[str] = ()) -> None:
    """Make the series of these models and job kinds exist at 0 (a rate over a series that
    appears only with its first event misses that event)."""
    for model in models:
        MODEL_RUNS.labels(model)
    for kind in job_kinds:
        for outcome in ("completed", "failed"):
            JOBS.labels(kind, outcome)
            JOB_SECONDS.labels(kind, outcome)


# ── requests ─────────────────────────────────────────────────────────────────────────────────
_BOUNDS = (*(float(b) for b in _HTTP_BUCKETS), float("inf"))


class Tally:
    """This process's request and cache-hit counts since they were last written out.

    Writing a Prometheus value in multiprocess mode (a lock, a pid check, a write into the
    mmap) costs about as much as the rest of a request's bookkeeping put together, so the
    hot path only adds to plain lists here, and `flush()` writes the sums into the
    counters and histograms: every second (`running()`, in the app's lifespan), before this
    process answers a scrape, and when it stops. Another process's scrape therefore sees this
    one's requests up to a second late. Everything runs on the event loop's thread."""

    def __init__(self) -> None:
        #: (route, method, status) → [count, seconds, count per bucket...]
        self.rows: dict[tuple[str, str, int], list[float]] = {}
        #: delivery answers [hit, miss]
        self.cache = [0, 0]
        #: (route, method, status) → (counter child, histogram child)
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def add(self, key: tuple[str, str, int], seconds: float) -> None:
        row = self.rows.get(key)
        if row is None:
            row = self.rows[key] = [0.0] * (2 + len(_BOUNDS))
        row[0] += 1
        row[1] += seconds
        row[2 + bisect.bisect_left(_BOUNDS, seconds)] += 1

    def flush(self) -> None:
        """Write the counts so far into the Prometheus values."""
        rows, self.rows = self.rows, {}
        cache, self.cache = self.cache, [0, 0]
        for key, row in rows.items():
            children = self._children.get(key)
            if children is None:
                route, method, status = key
                children = self._children[key] = (
                    REQUESTS.labels(route, method, str(status)),
                    REQUEST_SECONDS.labels(route, method, str(status)),
                )
            counter, histogram = children
            counter.inc(row[0])
            # a histogram's sum and buckets, as `observe` writes them, for many at once
            histogram._sum.inc(row[1])
            for bucket, n in zip(histogram._buckets, row[2:], strict=True):
                if n:
                    bucket.inc(n)
        if cache[0]:
            _HIT.inc(cache[0])
        if cache[1]:
            _MISS.inc(cache[1])

    @contextlib.asynccontextmanager
    async def running(self, every: float = 1.0) -> AsyncIterator[None]:
        """This process serves: flush every `every` seconds, count it in `alphacdn_processes`,
        and flush and leave that gauge at the end (entered from the app's lifespan)."""

        async def flush_often() -> None:
            while True:
                await anyio.sleep(every)
                self.flush()

        process_started()
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(flush_often)
                try:
                    yield
                finally:
                    tg.cancel_scope.cancel()
        finally:
            self.flush()
            process_stopping()


#: the one tally of this process
TALLY = Tally()
_HIT = DELIVERY_CACHE.labels("hit")
_MISS = DELIVERY_CACHE.labels("miss")


class Observe:
    """Pure ASGI middleware, outermost: gives each HTTP request an id (`logs.request_id_of`),
    sets `logs.REQUEST_ID` while it is handled, answers it as `X-Request-Id`, and tallies the
    request by route template, method and status with its duration (`TALLY`).

    On the cache-hit path this costs a header scan, a context variable, one closure and a few
    additions to a list found in a dict (bench/observe_middleware.py)."""

    def __init__(self, app: ASGIApp, tally: Tally | None = None) -> None:
        self.app = app
        self.tally = tally or TALLY

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        rid = request_id_of(scope["headers"])
        token = REQUEST_ID.set(rid)
        header = (b"x-request-id", rid.encode("ascii"))
        status = 500  # what the server error middleware answers if nothing was sent

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            method = scope["method"]
            key = (
                getattr(route, "path", None) or "unmatched",
                method if method in _METHODS else "other",
                status,
            )
            self.tally.add(key, time.perf_counter() - start)
            REQUEST_ID.reset(token)


# ── reading ──────────────────────────────────────────────────────────────────────────────────
class AppGauges(Collector):
    """Values read when scraped: the job queue's depth (shared by every process: any one can
    answer) and its bound, and the derived cache's bytes. A value that cannot be read (its
    store is down) is left out of that scrape."""

    def __init__(
        self,
        queue: JobQueue | None = None,
        queue_max: int | None = None,
        derived: DerivedStore | None = None,
    ) -> None:
        self.queue = queue
        self.queue_max = queue_max
        self.derived = derived

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if self.queue is not None:
            depth = _read(self.queue.depth)
            if depth is not None:
                yield GaugeMetricFamily(
                    "alphacdn_jobs_queued", "Jobs queued or running (shared queue)", value=depth
                )
        if self.queue_max is not None:
            yield GaugeMetricFamily(
                "alphacdn_jobs_queue_limit",
                "Bound of queued + running jobs (beyond: 503)",
                value=self.queue_max,
            )
        if self.derived is not None:
            volume = _read(self.derived.volume)
            if volume is not None:
                yield GaugeMetricFamily(
                    "alphacdn_derived_cache_bytes",
                    "Bytes of the derived + matte cache",
                    value=volume,
                )


def _read(fn: Callable[[], int]) -> int | None:
    try:
        return fn()
    except Exception as exc:  # a scrape never fails for one value
        log.debug("metrics: %s: %s", getattr(fn, "__qualname__", fn), exc)
        return None


class _ThisProcess(Collector):
    """The metrics of this process (no multiprocess files): the default registry's."""

    def collect(self) -> Iterator[Any]:
        yield from REGISTRY.collect()


def sweep_dead_processes(path: Path) -> int:
    """Remove the `live*` gauge files of processes that died without saying so (kill -9):
    a live gauge counts only live processes. Counter and histogram files stay (a dead
    process's counts still count). Returns how many files went."""
    removed = 0
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(path):
            m = _LIVE_GAUGE.fullmatch(entry.name)
            if m and int(m.group(1)) != os.getpid() and not pid_alive(int(m.group(1))):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(entry.path)
                    removed += 1
    return removed


def exposition(extra: Collector | None = None) -> bytes:
    """The text format of every process's metrics (multiprocess) or this one's, plus `extra`."""
    registry = CollectorRegistry(auto_describe=False)
    path = os.environ.get(ENV)
    if MULTIPROCESS and path:
        sweep_dead_processes(Path(path))
        multiprocess.MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
    else:
        registry.register(_ThisProcess())
    if extra is not None:
        registry.register(extra)
    return generate_latest(registry)


def process_started() -> None:
    """This process serves or runs jobs (entered from the app's lifespan, or the worker)."""
    PROCESSES.set(1)


def process_stopping() -> None:
    """This process is about to exit: its live gauges stop counting."""
    PROCESSES.set(0)
    path = os.environ.get(ENV)
    if MULTIPROCESS and path:
        multiprocess.mark_process_dead(os.getpid(), path)  # type: ignore[no-untyped-call]


# ── who may read ─────────────────────────────────────────────────────────────────────────────
class Access:
    """Loopback clients, and any client with `Authorization: Bearer <token>`.

    Metrics name routes and (as JSON) public_ids, so nobody else reads them: without a token
    they get the 404 of an unknown path, with a wrong one a 401. uvicorn takes a proxy's
    X-Forwarded-For from loopback only, so a client behind a reverse proxy on this host that
    sends it is judged by its own address."""

    def __init__(self, token: str | None) -> None:
        self._expected = f"Bearer {token}".encode() if token else None

    def allows(self, host: str | None, authorization: str) -> bool:
        """Whether a client at `host` with this `Authorization` header may read."""
        if _is_loopback(host):
            return True
        return self._expected is not None and hmac.compare_digest(
            authorization.encode(), self._expected
        )

    def allows_request(self, request: Request) -> bool:
        client = request.client
        host = client.host if client else None
        return self.allows(host, request.headers.get("authorization", ""))

    def check(self, request: Request) -> None:
        """Raise the 404 / 401 an outsider gets."""
        if self.allows_request(request):
            return
        if self._expected is None:
            raise NotFound(f"No such endpoint: {request.url.path}")
        raise Unauthorized("metrics need a bearer token", headers={"WWW-Authenticate": "Bearer"})


def _is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # a name (a test client's `testclient`), never a loopback address
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


Endpoint = Callable[[Request], Awaitable[Response]]


def routes(
    access: Access,
    gauges: AppGauges,
    delivery_flow: Delivery,
    derived: DerivedStore,
    mattes: Mattes,
    fetched: FetchedSources | None = None,
    faces: Faces | None = None,
) -> list[BaseRoute]:
    """`GET /metrics` (Prometheus text format) and `GET /metrics.json`."""

    async def text(request: Request) -> Response:
        access.check(request)
        TALLY.flush()  # this process's own requests, up to this one
        body = await anyio.to_thread.run_sync(exposition, gauges)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    async def as_json(request: Request) -> Response:
        """This process's counters, as plain JSON (renders, cache volume, jobs per asset)."""
        access.check(request)
        runner = mattes.runner

        def read() -> dict[str, object]:
            return {
                "pid": os.getpid(),
                "renders": delivery_flow.renders,
                "derived_bytes": derived.volume(),
                # remote fetches: downloads, revalidations answered 304, and held sources
                # served for a failing server (stale-if-error)
                "fetches": {
                    "downloaded": fetched.downloaded if fetched is not None else 0,
                    "revalidated": fetched.revalidated if fetched is not None else 0,
                    "stale": fetched.stood_in if fetched is not None else 0,
                },
                # face detections run by this process (once per original content)
                "face_detections": faces.runs if faces is not None else 0,
                "jobs": {
                    "completed": runner.completed,
                    "failed": runner.failed,
                    "queued_or_running": runner.store.depth(),
                    **mattes.counters(),
                },
            }

        return JSONResponse(await anyio.to_thread.run_sync(read))

    return [Route("/metrics", text), Route("/metrics.json", as_json)]


# ── a process without the HTTP app ───────────────────────────────────────────────────────────
#: `() -> (ready, body)`: what `/readyz` answers (`health.Readiness.check`)
ReadyCheck = Callable[[], tuple[bool, dict[str, Any]]]


class MetricsServer:
    """`/metrics`, `/livez` and `/readyz` on their own port, in a daemon thread."""

    def __init__(self, server: http.server.ThreadingHTTPServer) -> None:
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name="metrics-server", daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        port: int = self._server.server_address[1]
        return port

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class _ServerV6(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6


def serve_metrics(
    port: int,
    *,
    host: str = "127.0.0.1",
    token: str | None = None,
    gauges: Collector | None = None,
    ready: ReadyCheck | None = None,
) -> MetricsServer:
    """Serve `/metrics` (with `gauges` added), `/livez` and `/readyz` (`ready`; without it,
    ready while alive) on `host:port` (port 0: any free one; see `.port`) until `.close()`.

    For `alphacdn worker --metrics-port`: call `metrics_dir.prepare` first (before anything
    imports prometheus-client), then `process_started()`, and `process_stopping()` at exit."""
    access = Access(token)

    class Handler(http.server.BaseHTTPRequestHandler):
        server_version = "alphacdn-metrics"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/livez":
                self._send(200, "application/json", b'{"status":"alive"}')
            elif path == "/readyz":
                ok, body = ready() if ready is not None else (True, {"status": "ready"})
                if not (ok or access.allows(self.client_address[0], self._auth())):
                    body = {k: v for k, v in body.items() if k != "checks"}
                self._send(200 if ok else 503, "application/json", json.dumps(body).encode())
            elif path == "/metrics" and access.allows(self.client_address[0], self._auth()):
                self._send(200, CONTENT_TYPE_LATEST, exposition(gauges))
            elif path == "/metrics" and token:
                self._send(401, "text/plain", b"metrics need a bearer token\n")
            else:
                self._send(404, "text/plain", b"No such endpoint\n")

        def _auth(self) -> str:
            return self.headers.get("authorization", "")

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("metrics server: " + format, *args)

    server_class = _ServerV6 if ":" in host else http.server.ThreadingHTTPServer
    server = server_class((host.strip("[]"), port), Handler)
    server.daemon_threads = True
    return MetricsServer(server)


__all__ = [
    "DELIVERY_CACHE",
    "JOBS",
    "JOB_SECONDS",
    "MODEL_RUNS",
    "MULTIPROCESS",
    "RENDERS",
    "RENDER_SECONDS",
    "REQUESTS",
    "REQUEST_SECONDS",
    "TALLY",
    "Access",
    "AppGauges",
    "MetricsServer",
    "Observe",
    "Tally",
    "count_delivery",
    "count_model_run",
    "declare",
    "exposition",
    "observe_job",
    "process_started",
    "process_stopping",
    "routes",
    "serve_metrics",
    "sweep_dead_processes",
]
