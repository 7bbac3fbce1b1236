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
import os
import sys
import tempfile
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
    from delivery_hit import DATA, alternate, hit_paths
    from starlette.applications import Starlette

    from alphacdn import metrics
    from alphacdn.app import NoSniff, create_app
    from alphacdn.settings import Settings

    print(
        f"metrics in {'files (multiprocess)' if metrics.MULTIPROCESS else 'memory'}",
        file=sys.stderr,
    )
    paths = hit_paths()
    app = create_app(Settings.from_env({"ALPHACDN_DATA_DIR": str(DATA)}))
    stacks = {
        "observe": app.build_middleware_stack(),
        "bare": NoSniff(Starlette.build_middleware_stack(app)),
    }
    medians = await alternate(stacks, paths, a.n, a.concurrency, a.rounds)
    diff = medians["observe"] - medians["bare"]
    ratio = medians["observe"] / medians["bare"]
    print(
        f"observe - bare: {diff * 1e3:+.1f} µs/hit, ratio {ratio:.3f}, load {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())
