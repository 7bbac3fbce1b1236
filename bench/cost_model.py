"""The cost model against the clock: predicted render units vs measured CPU seconds.

    .venv/bin/python bench/cost_model.py [--cap 20] [--only SUBSTRING]

For representative plans (storefront thumbnails, large originals, upscales, blurs on RGB and
RGBA sources, shadows, masks, layers, text) on real photos from `tests/fixtures/e2e` scaled to
the sizes listed, it prints what `transform.cost.estimate` predicts (render units, meant as
≈ CPU-ms), what `engine.render` measures (process CPU seconds, every libvips thread counted),
their ratio, and the Pearson correlation of log(predicted) and log(measured) over all plans.
It then says which plans the default `ALPHACDN_RENDER_BUDGET` refuses and the dearest measured
plan it allows. Renders longer than `--cap` seconds are stopped (shown as `>cap`). Not a test.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import pyvips

from alphacdn.engine import RenderStop, RenderStopped, configure, render
from alphacdn.settings import EngineSettings
from alphacdn.transform import parse_chain
from alphacdn.transform.cost import estimate

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "e2e"

#: (chain, source fixture, source width, height, source format)
PLANS: list[tuple[str, str, int, int, str]] = [
    ("c_fill,g_auto,w_400,h_400/f_webp", "car-house.jpg", 4000, 3000, "jpg"),
    ("c_fill,w_200,h_200/f_jpg", "dog-bike.jpg", 2000, 1500, "jpg"),
    ("f_jpg,q_auto", "car-house.jpg", 4000, 3000, "jpg"),
    ("f_webp", "car-house.jpg", 4000, 3000, "jpg"),
    ("f_avif", "car-house.jpg", 2000, 1500, "jpg"),
    ("f_png", "tiger-cutout.png", 2000, 1500, "png"),
    ("w_3000/f_jpg", "cat-street.jpg", 480, 360, "jpg"),
    ("w_5000/f_jpg", "cat-street.jpg", 480, 360, "jpg"),
    ("w_2000,e_sharpen/f_jpg", "dog-bike.jpg", 3000, 2000, "jpg"),
    ("e_blur:300,w_800/f_jpg", "dog-bike.jpg", 1200, 900, "jpg"),
    ("w_1500,e_blur:2000/f_jpg", "cat-street.jpg", 480, 360, "jpg"),
    ("w_2400,e_blur:2000/f_jpg", "cat-street.jpg", 480, 360, "jpg"),
    ("w_3000,e_blur:2000/f_jpg", "cat-street.jpg", 480, 360, "jpg"),
    ("w_800,e_blur:1000/f_png", "tiger-cutout.png", 480, 360, "png"),
    ("w_850,e_blur:1800/f_png", "tiger-cutout.png", 480, 360, "png"),
    ("w_1000,e_blur:2000/f_png", "tiger-cutout.png", 480, 360, "png"),
    ("w_1500,e_blur:2000/f_png", "tiger-cutout.png", 480, 360, "png"),
    ("e_saturation:50,e_vignette/f_jpg", "car-house.jpg", 2000, 1500, "jpg"),
    ("e_trim/r_40/f_png", "tiger-cutout.png", 2000, 1500, "png"),
    ("a_30,w_1500/f_png", "dog-bike.jpg", 2000, 1500, "jpg"),
    ("bo_200px_solid_black/f_jpg", "dog-bike.jpg", 2000, 1500, "jpg"),
    ("e_shadow/f_png", "tiger-cutout.png", 2000, 1500, "png"),
    ("e_dropshadow/f_png", "tiger-cutout.png", 2000, 1500, "png"),
    ("e_mask:expand_10;feather_10/f_png", "tiger-cutout.png", 1500, 1100, "png"),
    ("l_x,w_0.25,fl_relative,g_north_east/f_jpg", "car-house.jpg", 2000, 1500, "jpg"),
    ("l_x,fl_relative,w_40.0/f_png", "tiger-cutout.png", 64, 64, "png"),
    ("l_text:Arial_60_bold:Summer sale 50%25 off,co_white/f_jpg", "dog-bike.jpg", 1600, 1200,
     "jpg"),
    ("l_text:Arial_200:" + "Wide " * 40 + "/f_jpg", "dog-bike.jpg", 800, 600, "jpg"),
]  # fmt: skip


def _source(name: str, width: int, height: int, fmt: str) -> bytes:
    image = pyvips.Image.new_from_file(str(FIXTURES / name))
    image = image.thumbnail_image(width, height=height, size="force")
    if fmt == "jpg":
        return bytes(image.jpegsave_buffer(Q=90))
    return bytes(image.pngsave_buffer())


def _measure(source: bytes, chain: str, layer: bytes, cap: float) -> float | None:
    """CPU seconds of one render (None: stopped at `cap` wall seconds)."""
    stop = RenderStop(deadline=time.monotonic() + cap)
    import threading

    timer = threading.Timer(cap, stop.stop, args=("timeout",))
    timer.start()
    c0 = time.process_time()
    try:
        render(source, parse_chain(chain), max_pixels=60_000_000, load_asset=lambda _: layer,
               stop=stop)  # fmt: skip
    except RenderStopped:
        return None
    finally:
        timer.cancel()
    return time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cap", type=float, default=20.0, help="stop a render after this (s)")
    ap.add_argument("--only", default="", help="only plans containing this text")
    args = ap.parse_args()
    settings = EngineSettings()
    configure(vips_concurrency=settings.vips_concurrency, vips_cache_mb=0)
    budget = settings.render_budget
    print(f"budget {budget} units, canvas limit {settings.max_canvas_pixels / 1e6:g} MP, "
          f"vips threads {settings.vips_concurrency}")  # fmt: skip
    print(f"{'plan':<58} {'source':>14} {'units':>9} {'CPU-s':>7} {'ms/unit':>7}  verdict")
    points: list[tuple[float, float]] = []
    allowed: list[tuple[float, str]] = []
    for chain, name, w, h, fmt in PLANS:
        if args.only not in chain:
            continue
        source = _source(name, w, h, fmt)
        layer_size = (w, h)
        layer = source
        est = estimate(parse_chain(chain), w, h, source_format=fmt,
                       layer_sizes={"x": layer_size})  # fmt: skip
        extra = est.units - est.baseline
        verdict = "refused" if extra > budget else "allowed"
        cpu = _measure(source, chain, layer, args.cap)
        shown = f">{args.cap:g}" if cpu is None else f"{cpu:.2f}"
        ratio = "" if cpu is None else f"{cpu * 1000 / est.units:.2f}"
        print(f"{chain[:58]:<58} {f'{w}x{h} {fmt}':>14} {est.units:>9.0f} {shown:>7} {ratio:>7}"
              f"  {verdict}")  # fmt: skip
        sys.stdout.flush()
        if cpu is not None:
            points.append((math.log(est.units), math.log(max(cpu, 1e-3))))
            if verdict == "allowed":
                allowed.append((cpu, chain))
    if len(points) >= 3:
        xs, ys = zip(*points, strict=True)
        r = statistics.correlation(xs, ys)
        print(f"\ncorrelation of log(units) and log(CPU-s) over {len(points)} plans: {r:.2f}")
    if allowed:
        cpu, chain = max(allowed)
        print(f"dearest allowed plan: {chain} at {cpu:.2f} CPU-s")


if __name__ == "__main__":
    main()
