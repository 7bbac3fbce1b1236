# ruff: noqa: E501
"""Cache-hit CPU with and without `metrics.Observe` (request id + request metrics), in one
process (A/B, alternated), counting as `alphacdn serve` does (per-process files under
`PROMETHEUS_MULTIPROC_DIR`) unless `--in-memory`.

    .venv/bin/python bench/delivery.py --phases hit      # once (or any data dir whose URLs hit)
    .venv/bin/python bench/delivery_hit_observe.py [--n 5000] [--rounds 8] [--in-memory]

Same URLs and driver as `delivery_hit.py`; the baseline is the same app's middleware stack
without the outermost `Observe` (the delivery route still counts its cache hit in both).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--in-memory", action="store_true", help="count in memory (no metrics dir)")
    a = ap.parse_args()
    if not a.in_memory:  # before prometheus-client is imported, as `alphacdn serve` does
        from alphacdn import metrics_dir

        metrics_dir.prepare(Path(tempfile.mkdtemp(prefix="bench-observe-")))
    from delivery_hit import DATA, FMTS, URL, WORK, run
    from starlette.applications import Starlette

    from alphacdn import metrics
    from alphacdn.app import NoSniff, create_app
    from alphacdn.settings import Settings

    print(
        f"metrics in {'files (multiprocess)' if metrics.MULTIPROCESS else 'memory'}",
        file=sys.stderr,
    )
    corpus = json.loads((WORK / "corpus" / "manifest.json").read_text())
    paths = [URL.format(w=400, h=300, q=80, fmt=e, stem=i["stem"]) for e in FMTS.values() for i in corpus]  # fmt: skip
    app = create_app(Settings.from_env({"ALPHACDN_DATA_DIR": str(DATA)}))
    stacks = {
        "observe": app.build_middleware_stack(),
        "bare": NoSniff(Starlette.build_middleware_stack(app)),
    }
    for stack in stacks.values():
        await run(stack, paths, 1000, a.concurrency)  # warm-up
    cpu: dict[str, list[float]] = {name: [] for name in stacks}
    for r in range(a.rounds):
        for name in sorted(stacks, reverse=bool(r % 2)):  # alternate which goes first
            c0 = time.process_time()
            await run(stacks[name], paths, a.n, a.concurrency)
            cpu[name].append((time.process_time() - c0) * 1e3 / a.n)
    for name, values in cpu.items():
        print(f"{name:8} median {statistics.median(values):.4f} ms CPU/hit  {[round(v, 3) for v in values]}")  # fmt: skip
    diff = statistics.median(cpu["observe"]) - statistics.median(cpu["bare"])
    ratio = statistics.median(cpu["observe"]) / statistics.median(cpu["bare"])
    print(
        f"observe - bare: {diff * 1e3:+.1f} µs/hit, ratio {ratio:.3f}, load {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())
