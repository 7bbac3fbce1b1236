"""The first matte after a restart, with and without `ALPHACDN_WARM_UP`, vs raw inference.

    .venv/bin/python bench/warm_up.py [--model isnet] [--rounds 2] [--settle 20]

Each round starts a fresh `alphacdn serve` twice, cold (the session is made by the first job)
and warmed (`ALPHACDN_WARM_UP=1`), in alternating order. The script waits `--settle` seconds
after /health answers (a warmed server loads its model meanwhile; the cold one idles the same
time), uploads one photo and requests `e_background_removal/….png`, and reports the server-side
"first request → matte ready" (`ready_at` + `store` − the client's clock at its first request,
as in bench/matte_jobs.py), its inference seconds, and raw onnxruntime inference of the same
photo in this process, measured in the same round (a warm session: the floor). Peak RSS of the
server before the first request shows what warming costs in memory.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import pyvips
from matte_jobs import (
    KEY,
    MODELS,
    PHOTOS,
    SECRET,
    Raw,
    parse_timings,
    rss_of_group,
    start_server,
)


def first_matte(
    model: str, photo: Path, warm: bool, settle: float, poll: float = 0.2
) -> tuple[float, float, int]:
    """(first request → ready s, the job's inference s, server RSS bytes before the request)."""
    import cloudinary
    import cloudinary.uploader

    data_dir = Path(tempfile.mkdtemp(prefix="bench-warm-"))
    proc, base = start_server(data_dir, model, ALPHACDN_WARM_UP="1" if warm else "0")
    try:
        time.sleep(settle)
        rss = rss_of_group(proc.pid)
        cloudinary.config(cloud_name="demo", api_key=KEY, api_secret=SECRET, upload_prefix=base)
        cloudinary.uploader.upload(str(photo), public_id="first")
        url = f"{base}/demo/image/upload/e_background_removal/first.png"
        with httpx.Client(timeout=120) as client:  # keep-alive: see bench/matte_jobs.py
            t0 = time.time()
            while (resp := client.get(url)).status_code == 423:
                time.sleep(poll)
        assert resp.status_code == 200, resp.text
        timings = parse_timings(resp.headers.get("x-alphacdn-matte-timings", ""))
        return timings["ready_at"] - t0, timings["inference"], rss
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="isnet")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--settle", type=float, default=20.0)
    args = ap.parse_args()
    photos = sorted(p for p in PHOTOS.glob("*.jpg") if not p.name.startswith("truncated"))
    if not photos:
        print(f"{PHOTOS} is absent: this benchmark needs ../shared/data/photos")
        return 0
    photo = photos[0]
    size = 1024 if args.model == "isnet" else 768 if args.model == "isnet-768" else 320
    model_file = MODELS / ("isnet.onnx" if args.model.startswith("isnet") else "u2netp.onnx")
    rgb = np.asarray(pyvips.Image.new_from_file(str(photo)).autorot()[0:3].numpy())
    raw = Raw(model_file, size)
    print(f"model {args.model}, photo {photo.name}, load {os.getloadavg()[0]:.1f}\n")
    print(
        "| round | server | raw ort s | first request → ready s | ratio | job inference s |"
        " RSS before MB |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    ratios: dict[bool, list[float]] = {False: [], True: []}
    for r in range(args.rounds):
        for warm in (False, True) if r % 2 == 0 else (True, False):
            ready, inference, rss = first_matte(args.model, photo, warm, args.settle)
            floor = raw.seconds(rgb)
            ratios[warm].append(ready / floor)
            label = "warmed" if warm else "cold"
            print(
                f"| {r + 1} | {label} | {floor:.2f} | {ready:.2f} | {ready / floor:.2f}× |"
                f" {inference:.2f} | {rss / 2**20:.0f} |"
            )
            sys.stdout.flush()
    print(
        f"\nmedian ratio: cold {statistics.median(ratios[False]):.2f}×, "
        f"warmed {statistics.median(ratios[True]):.2f}× (refinement included in both)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
