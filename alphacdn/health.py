"""Is this process alive, is it ready: `/health`, `/livez`, `/readyz`, and `alphacdn health`.

- `/livez`: the process answers (its event loop runs). A failing liveness probe means restart.
- `/readyz`: every `Check` passes: the stores reachable (the data dir today; S3 and Redis when
  configured: `redis_check`, `call_check`), the model installed (and warmed up, with
  `ALPHACDN_WARM_UP`) on a role that runs matte jobs, the job queue below its bound. Else 503
  with a JSON body naming what is not ready: `{"status": "not ready", "not_ready": [names],
  "checks": {name: "ok" | what is wrong}}`; `checks` (whose messages may name hosts and paths)
  only for the clients that may read metrics (`metrics.Access`), the names for everyone.
  Probes run in parallel threads, each bounded by `Readiness.timeout` (one that does not answer
  in time is "no answer within N s"), so the answer never hangs on a dead backend.
- `/health`: as before, up and which clouds this server answers for.
- `alphacdn health [--url URL]`: GET `/readyz` of the local server (or `URL`), exit 0 when it
  answers 200, else 1: for container health checks (stdlib only, starts fast).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

if TYPE_CHECKING:
    import redis

    from alphacdn.cache import JobQueue
    from alphacdn.mattes import Mattes
    from alphacdn.metrics import Access
    from alphacdn.settings import Settings

#: a probe: None when ready, else what is not (one line)
Probe = Callable[[], "str | None"]


@dataclass(frozen=True, slots=True)
class Check:
    """One named readiness probe."""

    name: str
    probe: Probe


class Readiness:
    """The checks of one process; `check()` runs them (in parallel, bounded)."""

    def __init__(self, checks: Sequence[Check], timeout: float = 3.0) -> None:
        self.checks = tuple(checks)
        self.timeout = timeout

    def add(self, check: Check) -> None:
        """One more check (e.g. Redis or S3, added where they are wired)."""
        self.checks = (*self.checks, check)

    def check(self) -> tuple[bool, dict[str, Any]]:
        """(ready, the `/readyz` body)."""
        results: dict[str, str | None] = {}
        threads = []
        for c in self.checks:
            t = threading.Thread(target=_run, args=(c, results), name=f"ready-{c.name}")
            t.daemon = True  # a probe stuck on a dead backend never holds the exit
            t.start()
            threads.append((c, t))
        deadline = time.monotonic() + self.timeout  # all run at once: ≤ timeout in total
        for c, t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
            if t.is_alive():
                results.setdefault(c.name, f"no answer within {self.timeout:g} s")
        checks = {c.name: results.get(c.name) or "ok" for c in self.checks}
        failing = [c.name for c in self.checks if results.get(c.name)]
        body: dict[str, Any] = {
            "status": "not ready" if failing else "ready",
            "not_ready": failing,
            "checks": checks,
        }
        return not failing, body


def _run(check: Check, results: dict[str, str | None]) -> None:
    try:
        results[check.name] = check.probe()
    except Exception as exc:  # a probe that raises says what
        results[check.name] = f"{type(exc).__name__}: {exc}"


# ── the checks ───────────────────────────────────────────────────────────────────────────────
def directory_check(name: str, path: Path) -> Check:
    """`path` is a directory this process can write."""

    def probe() -> str | None:
        if not path.is_dir():
            return f"{path} is not a directory"
        if not os.access(path, os.W_OK | os.X_OK):
            return f"{path} is not writable"
        return None

    return Check(name, probe)


def model_check(mattes: Mattes, *, warm_up: bool) -> Check:
    """The matting model is installed; with warm-up on, also loaded in this process."""

    def probe() -> str | None:
        missing = mattes.missing_message()
        if missing:
            return missing
        if warm_up and mattes.model not in mattes.models.matter.loaded():
            return f"model {mattes.model} is loading (warm-up)"
        return None

    return Check("model", probe)


def queue_check(queue: JobQueue, bound: int) -> Check:
    """Queued + running jobs below the bound (at it, new matte jobs are refused)."""

    def probe() -> str | None:
        depth = queue.depth()
        if depth >= bound:
            return f"job queue full: {depth} queued or running, bound {bound}"
        return None

    return Check("queue", probe)


def redis_check(client: redis.Redis, name: str = "redis") -> Check:
    """Redis answers PING (the client's own timeouts bound it: `cache.redis_client.connect`)."""

    def probe() -> str | None:
        client.ping()
        return None

    return Check(name, probe)


def call_check(name: str, fn: Callable[[], object]) -> Check:
    """Ready when `fn()` returns; not ready with its error when it raises (e.g. an S3
    `head_bucket`)."""

    def probe() -> str | None:
        fn()
        return None

    return Check(name, probe)


def app_checks(
    settings: Settings, mattes: Mattes, queue: JobQueue, *, needs_model: bool = True
) -> list[Check]:
    """What the HTTP app's readiness checks: its data dir, the model (when this role runs matte
    jobs: `needs_model`), the job queue's bound."""
    checks = [directory_check("store", settings.cache.root)]
    if needs_model:
        checks.append(model_check(mattes, warm_up=settings.models.warm_up))
    checks.append(queue_check(queue, settings.jobs.queue_max))
    return checks


# ── HTTP ─────────────────────────────────────────────────────────────────────────────────────
def routes(settings: Settings, readiness: Readiness, access: Access) -> list[BaseRoute]:
    """`GET /health`, `/livez`, `/readyz` (HEAD too)."""
    health_body = {
        "status": "ok",
        "role": settings.fleet.role,
        "clouds": list(settings.http.clouds),
    }

    async def health(request: Request) -> Response:
        """Up, its role (all, web, worker), and which clouds this server answers for."""
        return JSONResponse(health_body)

    async def livez(request: Request) -> Response:
        return JSONResponse({"status": "alive"})

    async def readyz(request: Request) -> Response:
        ok, body = await anyio.to_thread.run_sync(readiness.check)
        if not access.allows_request(request):
            body = {k: v for k, v in body.items() if k != "checks"}
        return JSONResponse(body, 200 if ok else 503, headers={"Cache-Control": "no-store"})

    return [Route("/health", health), Route("/livez", livez), Route("/readyz", readyz)]


# ── the command ──────────────────────────────────────────────────────────────────────────────
def local_url(host: str, port: int, path: str = "/readyz") -> str:
    """The URL of this host's server bound to `host:port` (a wildcard bind: loopback)."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host in ("::", "[::]"):
        host = "[::1]"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}{path}"


def health_command(url: str, *, timeout: float = 5.0, token: str | None = None) -> int:
    """GET `url`; print its answer; 0 when it is 200, else 1 (unreachable included)."""
    if not url.startswith(("http://", "https://")):
        print(f"alphacdn health: {url}: not an http(s) URL", file=sys.stderr)
        return 1
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
    try:
        with opener.open(request, timeout=timeout) as answer:
            status, text = answer.status, answer.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read().decode("utf-8", "replace")
    except (OSError, ValueError) as exc:  # refused, timed out, a bad URL
        print(f"alphacdn health: {url}: {exc}", file=sys.stderr)
        return 1
    try:
        text = json.dumps(json.loads(text))
    except ValueError:
        text = text.strip()
    print(f"{status} {text}", file=sys.stdout if status == 200 else sys.stderr)
    return 0 if status == 200 else 1


__all__ = [
    "Check",
    "Probe",
    "Readiness",
    "app_checks",
    "call_check",
    "directory_check",
    "health_command",
    "local_url",
    "model_check",
    "queue_check",
    "redis_check",
    "routes",
]
