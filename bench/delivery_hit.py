# ruff: noqa: E501
"""Cache-hit CPU of the app itself, in process (no uvicorn, no sockets), with an optional cProfile.

    .venv/bin/python bench/delivery.py --phases hit      # once: uploads the corpus, renders the URLs
    .venv/bin/python bench/delivery_hit.py [--n 4000] [--concurrency 32] [--profile]

Calls the ASGI app of `create_app` directly with the hit-phase URLs of `bench/delivery.py` (same
data dir, so every request is a cache hit) from `--concurrency` tasks on uvloop, and prints the
process CPU per request. Together with `delivery.py`'s figures over uvicorn this splits a hit
into "the app" and "uvicorn + sockets" (a bare uvicorn app serving the same bytes costs
~0.04 ms/request on the bench machine).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pathlib
import pstats
import statistics
import time

from alphacdn.app import create_app
from alphacdn.settings import Settings

WORK = pathlib.Path(os.environ.get("BENCH_WORK", "/tmp/bench-delivery"))
DATA = pathlib.Path(os.environ.get("BENCH_DATA_DIR", "/tmp/bench-data"))
URL = "/demo/image/upload/c_fill,g_center,w_{w},h_{h},q_{q}/f_{fmt}/{stem}"  # as in delivery.py
FMTS = {"webp": "webp", "jpeg": "jpg"}


async def one(app, path: str) -> None:  # type: ignore[no-untyped-def]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8800"), (b"accept", b"*/*")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 8800),
    }
    status: list[int] = []
    cache: list[bytes] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])
            cache.extend(v for k, v in message["headers"] if k == b"x-alphacdn-cache")

    await app(scope, receive, send)
    if status != [200] or cache != [b"HIT"]:
        raise SystemExit(f"{path}: {status} {cache} (run bench/delivery.py --phases hit first)")


async def run(app, paths: list[str], n: int, concurrency: int) -> None:  # type: ignore[no-untyped-def]
    todo = iter(range(n))

    async def worker() -> None:
        for i in todo:
            await one(app, paths[i % len(paths)])

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def hit_paths() -> list[str]:
    """The hit-phase URLs of `bench/delivery.py` (its corpus must have been rendered)."""
    corpus = json.loads((WORK / "corpus" / "manifest.json").read_text())
    return [
        URL.format(w=400, h=300, q=80, fmt=ext, stem=i["stem"])
        for ext in FMTS.values()
        for i in corpus
    ]


async def alternate(stacks, paths: list[str], n: int, concurrency: int, rounds: int):  # type: ignore[no-untyped-def]
    """CPU ms per hit of each ASGI app in `stacks` (name → app), after a warm-up, over
    `rounds` rounds that alternate which app goes first; prints each app's median."""
    for stack in stacks.values():
        await run(stack, paths, 1000, concurrency)  # warm-up
    cpu: dict[str, list[float]] = {name: [] for name in stacks}
    for r in range(rounds):
        for name in sorted(stacks, reverse=bool(r % 2)):
            c0 = time.process_time()
            await run(stacks[name], paths, n, concurrency)
            cpu[name].append((time.process_time() - c0) * 1e3 / n)
    for name, values in cpu.items():
        print(f"{name:8} median {statistics.median(values):.4f} ms CPU/hit  {[round(v, 3) for v in values]}")  # fmt: skip
    return {name: statistics.median(values) for name, values in cpu.items()}


async def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--profile", action="store_true", help="print the top of a cProfile of one rep")
    a = ap.parse_args()
    paths = hit_paths()
    app = create_app(Settings.from_env({"ALPHACDN_DATA_DIR": str(DATA)}))
    await run(app, paths, 500, a.concurrency)  # warm-up: parse memo, page cache
    for rep in range(a.reps):
        prof = cProfile.Profile() if a.profile and rep == 0 else None
        c0, t0 = time.process_time(), time.perf_counter()
        if prof:
            prof.enable()
        await run(app, paths, a.n, a.concurrency)
        if prof:
            prof.disable()
        cpu, wall = time.process_time() - c0, time.perf_counter() - t0
        print(
            f"rep {rep + 1}: {a.n} hits at concurrency {a.concurrency}: {cpu * 1e3 / a.n:.3f} ms CPU/request"
            f"{' (under cProfile)' if prof else ''}, {a.n / wall:.0f} req/s, load {os.getloadavg()[0]:.1f}"
        )
        if prof:
            pstats.Stats(prof).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())
