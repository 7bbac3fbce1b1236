"""Benchmark: a full compositing chain vs the same chain without its underlay, in the same run.

The removal is cached (the render starts from the cut-out PNG, as the wiring does after the first
request); the chain is drop shadow → underlay a backdrop → resize → WebP. Runs interleaved, prints
medians and the ratio.

    .venv/bin/python bench/compositing.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import pyvips

from alphacdn.engine import render
from alphacdn.transform import parse_chain

ROOT = Path(__file__).resolve().parent.parent
CUTOUT = ROOT / "tests" / "fixtures" / "e2e" / "tiger-cutout.png"
WITH_LAYER = "e_dropshadow/u_backdrop/c_fill,h_1067,w_1600/fl_layer_apply,g_south/c_scale,w_800"
WITHOUT_LAYER = "e_dropshadow/c_scale,w_800"
BASELINE = "c_scale,w_800"


def inputs() -> tuple[bytes, bytes]:
    """A 1280×852 cut-out (the fixture ×4) and a 1600×1067 JPEG backdrop."""
    cut = pyvips.Image.new_from_file(str(CUTOUT))
    big = cut.premultiply().resize(4.0).unpremultiply().cast("uchar").copy(interpretation="srgb")
    xy = pyvips.Image.xyz(1600, 1067)
    backdrop = (xy[1] * 0.1 + 150).bandjoin([xy[0] * 0.05 + 160, xy[1] * 0.08 + 170])
    backdrop = backdrop.cast("uchar").copy(interpretation="srgb")
    return bytes(big.pngsave_buffer(compression=1)), bytes(backdrop.jpegsave_buffer(Q=90))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    source, backdrop = inputs()
    assets = {"backdrop": backdrop}
    chains = {
        "with underlay": WITH_LAYER,
        "without underlay": WITHOUT_LAYER,
        "resize only": BASELINE,
    }
    plans = {name: parse_chain(chain + "/f_webp") for name, chain in chains.items()}
    times: dict[str, list[float]] = {name: [] for name in chains}
    for _ in range(args.repeat):
        for name, plan in plans.items():
            start = time.perf_counter()
            render(source, plan, max_pixels=50_000_000, load_asset=assets.__getitem__)
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times["without underlay"])
    print(f"pyvips {pyvips.version(0)}.{pyvips.version(1)}, cut-out 1280x852 PNG, "
          f"backdrop 1600x1067 JPEG, {args.repeat} interleaved runs, median ms:")  # fmt: skip
    for name, chain in chains.items():
        med = statistics.median(times[name])
        print(f"  {name:17s} {med * 1000:7.1f} ms  ×{med / base:4.2f}   {chain}/f_webp")


if __name__ == "__main__":
    main()
