"""`alphacdn` console script: serve, fetch-models, models, remove-bg."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

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

    fetch = sub.add_parser("fetch-models", help="download, verify (sha256) and install weights")
    fetch.add_argument("names", nargs="*", help="models to fetch (default: all)")
    fetch.add_argument(
        "--for-tests", action="store_true", help="only the small models the test suite needs"
    )
    fetch.add_argument("--models-dir", help="ALPHACDN_MODELS_DIR (default <data-dir>/models)")

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
    # worker processes rebuild the same settings from the environment
    os.environ.update({k: v for k, v in env.items() if k.startswith("ALPHACDN_")})
    settings.cache.root.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    uvicorn.run(
        "alphacdn.app:create_app_from_env",
        factory=True,
        host=settings.http.host,
        port=settings.http.port,
        workers=settings.http.workers,
        log_level=args.log_level,
        timeout_graceful_shutdown=10,
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
        case "fetch-models":
            _fetch(args)
        case "models":
            _list_models(args)


__all__ = ["main"]

if __name__ == "__main__":
    main()
