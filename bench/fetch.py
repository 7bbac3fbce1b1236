"""Benchmark: `fetch` delivery vs the same transformation of an uploaded original, in one run.

A real server (`alphacdn serve`, 1 worker) and a real origin on 127.0.0.1 (`tests.e2e.origin`,
with ETags) serving the dev photos; the same photos are uploaded through the official SDK. Per
photo and round, interleaved, each over HTTP with a fresh transformation so nothing is a hit
unless it should be:

    upload cold        a new chain on the uploaded original (the original is on local disk)
    fetch cold         a new chain on a URL never fetched (download + header check + store,
                       then the same render)
    fetch cold render  another new chain (q_79) on the URL just fetched (source cached: the
                       render only)
    upload warm / fetch warm   the same URL again (derived-cache hits)

Prints medians, and the fetch/upload ratios; the origin is on loopback, so the cold ratio is our
own overhead of fetching (a real origin adds its network time on top, once per TTL).

    .venv/bin/python bench/fetch.py [--rounds 3] [--photos 8]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cloudinary
import cloudinary.uploader
import cloudinary.utils
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import configure_sdk  # noqa: E402
from tests.e2e.origin import Origin  # noqa: E402
from tests.e2e.server import Server  # noqa: E402

PHOTOS = ROOT.parent / "shared" / "data" / "photos"
#: ordinary photos (no deliberately broken or huge ones), smallest first
SKIP = ("truncated", "large-13mp", "desk-exif")


def url_of(source: str, width: int, **extra: object) -> str:
    options: dict[str, object] = {
        "width": width,
        "height": round(width * 0.75),
        "crop": "fill",
        "quality": 80,
        "format": "webp",
    }
    options.update(extra)
    url, _ = cloudinary.utils.cloudinary_url(source, **options)
    assert isinstance(url, str)
    return url


def timed(client: httpx.Client, url: str, expect: str) -> float:
    start = time.perf_counter()
    resp = client.get(url)
    took = time.perf_counter() - start
    if resp.status_code != 200 or resp.headers.get("x-alphacdn-cache") != expect:
        raise SystemExit(f"{url}: {resp.status_code} {resp.headers.get('x-alphacdn-cache')} "
                         f"{resp.text[:200]}")  # fmt: skip
    return took * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--photos", type=int, default=8)
    args = ap.parse_args()
    photos = sorted(
        (p for p in PHOTOS.glob("*.jpg") if not p.name.startswith(SKIP)),
        key=lambda p: p.stat().st_size,
    )[: args.photos]
    origin = Origin()
    data = Path(tempfile.mkdtemp(prefix="bench-fetch-"))
    env = {
        "ALPHACDN_FETCH_DOMAINS": "127.0.0.1",
        "ALPHACDN_ALLOW_PRIVATE_URLS": "true",
        "ALPHACDN_FETCH_TTL": "3600",
        "ALPHACDN_RENDER_CLIENT_QUEUE": "64",
    }
    server = Server(data, env=env).start()
    times: dict[str, list[float]] = {
        k: []
        for k in ("upload cold", "fetch cold", "fetch cold render", "upload warm", "fetch warm")
    }
    try:
        configure_sdk(server)
        for photo in photos:
            body = photo.read_bytes()
            cloudinary.uploader.upload(str(photo), public_id=photo.stem)
            for r in range(args.rounds):
                origin.files[f"/p/{photo.name}?r={r}"] = body
        with httpx.Client(timeout=120) as client:
            width = 300
            for r in range(args.rounds):
                for photo in photos:
                    remote = f"{origin.url}/p/{photo.name}?r={r}"
                    width += 1  # a chain never asked before: a derived miss everywhere
                    up, fe = url_of(photo.stem, width), url_of(remote, width, type="fetch")
                    again = url_of(remote, width, type="fetch", quality=79)
                    times["upload cold"].append(timed(client, up, "MISS"))
                    times["fetch cold"].append(timed(client, fe, "MISS"))
                    times["fetch cold render"].append(timed(client, again, "MISS"))
                    times["upload warm"].append(timed(client, up, "HIT"))
                    times["fetch warm"].append(timed(client, fe, "HIT"))
        downloads = httpx.get(server.url + "/metrics.json").json()["fetches"]["downloaded"]
    finally:
        server.stop()
        origin.close()
        shutil.rmtree(data, ignore_errors=True)
    load = Path("/proc/loadavg").read_text().split()[0]
    med = {k: statistics.median(v) for k, v in times.items()}
    sizes = ", ".join(f"{p.stem} {p.stat().st_size // 1024} KB" for p in photos)
    print(f"{len(photos)} photos × {args.rounds} rounds ({sizes}); c_fill 4:3 ~300-330 px, "
          f"q_80, WebP; {downloads} downloads from the loopback origin; load {load}")  # fmt: skip
    for k, v in med.items():
        p90 = statistics.quantiles(times[k], n=10)[-1]
        print(f"  {k:<18} median {v:7.1f} ms  (p90 {p90:.1f})")
    ratios = {
        "cold fetch / cold upload": med["fetch cold"] / med["upload cold"],
        "cold render of a fetched source / cold upload": med["fetch cold render"]
        / med["upload cold"],
        "warm fetch / warm upload": med["fetch warm"] / med["upload warm"],
    }
    for name, ratio in ratios.items():
        print(f"  {name:<46} {ratio:.2f}x")


if __name__ == "__main__":
    main()
