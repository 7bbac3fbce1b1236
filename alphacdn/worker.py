"""`alphacdn worker` (and `serve --role worker`): a process that runs jobs only.

It builds the same app as a web server (`create_app` with `ALPHACDN_ROLE=worker`), whose routes
are only `/health` and `/metrics`, and runs its lifespan: the job loops over the shared queue
(mattes, eager renders, upload-time removal, `/v2/tasks` tasks, web replicas' cut-outs). With
`--metrics-port` those two routes are served on that port (uvicorn); without it, no port is
opened and the lifespan runs until SIGTERM or SIGINT.

`/metrics` here is a minimal Prometheus text exposition of this process's counters (jobs
completed and failed, model runs by model, matte jobs, queue depth).
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Awaitable, Callable

import anyio
import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response

from alphacdn.cache import BackendUnavailable
from alphacdn.mattes import Mattes
from alphacdn.settings import Settings

log = logging.getLogger("alphacdn")


def worker_metrics(mattes: Mattes) -> Callable[[Request], Awaitable[Response]]:
    """`GET /metrics` of a worker: its job and model counters in the Prometheus text format
    (bind the port where only the scraper reaches it)."""

    async def endpoint(request: Request) -> Response:
        runner = mattes.runner
        runs = sum(mattes.model_runs.values())
        lines = [
            "# TYPE alphacdn_jobs_completed_total counter",
            f"alphacdn_jobs_completed_total {runner.completed}",
            "# TYPE alphacdn_jobs_failed_total counter",
            f"alphacdn_jobs_failed_total {runner.failed}",
            "# TYPE alphacdn_model_runs_total counter",
            f'alphacdn_model_runs_total{{model="{mattes.model}"}} {runs}',
            "# TYPE alphacdn_matte_jobs_total counter",
            f"alphacdn_matte_jobs_total {sum(mattes.job_runs.values())}",
        ]
        try:
            depth = await anyio.to_thread.run_sync(runner.store.depth)
        except BackendUnavailable:
            pass  # the gauge is left out while the queue is down
        else:
            lines += ["# TYPE alphacdn_queue_depth gauge", f"alphacdn_queue_depth {depth}"]
        body = "\n".join(lines) + "\n"
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")

    return endpoint


def run_worker(
    settings: Settings, *, metrics_host: str, metrics_port: int | None, log_level: str
) -> None:
    """Run the job loops until stopped; serve `/health` and `/metrics` on `metrics_port`."""
    from alphacdn.app import create_app

    app = create_app(settings)
    if metrics_port is not None:
        import uvicorn

        uvicorn.run(
            app,
            host=metrics_host,
            port=metrics_port,
            log_level=log_level,
            timeout_graceful_shutdown=10,
        )
        return

    async def main() -> None:
        async with app.router.lifespan_context(app):
            log.info("worker running (no metrics port)")
            with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                async for _ in signals:
                    return

    anyio.run(main)


__all__ = ["run_worker", "worker_metrics"]
