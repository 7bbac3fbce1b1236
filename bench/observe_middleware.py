"""CPU of `metrics.Observe` alone (request id, context variable, X-Request-Id, request counter
and histogram) around a trivial ASGI app, vs the trivial app bare: the middleware's own cost
per request, without the noise of a whole cache hit.

    .venv/bin/python bench/observe_middleware.py [--n 50000] [--rounds 7] [--in-memory]

Counts in per-process files as `alphacdn serve` does (`metrics_dir.prepare`), unless
`--in-memory`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any


class _Route:
    path = "/{cloud}/image/{rest:path}"


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--in-memory", action="store_true")
    a = ap.parse_args()
    if not a.in_memory:  # before prometheus-client is imported
        from alphacdn import metrics_dir

        metrics_dir.prepare(Path(tempfile.mkdtemp(prefix="bench-observe-")))
    from alphacdn import metrics

    route = _Route()

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        scope["route"] = route
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"x"})

    async def send(message: Any) -> None:
        pass

    async def receive() -> Any:
        return {}

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/demo/image/upload/w_10/x.jpg",
        "headers": [(b"host", b"127.0.0.1:8800"), (b"accept", b"*/*")],
    }
    apps = {"observe": metrics.Observe(inner), "bare": inner}
    cpu: dict[str, list[float]] = {name: [] for name in apps}
    for r in range(a.rounds):
        for name in sorted(apps, reverse=bool(r % 2)):
            c0 = time.process_time()
            for _ in range(a.n):
                await apps[name](dict(scope), receive, send)
            cpu[name].append((time.process_time() - c0) / a.n * 1e6)
    for name, values in cpu.items():
        print(f"{name:8} median {statistics.median(values):.2f} µs CPU/request")
    diff = statistics.median(cpu["observe"]) - statistics.median(cpu["bare"])
    where = "files (multiprocess)" if metrics.MULTIPROCESS else "memory"
    print(f"Observe costs {diff:.2f} µs/request (metrics in {where})")


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())
