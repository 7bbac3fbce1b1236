"""`alphacdn` console script: serve, worker, health, fetch-models, models, remove-bg."""

from __future__ import annotations

import argparse
import logging
import logging.config
import os
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from alphacdn import logs, metrics_dir
from alphacdn.settings import VARIABLES, Settings, SettingsError, settings_help

#: what `--log-level` accepts (uvicorn's levels; `trace` is uvicorn's own)
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


def _version() -> str:
    try:
        return metadata.version("alphacdn")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="alphacdn",
        description="Self-hosted, Cloudinary-compatible image CDN with AI background removal.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Every setting is also an environment variable:\n" + settings_help(),
    )
    p.add_argument("--version", action="version", version=f"alphacdn {_version()}")
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser(
        "serve",
        help="run the HTTP server",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Settings (flags override these variables):\n" + settings_help(),
    )
    for var in VARIABLES:
        if var.flag:
            serve.add_argument(var.flag, metavar=var.key.upper(), help=f"{var.help} ({var.env})")
    serve.add_argument("--log-level", default="info", choices=LOG_LEVELS)

    worker = sub.add_parser(
        "worker",
        help="run jobs only (mattes, eager, upload-time removal, remove.bg tasks)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="A worker of a fleet: shares the store (ALPHACDN_STORE_URL) and Redis "
        "(ALPHACDN_REDIS_URL) with the web replicas and runs their jobs. Same settings as "
        "`serve`; ALPHACDN_ROLE is worker.",
        epilog="Settings:\n" + settings_help(),
    )
    worker.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="serve /health and /metrics (Prometheus text) on this port (default: no port)",
    )
    worker.add_argument(
        "--metrics-host", default="127.0.0.1", help="address of the metrics port (127.0.0.1)"
    )
    worker.add_argument("--data-dir", metavar="DATA_DIR", help="ALPHACDN_DATA_DIR")
    worker.add_argument("--log-level", default="info", choices=LOG_LEVELS)

    fetch = sub.add_parser("fetch-models", help="download, verify (sha256) and install weights")
    fetch.add_argument("names", nargs="*", help="models to fetch (default: all)")
    fetch.add_argument(
        "--for-tests", action="store_true", help="only the small models the test suite needs"
    )
    fetch.add_argument("--models-dir", help="ALPHACDN_MODELS_DIR (default <data-dir>/models)")

    health = sub.add_parser(
        "health",
        help="exit 0 if the server is ready (GET /readyz), else 1: for container health checks",
    )
    health.add_argument(
        "--url",
        help="what to GET (default: /readyz of ALPHACDN_HOST:ALPHACDN_PORT on this host; "
        "/livez for liveness)",
    )
    health.add_argument("--timeout", type=float, default=5.0, help="seconds (default 5)")

    models = sub.add_parser("models", help="list known models, installed or not")
    models.add_argument("--models-dir", help="ALPHACDN_MODELS_DIR")

    rb = sub.add_parser(
        "remove-bg", help="send a folder through a remove.bg-style API", add_help=False
    )
    rb.add_argument("args", nargs=argparse.REMAINDER)
    return p


def _settings(env: dict[str, str]) -> Settings:
    try:
        return Settings.from_env(env)
    except SettingsError as exc:
        sys.exit(f"alphacdn: bad setting: {exc}")


def _serve(args: argparse.Namespace) -> None:
    import uvicorn

    env = dict(os.environ)
    for var in VARIABLES:
        # a flag is its variable given on the command line: parsed and checked the same way
        value = getattr(args, (var.flag or "").lstrip("-").replace("-", "_"), None)
        if var.flag and var.env and value is not None:
            env[var.env] = value
    settings = _settings(env)
    refusal = settings.dev_keys_refusal()
    if refusal:
        sys.exit(f"alphacdn: {refusal}")
    _check_providers(settings)
    # worker processes rebuild the same settings from the environment
    os.environ.update({k: v for k, v in env.items() if k.startswith("ALPHACDN_")})
    settings.cache.root.mkdir(parents=True, exist_ok=True)
    # before anything imports prometheus-client: every worker process counts in this run's dir
    metrics_dir.prepare(settings.cache.root)
    log_config = logs.log_config(settings.http.log_format, args.log_level)
    logging.config.dictConfig(log_config)
    uvicorn.run(
        "alphacdn.app:create_app_from_env",
        factory=True,
        host=settings.http.host,
        port=settings.http.port,
        workers=settings.http.workers,
        log_level=args.log_level,
        log_config=log_config,
        timeout_graceful_shutdown=10,
    )


def _check_providers(settings: Settings) -> None:
    """Refuse to start a process that runs models with execution providers it lacks."""
    if settings.fleet.role == "web":
        return
    from alphacdn.models.sessions import check_providers

    try:
        check_providers(settings.models.ort_providers)
    except ValueError as exc:
        sys.exit(f"alphacdn: bad setting: ALPHACDN_ORT_PROVIDERS: {exc}")


def _worker(args: argparse.Namespace) -> None:
    env = dict(os.environ)
    env["ALPHACDN_ROLE"] = "worker"
    if args.data_dir:
        env["ALPHACDN_DATA_DIR"] = args.data_dir
    settings = _settings(env)
    _check_providers(settings)
    settings.cache.root.mkdir(parents=True, exist_ok=True)
    # before anything imports prometheus-client (the app does): this process's metric files
    metrics_dir.prepare(settings.cache.root)
    logging.config.dictConfig(logs.log_config(settings.http.log_format, args.log_level))
    from alphacdn.worker import run_worker

    run_worker(
        settings,
        metrics_host=args.metrics_host,
        metrics_port=args.metrics_port,
        log_level=args.log_level,
    )


def _models_dir(args: argparse.Namespace) -> Path:
    if args.models_dir:
        return Path(args.models_dir)
    return _settings(dict(os.environ)).models.models_dir


def _fetch(args: argparse.Namespace) -> None:
    from alphacdn.models import FOR_TESTS, fetch_models

    names: Sequence[str] | None = args.names or None
    if args.for_tests:
        names = FOR_TESTS
    fetch_models(_models_dir(args), names, log=lambda msg: print(msg, file=sys.stderr))


def _list_models(args: argparse.Namespace) -> None:
    from alphacdn.models import installed_models
    from alphacdn.models.registry import LICENCE_NOTES

    rows = installed_models(_models_dir(args))
    print(f"{'name':<16} {'installed':<10} {'size':>10}  licence")
    for m in rows:
        size = f"{m.size_bytes / 1e6:.1f} MB" if m.installed else "-"
        print(f"{m.name:<16} {'yes' if m.installed else 'no':<10} {size:>10}  {m.licence}")
    for name, note in LICENCE_NOTES.items():
        print(f"\n{name}: {note}")


def _health(args: argparse.Namespace) -> int:
    from alphacdn.health import health_command, local_url

    settings = _settings(dict(os.environ))
    url = args.url or local_url(settings.http.host, settings.http.port)
    return health_command(url, timeout=args.timeout, token=settings.http.metrics_token)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the `alphacdn` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["remove-bg"]:
        from alphacdn.batch import main_remove_bg

        sys.exit(main_remove_bg(argv[1:]))
    args = _parser().parse_args(argv)
    match args.command:
        case "serve":
            _serve(args)
        case "worker":
            _worker(args)
        case "fetch-models":
            _fetch(args)
        case "models":
            _list_models(args)
        case "health":
            sys.exit(_health(args))


__all__ = ["main"]

if __name__ == "__main__":
    main()
