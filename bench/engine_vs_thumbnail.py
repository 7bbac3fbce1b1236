"""Engine cost vs plain libvips: `c_fill,w_400,h_300` → WebP, CPU seconds per image.

    .venv/bin/python bench/engine_vs_thumbnail.py [--repeat 5] [--encoders]

For each photo in ../shared/data/photos (*.jpg, *.png) it measures, in the same run and
interleaved, `alphacdn.engine.render` against `pyvips.Image.thumbnail_buffer(data, 400,
height=300, crop="centre")` + `webpsave_buffer`, and prints the ratio (goal ≤ 1.3×).
`--encoders` also times the output encoders on one 400×300 image. Not a test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pyvips

from alphacdn.engine import configure, render
from alphacdn.transform.plan import Component, Output, Plan
from alphacdn.transform.steps import Resize
from alphacdn.transform.values import CropMode, Format

PHOTOS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "photos"
PLAN = Plan((Component((Resize(400, 300, CropMode.FILL),)),), Output(format=Format.WEBP))


def cpu(fn: Callable[[], object], repeat: int) -> float:
    """Median process CPU time (all libvips threads included) of `repeat` calls."""
    times = []
    for _ in range(repeat):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return statistics.median(times)


def baseline(data: bytes) -> bytes:
    image = pyvips.Image.thumbnail_buffer(data, 400, height=300, crop="centre")
    return bytes(image.webpsave_buffer(Q=80, effort=4, keep="none"))


def engine(data: bytes) -> bytes:
    return render(data, PLAN, max_pixels=50_000_000).body


def encoders(repeat: int) -> None:
    data = (PHOTOS / "dog-golden-snow.jpg").read_bytes()
    image = pyvips.Image.thumbnail_buffer(data, 400, height=300, crop="centre").copy_memory()
    cases: dict[str, Callable[[], bytes]] = {
        "jpeg q80": lambda: image.jpegsave_buffer(Q=80, keep="none"),
        "jpeg q80 optimize": lambda: image.jpegsave_buffer(Q=80, optimize_coding=True, keep="none"),
        "jpeg q80 optimize progressive": lambda: image.jpegsave_buffer(
            Q=80, optimize_coding=True, interlace=True, keep="none"
        ),
        "jpeg q80 trellis+qt3 (mozjpeg)": lambda: image.jpegsave_buffer(
            Q=80, optimize_coding=True, trellis_quant=True, quant_table=3, keep="none"
        ),
        "webp q80 effort4": lambda: image.webpsave_buffer(Q=80, effort=4, keep="none"),
        "png compression6": lambda: image.pngsave_buffer(compression=6, keep="none"),
    }
    for effort in (0, 2, 4):
        cases[f"avif q60 effort{effort}"] = lambda e=effort: image.heifsave_buffer(
            Q=60, compression="av1", effort=e, bitdepth=8, keep="none"
        )
    print(f"\nencoders on a 400x300 image (median CPU of {repeat})")
    for name, fn in cases.items():
        size = len(fn())
        print(f"  {name:34s} {cpu(fn, repeat) * 1000:7.1f} ms  {size / 1024:6.1f} KiB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--encoders", action="store_true")
    args = parser.parse_args()
    photos = sorted([*PHOTOS.glob("*.jpg"), *PHOTOS.glob("*.png")]) if PHOTOS.is_dir() else []
    if not photos:
        print(f"no photos in {PHOTOS}: nothing to measure")
        return 0
    configure(vips_concurrency=1, vips_cache_mb=0)  # no cache: every call decodes for real
    print(f"c_fill,w_400,h_300 -> webp, median CPU ms of {args.repeat}, vips threads 1")
    print(f"{'photo':32s} {'pixels':>9s} {'thumbnail':>10s} {'engine':>8s} {'ratio':>6s}")
    ratios = []
    for path in photos:
        data = path.read_bytes()
        try:
            engine(data)
        except Exception as e:  # the truncated sample, for one
            print(f"{path.name:32s} skipped: {type(e).__name__}: {e}")
            continue
        base = eng = 0.0
        for _ in range(2):  # interleave so drift hits both sides
            base += cpu(lambda d=data: baseline(d), args.repeat)
            eng += cpu(lambda d=data: engine(d), args.repeat)
        header = pyvips.Image.new_from_buffer(data, "")
        ratio = eng / base
        ratios.append(ratio)
        print(
            f"{path.name:32s} {header.width * header.height / 1e6:8.1f}M "
            f"{base / 2 * 1000:10.1f} {eng / 2 * 1000:8.1f} {ratio:6.2f}"
        )
    print(f"\ngeometric mean ratio {statistics.geometric_mean(ratios):.2f}, max {max(ratios):.2f}")
    if args.encoders:
        encoders(args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
