"""Cache-hit CPU with and without the `nosniff` ASGI wrapper, in one process (A/B, alternated).

    .venv/bin/python bench/delivery.py --phases hit      # once (or any data dir whose URLs hit)
    .venv/bin/python bench/delivery_hit_nosniff.py [--n 5000] [--rounds 8]

Same URLs and driver as `delivery_hit.py`; the baseline is the same app's middleware stack
without the outermost `NoSniff` (`Starlette.build_middleware_stack`), measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio

from delivery_hit import DATA, alternate, hit_paths
from starlette.applications import Starlette

from alphacdn.app import create_app
from alphacdn.settings import Settings


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--concurrency", type=int, default=32)
    a = ap.parse_args()
    paths = hit_paths()
    app = create_app(Settings.from_env({"ALPHACDN_DATA_DIR": str(DATA)}))
    stacks = {
        "nosniff": app.build_middleware_stack(),
        "bare": Starlette.build_middleware_stack(app),
    }
    medians = await alternate(stacks, paths, a.n, a.concurrency, a.rounds)
    ratio = medians["nosniff"] / medians["bare"]
    print(f"nosniff / bare: {ratio:.3f}")


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())
