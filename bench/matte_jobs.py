"""On-the-fly background removal through the server vs raw onnxruntime, in the same run.

    .venv/bin/python bench/matte_jobs.py [--model isnet] [--limit 8]

For each photo of `../shared/data/photos` (JPEGs; says so and exits 0 when absent):
  * raw: onnxruntime on the same model file, input prepared as the model expects (the floor);
  * ready: a real `alphacdn serve` on loopback, time from the first delivery request
    (`e_background_removal/…png`, 423) to the 200, one photo at a time (no queueing);
  * queue: all photos requested at once (fresh copies, so nothing is cached), time until all
    are ready → throughput of the job queue, images/min;
and the server's peak RSS (process group, from /proc). Prints the overhead ratio ready / raw
(the rest is refinement at full resolution, reported by the server's job timings).
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import onnxruntime as ort
import pyvips

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT.parent / "shared" / "data" / "photos"
MODELS = ROOT / "data" / "models"
KEY, SECRET = "123456789012345", "alphacdn-dev-secret"


def raw_seconds(model_file: Path, rgb: np.ndarray, size: int) -> float:
    """One timed inference (after a warm-up) with the model's own preprocessing shape."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    opts.enable_cpu_mem_arena = False
    sess = ort.InferenceSession(str(model_file), opts, providers=["CPUExecutionProvider"])
    img = pyvips.Image.new_from_array(rgb).copy(interpretation="srgb")
    small = img.resize(size / img.width, vscale=size / img.height)
    x = (np.asarray(small.numpy(), np.float32) - 128.0) / 256.0
    x = np.ascontiguousarray(x.transpose(2, 0, 1)[None])
    name = sess.get_inputs()[0].name
    out = [sess.get_outputs()[0].name]
    sess.run(out, {name: x})
    t0 = time.perf_counter()
    sess.run(out, {name: x})
    return time.perf_counter() - t0


def rss_of_group(pgid: int) -> int:
    total = 0
    for p in Path("/proc").glob("[0-9]*"):
        try:
            fields = (p / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid:
                total += int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            continue
    return total


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="isnet")
    ap.add_argument("--limit", type=int, default=8)
    ap.add_argument(
        "--poll",
        type=float,
        default=0.05,
        help="seconds between polls while 423 (real clients use Retry-After)",
    )
    args = ap.parse_args()
    if not PHOTOS.is_dir():
        print(f"{PHOTOS} is absent: this benchmark needs ../shared/data/photos")
        return 0
    import cloudinary
    import cloudinary.uploader

    photos = sorted(p for p in PHOTOS.glob("*.jpg") if not p.name.startswith("truncated"))
    photos = photos[: args.limit]
    size = 1024 if args.model == "isnet" else 768 if args.model == "isnet-768" else 320
    model_file = MODELS / ("isnet.onnx" if args.model.startswith("isnet") else "u2netp.onnx")

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data_dir = Path(tempfile.mkdtemp(prefix="bench-mattes-"))
    env = {
        **os.environ,
        "ALPHACDN_DATA_DIR": str(data_dir),
        "ALPHACDN_MODELS_DIR": str(MODELS),
        "ALPHACDN_MODEL": args.model,
        "ALPHACDN_QUEUE_MAX": "1000",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "alphacdn.cli",
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], rss_of_group(proc.pid))
            time.sleep(0.1)

    threading.Thread(target=sample, daemon=True).start()
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        cloudinary.config(cloud_name="demo", api_key=KEY, api_secret=SECRET, upload_prefix=base)

        def upload(path: Path, pid: str, variant: int) -> None:
            # variant > 0 re-encodes, so the content (and the matte key) differs
            data = path.read_bytes()
            if variant:
                data = pyvips.Image.new_from_buffer(data, "").jpegsave_buffer(Q=90 - variant)
            cloudinary.uploader.upload(io.BytesIO(data), public_id=pid)

        timings: dict[str, dict[str, float]] = {}

        def until_ready(pid: str) -> float:
            t0 = time.perf_counter()
            url = f"{base}/demo/image/upload/e_background_removal/{pid}.png"
            while (resp := httpx.get(url, timeout=120)).status_code == 423:
                time.sleep(args.poll)
            took = time.perf_counter() - t0
            header = resp.headers.get("x-alphacdn-matte-timings", "")
            timings[pid] = {
                k: float(v) for k, v in (kv.split("=") for kv in header.split(";") if "=" in kv)
            }
            return took

        # warm the session once (not timed)
        upload(photos[0], "warm", 3)
        until_ready("warm")
        print(f"model {args.model}, {len(photos)} photos, load {os.getloadavg()[0]:.1f}\n")
        print(
            "| photo | MP | raw ort s | first request → ready s | ratio | server inference s |"
            " refinement s | ratio without refinement |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        ratios: list[float] = []
        bare: list[float] = []
        for i, path in enumerate(photos):
            rgb = np.asarray(pyvips.Image.new_from_file(str(path)).autorot()[0:3].numpy())
            raw = raw_seconds(model_file, rgb, size)
            upload(path, f"one{i}", 0)
            ready = until_ready(f"one{i}")
            t = timings[f"one{i}"]
            refine = t.get("upsample", 0) + t.get("decontaminate", 0) + t.get("fine_edges", 0)
            ratios.append(ready / raw)
            bare.append((ready - refine) / raw)
            mp = rgb.shape[0] * rgb.shape[1] / 1e6
            print(
                f"| {path.name} | {mp:.1f} | {raw:.2f} | {ready:.2f} | {ready / raw:.2f} "
                f"| {t.get('inference', 0):.2f} | {refine:.2f} | {(ready - refine) / raw:.2f} |"
            )
        print(
            f"\nmedian ratio ready/raw: {statistics.median(ratios):.2f}; without refinement "
            f"{statistics.median(bare):.2f}"
        )

        for i, path in enumerate(photos):
            upload(path, f"q{i}", 5)
        t0 = time.perf_counter()
        for i in range(len(photos)):
            httpx.get(f"{base}/demo/image/upload/e_background_removal/q{i}.png")
        for i in range(len(photos)):
            until_ready(f"q{i}")
        took = time.perf_counter() - t0
        print(
            f"queue: {len(photos)} photos requested at once, all ready in {took:.1f} s → "
            f"{len(photos) / took * 60:.1f} images/min"
        )
        print(f"server peak RSS: {peak[0] / 1e6:.0f} MB")
    finally:
        stop.set()
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
