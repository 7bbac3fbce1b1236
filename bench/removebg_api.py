"""Issue 7: throughput of `POST /v1.0/removebg` (size=full, format=png) vs the raw model, same run.

    bench/serve.sh 8811 /tmp/bench-removebg          # fresh data dir: every matte is cold
    .venv/bin/python bench/removebg_api.py --server http://127.0.0.1:8811 --pgid <pgid> \
        [--concurrency 1 4] [--limit N] [--raw-runs 5]

For each concurrency C, a *cold* pass sends every dev photo re-encoded to fresh bytes (JPEG, a
quality no other pass uses, so the content-keyed matte cache cannot answer), then a *warm* pass
sends the same bytes again (matte cached: decode + compose + PNG encode only). Reports images/min
(= images / wall time of the pass), p50/p95 latency per request, the server process group's peak
RSS (sum of VmRSS over /proc/<pid> of every process in the group, sampled every 50 ms), the load
average, and `model_runs` from `/metrics.json` to prove cold was cold and warm was warm.

The raw model's own rate is measured in the same run (before, after each cold pass, at the end),
with
onnxruntime directly on `data/models/isnet.onnx` (2 intra-op threads, 1024² input, like the
server): images/min = 60 / median session.run() wall time. That rate excludes decode, resize,
refinement at full resolution and PNG encode, so it is the ceiling the API could reach.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pyvips
import requests

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = Path(os.environ.get("BENCH_PHOTOS", "/work/shared/data/photos"))
API_KEY = "alphacdn-dev-removebg-key"  # the dev remove.bg key (settings.DEV_REMOVEBG_KEY)
# not photos of the dev set: animated gif, deliberately truncated file, > 10 MP (PNG output limit)
SKIP = {"earth-anim.gif", "truncated-street-bus.jpg", "large-13mp.jpg"}


def photos(limit: int | None) -> list[Path]:
    out = [
        p
        for p in sorted(PHOTOS.iterdir())
        if p.suffix.lower() in (".jpg", ".jpeg", ".png") and p.name not in SKIP
    ]
    return out[:limit] if limit else out


def fresh_bytes(path: Path, quality: int) -> bytes:
    im = pyvips.Image.new_from_file(str(path)).autorot()
    if im.interpretation not in ("srgb", "b-w"):
        im = im.colourspace("srgb")
    if im.hasalpha():
        im = im.flatten(background=[255, 255, 255])
    return im.jpegsave_buffer(Q=quality, strip=True)


class RssSampler(threading.Thread):
    """Peak of the summed VmRSS of every process whose pgid is `pgid`."""

    def __init__(self, pgid: int) -> None:
        super().__init__(daemon=True)
        self.pgid, self.peak, self.stop = pgid, 0, threading.Event()

    def current(self) -> int:
        total = 0
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/stat") as fh:
                    stat = fh.read()
                pgrp = int(stat.rsplit(")", 1)[1].split()[2])
                if pgrp != self.pgid:
                    continue
                with open(f"/proc/{d}/status") as fh:
                    for line in fh:
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1]) * 1024
            except (OSError, ValueError, IndexError):
                continue
        return total

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, self.current())
            time.sleep(0.05)


def raw_rate(model: Path, runs: int, threads: int = 2) -> dict[str, Any]:
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
    s = ort.InferenceSession(str(model), so, providers=["CPUExecutionProvider"])
    inp = s.get_inputs()[0]
    side = inp.shape[2] if isinstance(inp.shape[2], int) else 1024
    im = pyvips.Image.thumbnail(str(PHOTOS / "dog-bike.jpg"), side, height=side, size="force")
    x = (
        np.ndarray(buffer=im.write_to_memory(), dtype=np.uint8, shape=(side, side, 3)).astype(
            np.float32
        )
        / 255
    )
    x = ((x - 0.5) / 1.0).transpose(2, 0, 1)[None].astype(np.float32)
    s.run(None, {inp.name: x})
    walls, cpus = [], []
    for _ in range(runs):
        w0, c0 = time.perf_counter(), time.process_time()
        s.run(None, {inp.name: x})
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    med = statistics.median(walls)
    return {
        "wall_s_median": round(med, 3),
        "cpu_s_median": round(statistics.median(cpus), 3),
        "images_per_min": round(60 / med, 1),
        "load": round(os.getloadavg()[0], 2),
    }


def post(server: str, body: bytes, name: str) -> tuple[int, float, dict[str, str], int]:
    t0 = time.perf_counter()
    r = requests.post(
        f"{server}/v1.0/removebg",
        headers={"X-Api-Key": API_KEY},
        files={"image_file": (name, body, "image/jpeg")},
        data={"size": "full", "format": "png"},
        timeout=900,
    )
    return r.status_code, time.perf_counter() - t0, dict(r.headers), len(r.content)


def model_runs(server: str) -> int:
    m = requests.get(f"{server}/metrics.json", timeout=30).json()
    return int(sum(m.get("jobs", {}).get("model_runs", {}).values())), m


def run_pass(
    server: str, items: list[tuple[str, bytes]], conc: int, pgid: int | None
) -> dict[str, Any]:
    sampler = RssSampler(pgid) if pgid else None
    rss0 = sampler.current() if sampler else 0
    if sampler:
        sampler.start()
    runs0, _ = model_runs(server)
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    with cf.ThreadPoolExecutor(conc) as ex:
        results = list(ex.map(lambda it: post(server, it[1], it[0]), items))
    wall = time.perf_counter() - t0
    if sampler:
        sampler.stop.set()
        sampler.join()
    runs1, _metrics = model_runs(server)
    lat = sorted(r[1] for r in results)
    bad = [(items[i][0], r[0]) for i, r in enumerate(results) if r[0] != 200]
    p95 = lat[min(len(lat) - 1, max(0, round(0.95 * len(lat)) - 1))]
    return {
        "n": len(items),
        "ok": len(items) - len(bad),
        "errors": bad,
        "wall_s": round(wall, 2),
        "images_per_min": round(60 * (len(items) - len(bad)) / wall, 1),
        "p50_s": round(statistics.median(lat), 2),
        "p95_s": round(p95, 2),
        "max_s": round(lat[-1], 2),
        "model_runs": runs1 - runs0,
        "rss_before_mb": round(rss0 / 2**20),
        "peak_rss_mb": round(sampler.peak / 2**20) if sampler else None,
        "load_start": round(load0, 2),
        "load_end": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", default="http://127.0.0.1:8811")
    ap.add_argument(
        "--pgid", type=int, help="process group of the server (bench/serve.sh prints it)"
    )
    ap.add_argument("--concurrency", type=int, nargs="*", default=[1, 4])
    ap.add_argument("--limit", type=int)
    ap.add_argument("--raw-runs", type=int, default=5)
    ap.add_argument("--model", default=str(ROOT / "data" / "models" / "isnet.onnx"))
    ap.add_argument("--json")
    a = ap.parse_args()
    files = photos(a.limit)
    print(
        f"date {time.strftime('%Y-%m-%d %H:%M')}, {len(files)} photos, load {os.getloadavg()}",
        flush=True,
    )
    out: dict[str, Any] = {"photos": [p.name for p in files]}
    out["raw_before"] = raw_rate(Path(a.model), a.raw_runs)
    print("raw before", out["raw_before"], flush=True)
    for i, conc in enumerate(a.concurrency):
        items = [(p.stem + ".jpg", fresh_bytes(p, 95 - i)) for p in files]
        for kind in ("cold", "warm"):
            res = run_pass(a.server, items, conc, a.pgid)
            if kind == "cold":  # the raw model right after, under the same foreign load
                res["raw_after_pass"] = raw_rate(Path(a.model), a.raw_runs)
            out[f"c{conc}_{kind}"] = res
            print(f"c={conc} {kind}", json.dumps(res), flush=True)
    out["raw_after"] = raw_rate(Path(a.model), a.raw_runs)
    print("raw after", out["raw_after"], flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1))
    raw = statistics.median(
        [
            out["raw_before"]["images_per_min"],
            out["raw_after"]["images_per_min"],
            *(out[f"c{c}_cold"]["raw_after_pass"]["images_per_min"] for c in a.concurrency),
        ]
    )
    print(
        f"\nraw model rate (median of the {2 + len(a.concurrency)} raw measurements): "
        f"{raw} images/min"
    )
    for c in a.concurrency:
        print(f"raw right after the c={c} cold pass: {out[f'c{c}_cold']['raw_after_pass']}")
    print(
        "\n| case | images/min | × raw model | p50 s | p95 s | max s | model runs "
        "| peak RSS MB (group) | load start→end |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    print(
        f"| raw onnxruntime isnet (2 threads), before / after "
        f"| {out['raw_before']['images_per_min']} / "
        f"{out['raw_after']['images_per_min']} | 1 | {out['raw_before']['wall_s_median']} / "
        f"{out['raw_after']['wall_s_median']} | – | – | – | – "
        f"| {out['raw_before']['load']} / {out['raw_after']['load']} |"
    )
    for conc in a.concurrency:
        for kind in ("cold", "warm"):
            r = out[f"c{conc}_{kind}"]
            print(
                f"| API c={conc} {kind} ({r['ok']}/{r['n']} ok) | {r['images_per_min']} | "
                f"{r['images_per_min'] / raw:.2f} | {r['p50_s']} | {r['p95_s']} | {r['max_s']} | "
                f"{r['model_runs']} | {r['peak_rss_mb']} (from {r['rss_before_mb']}) | "
                f"{r['load_start']}→{r['load_end']} |"
            )


if __name__ == "__main__":
    main()
