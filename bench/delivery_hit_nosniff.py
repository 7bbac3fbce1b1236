# ruff: noqa: E501
"""Cache-hit CPU with and without the `nosniff` ASGI wrapper, in one process (A/B, alternated).

    .venv/bin/python bench/delivery.py --phases hit      # once (or any data dir whose URLs hit)
    .venv/bin/python bench/delivery_hit_nosniff.py [--n 5000] [--rounds 8]

Same URLs and driver as `delivery_hit.py`; the baseline is the same app's middleware stack
without the outermost `NoSniff` (`Starlette.build_middleware_stack`), measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

from delivery_hit import DATA, FMTS, URL, WORK, run
from starlette.applications import Starlette

from alphacdn.app import create_app
from alphacdn.settings import Settings


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--concurrency", type=int, default=32)
    a = ap.parse_args()
    corpus = json.loads((WORK / "corpus" / "manifest.json").read_text())
    paths = [URL.format(w=400, h=300, q=80, fmt=e, stem=i["stem"]) for e in FMTS.values() for i in corpus]  # fmt: skip
    app = create_app(Settings.from_env({"ALPHACDN_DATA_DIR": str(DATA)}))
    stacks = {
        "nosniff": app.build_middleware_stack(),
        "bare": Starlette.build_middleware_stack(app),
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
    ratio = statistics.median(cpu["nosniff"]) / statistics.median(cpu["bare"])
    print(f"nosniff / bare: {ratio:.3f}")


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())
