# ruff: noqa: E501, B023
"""Where a cold request's CPU goes: the same c_fill 400x300 WebP (or --fmt jpeg) render, in-process, step by step.

    .venv/bin/python bench/delivery_breakdown.py [--data-dir /tmp/bench-data] [--n 20] [--files a.jpg,b.png]

For each corpus file (../shared/data/photos, copied by delivery.py to /tmp/bench-delivery/corpus) prints CPU ms
(median of --n, process_time, libvips threads included) of:
  floor      pyvips thumbnail_buffer(crop=centre) + save with the server's encoder options, the floor
  render     alphacdn.engine.render(bytes, plan) (probe + load + steps + encode), no HTTP, no cache
  +wiring    render + sha256 etag + DerivedCache.put (fsync) + SingleFlight claim/release in a scratch dir
  probe      engine.load.probe(bytes) alone (header parse; render does it twice: probe() and load())
No server needed; nothing outside --scratch is written.
"""

import argparse
import hashlib
import json
import pathlib
import shutil
import statistics
import time

import pyvips

from alphacdn.cache import Claims, DerivedCache
from alphacdn.engine import render
from alphacdn.engine.load import probe
from alphacdn.transform import parse_url

ap = argparse.ArgumentParser()
ap.add_argument("--corpus", default="/tmp/bench-delivery/corpus")
ap.add_argument("--files", default="")
ap.add_argument("--n", type=int, default=15)
ap.add_argument("--fmt", default="webp", choices=["webp", "jpeg"])
ap.add_argument(
    "--trellis",
    action="store_true",
    help="jpeg floor also with trellis_quant + quant_table=3 "
    "(what engine/encode.py uses since 247a165)",
)
ap.add_argument("--scratch", default="/tmp/bench-delivery/breakdown-scratch")
a = ap.parse_args()
pyvips.cache_set_max(0)
EXT = "jpg" if a.fmt == "jpeg" else "webp"
scratch = pathlib.Path(a.scratch)
shutil.rmtree(scratch, ignore_errors=True)
cache = DerivedCache(scratch / "derived", size_limit=2 * 1024**3)
claims = Claims(scratch / "flight")
man = json.loads((pathlib.Path(a.corpus) / "manifest.json").read_text())
files = a.files.split(",") if a.files else [m["name"] for m in man]


def med(f, n):
    f(0)
    xs = []
    for i in range(1, n + 1):
        c0 = time.process_time()
        f(i)
        xs.append((time.process_time() - c0) * 1e3)
    return statistics.median(xs)


print(f"{'file':30} {'floor':>7} {'render':>7} {'+wiring':>8} {'probe':>6}  render/floor")
tot = [0.0, 0.0, 0.0]
for name in files:
    data = (pathlib.Path(a.corpus) / name).read_bytes()
    stem = name.rsplit(".", 1)[0]

    def plan(i):
        return parse_url(
            f"/demo/image/upload/c_fill,g_center,w_{400 + i},h_300,q_80/f_{EXT}/{stem}"
        ).plan

    def floor(i):
        t = pyvips.Image.thumbnail_buffer(data, 400 + i, height=300, crop="centre")
        if a.fmt == "webp":
            t.webpsave_buffer(Q=80, effort=4, keep=0)
        else:
            if t.hasalpha():
                t = t.flatten(background=255)
            extra = dict(trellis_quant=True, quant_table=3) if a.trellis else {}
            t.jpegsave_buffer(Q=80, optimize_coding=True, interlace=True, keep=0, **extra)

    def eng(i):
        render(data, plan(i), max_pixels=50_000_000)

    def wired(i):
        key = f"{stem}/{i}/{time.time_ns()}"
        tok = claims.try_claim(key, 120)
        r = render(data, plan(i), max_pixels=50_000_000)
        etag = hashlib.sha256(r.body).hexdigest()[:32]
        cache.put(key, r.body, {"etag": etag, "content_type": r.content_type}, tag=stem)
        claims.release(key, tok)

    f, e, w = med(floor, a.n), med(eng, a.n), med(wired, a.n)
    p = med(lambda i: probe(data), a.n)
    tot = [tot[0] + f, tot[1] + e, tot[2] + w]
    print(f"{name:30} {f:7.1f} {e:7.1f} {w:8.1f} {p:6.2f}  {e / f:5.2f}")
print(
    f"{'TOTAL':30} {tot[0]:7.1f} {tot[1]:7.1f} {tot[2]:8.1f}         {tot[1] / tot[0]:5.2f} (wired {tot[2] / tot[0]:.2f})"
)
cache.close()
shutil.rmtree(scratch, ignore_errors=True)
