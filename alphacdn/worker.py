"""`alphacdn worker` (and `serve --role worker`): a process that runs jobs only.

It builds the same app as a web server (`create_app` with `ALPHACDN_ROLE=worker`), whose routes
are only the operator's (`/health`, `/livez`, `/readyz`, `/metrics`, `/metrics.json`), and runs
its lifespan: the job loops over the shared queue
(mattes, eager renders, upload-time removal, `/v2/tasks` tasks, web replicas' cut-outs). With
`--metrics-port` those two routes are served on that port (uvicorn); without it, no port is
opened and the lifespan runs until SIGTERM or SIGINT.

`/metrics` is the same Prometheus exposition as a web server's (`alphacdn.metrics`): jobs by
kind and outcome, their durations, `alphacdn_model_runs_total{model=…}`, the queue depth.
"""

from __future__ import annotations

import logging
import signal

import anyio
import anyio.to_thread

from alphacdn.settings import Settings

log = logging.getLogger("alphacdn")


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


__all__ = ["run_worker"]
