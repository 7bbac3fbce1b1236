"""On-the-fly background removal through the server vs raw onnxruntime, in the same run.

    .venv/bin/python bench/matte_jobs.py [--model isnet] [--limit 8] [--poll retry-after|SECONDS]
        [--matte-wait SECONDS] [--photos NAME…]

For each photo of `../shared/data/photos` (JPEGs; says so and exits 0 when absent):
  * raw: onnxruntime on the same model file, input prepared as the model expects (the floor),
    one warm session in this process, timed just before and just after the server's jobs for
    the photo (mean of the two);
  * server side: a real `alphacdn serve` on loopback; "first request → matte ready" is the
    server's `ready_at` (wall clock, from `X-Alphacdn-Matte-Timings`) plus the matte write's
    `store` seconds (from the job's result in the job store, read after the run) minus the
    client's `time.time()` just before its first delivery request (`e_background_removal/…png`,
    423). Client and server run on the same machine, so they share the clock; this figure does
    not depend on how the client polls. Also the same minus refinement (every step of the job
    besides queued, decode, inference, encode, store: upsample, fine_edges, decontaminate, …),
    and the job's per-stage seconds;
  * client side: the time from the first request to the 200 when the client follows the policy
    (`--poll`, default: sleep what `Retry-After` says), and, interleaved on a second copy of the
    same photo (re-encoded, so it is a new matte), a client polling every 1 s;
  * queue: all photos requested at once (fresh copies, so nothing is cached), time until all
    are ready → throughput of the job queue, images/min;
and the server's peak RSS (the kernel's VmHWM of the process group, read once at the end).
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import onnxruntime as ort
import pyvips

from alphacdn.cache import JobStore
from alphacdn.mattes import content_matte_key
from alphacdn.transform import BackgroundRemoval

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.ports import free_port  # noqa: E402

PHOTOS = ROOT.parent / "shared" / "data" / "photos"
MODELS = ROOT / "data" / "models"
KEY, SECRET = "123456789012345", "alphacdn-dev-secret"
#: the job's timing keys that are not refinement; every other step (upsample, fine_edges,
#: decontaminate, and any step models/refine.py adds) counts as refinement
NOT_REFINEMENT = {"queued", "decode", "inference", "encode", "encode_hinted", "store"}
WALL_CLOCK = {"submitted_at", "ready_at"}


@dataclass
class Run:
    """One matte requested through the server and followed until its 200."""

    t0_wall: float  # client time.time() just before the first request
    client: float  # seconds from the first request to the 200, client-observed
    polls: int  # requests answered 423
    last: float  # seconds of the request that got the 200 (render from the matte)
    etag: str
    timings: dict[str, float] = field(default_factory=dict)

    def server_ready(self) -> float:
        """First request → matte entry written, server clock (same machine)."""
        return self.timings["ready_at"] + self.timings.get("store", 0.0) - self.t0_wall

    def refine_steps(self) -> dict[str, float]:
        return {k: v for k, v in self.timings.items() if k not in NOT_REFINEMENT | WALL_CLOCK}

    def refinement(self) -> float:
        return sum(self.refine_steps().values())


def parse_timings(header: str) -> dict[str, float]:
    return {k: float(v) for k, v in (kv.split("=") for kv in header.split(";") if "=" in kv)}


class Raw:
    """onnxruntime on the model file, as the server configures it (2 threads, no arena)."""

    def __init__(self, model_file: Path, size: int) -> None:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 2
        opts.enable_cpu_mem_arena = False
        self.sess = ort.InferenceSession(str(model_file), opts, providers=["CPUExecutionProvider"])
        self.size = size
        self.name = self.sess.get_inputs()[0].name
        self.out = [self.sess.get_outputs()[0].name]
        self.warm = False

    def seconds(self, rgb: np.ndarray) -> float:
        """One timed inference (the first call warms the session up first)."""
        img = pyvips.Image.new_from_array(rgb).copy(interpretation="srgb")
        small = img.resize(self.size / img.width, vscale=self.size / img.height)
        x = (np.asarray(small.numpy(), np.float32) - 128.0) / 256.0
        x = np.ascontiguousarray(x.transpose(2, 0, 1)[None])
        if not self.warm:
            self.sess.run(self.out, {self.name: x})
            self.warm = True
        t0 = time.perf_counter()
        self.sess.run(self.out, {self.name: x})
        return time.perf_counter() - t0


def _group_members(pgid: int) -> list[Path]:
    members = []
    for p in Path("/proc").glob("[0-9]*"):
        try:
            if int((p / "stat").read_text().rsplit(")", 1)[1].split()[2]) == pgid:
                members.append(p)
        except (OSError, ValueError, IndexError):
            continue
    return members


def rss_of_group(pgid: int) -> int:
    """Resident bytes now, summed over the process group."""
    page = os.sysconf("SC_PAGE_SIZE")
    total = 0
    for p in _group_members(pgid):
        try:
            total += int((p / "stat").read_text().rsplit(")", 1)[1].split()[21]) * page
        except (OSError, ValueError, IndexError):
            continue
    return total


def peak_rss_of_group(pgid: int) -> int:
    """The kernel's peak-RSS mark (VmHWM), summed over the group's live processes: read once at
    the end, so no sampler competes with the inference it measures (walking /proc every 0.1 s
    cost ~4 % of a core)."""
    total = 0
    for p in _group_members(pgid):
        try:
            for line in (p / "status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1]) * 1024
        except (OSError, ValueError):
            continue
    return total


def start_server(data_dir: Path, model: str, **env: str) -> tuple[subprocess.Popen[bytes], str]:
    """A real `alphacdn serve` on a free loopback port in its own process group (stop it with
    `os.killpg`); returns once /health answers, with the process and its base URL."""
    port = free_port()
    settings = {
        "ALPHACDN_DATA_DIR": str(data_dir),
        "ALPHACDN_MODELS_DIR": str(MODELS),
        "ALPHACDN_MODEL": model,
        **env,
    }
    cmd = [sys.executable, "-m", "alphacdn.cli", "serve", "--port", str(port)]
    proc = subprocess.Popen(
        [*cmd, "--log-level", "warning"],
        env={**os.environ, **settings},
        cwd=ROOT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(base + "/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    return proc, base


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="isnet")
    ap.add_argument("--limit", type=int, default=8)
    ap.add_argument(
        "--poll",
        default="retry-after",
        help="while 423: 'retry-after' (sleep what the server says) or fixed seconds",
    )
    ap.add_argument(
        "--matte-wait",
        type=float,
        default=0.0,
        help="the server's ALPHACDN_MATTE_WAIT: requests are held until the matte is ready",
    )
    ap.add_argument("--photos", nargs="*", help="photo names (default: the first --limit JPEGs)")
    args = ap.parse_args()
    if not PHOTOS.is_dir():
        print(f"{PHOTOS} is absent: this benchmark needs ../shared/data/photos")
        return 0
    import cloudinary
    import cloudinary.uploader

    photos = sorted(p for p in PHOTOS.glob("*.jpg") if not p.name.startswith("truncated"))
    photos = [PHOTOS / n for n in args.photos] if args.photos else photos[: args.limit]
    size = 1024 if args.model == "isnet" else 768 if args.model == "isnet-768" else 320
    model_file = MODELS / ("isnet.onnx" if args.model.startswith("isnet") else "u2netp.onnx")

    data_dir = Path(tempfile.mkdtemp(prefix="bench-mattes-"))
    proc, base = start_server(
        data_dir,
        args.model,
        ALPHACDN_QUEUE_MAX="1000",
        ALPHACDN_MATTE_WAIT=str(args.matte_wait),
    )
    try:
        cloudinary.config(cloud_name="demo", api_key=KEY, api_secret=SECRET, upload_prefix=base)
        # one keep-alive client, as a browser polls: a bare httpx.get() builds a client (and an
        # SSL context) per call, ~50 ms of CPU on this machine, which slows the server's
        # inference on 2 cores (measured: 3.7 s instead of 2.7 s at 5 polls/s)
        client = httpx.Client(timeout=120)

        def upload(path: Path, pid: str, variant: int) -> str:
            # variant > 0 re-encodes, so the content (and the matte key) differs
            data = path.read_bytes()
            if variant:
                data = pyvips.Image.new_from_buffer(data, "").jpegsave_buffer(Q=90 - variant)
            return str(cloudinary.uploader.upload(io.BytesIO(data), public_id=pid)["etag"])

        def wait(resp: httpx.Response, policy: str) -> None:
            if policy == "retry-after":
                time.sleep(float(resp.headers.get("retry-after", "1")))
            else:
                time.sleep(float(policy))

        def until_ready(pid: str, etag: str, policy: str) -> Run:
            url = f"{base}/demo/image/upload/e_background_removal/{pid}.png"
            polls = 0
            t0_wall, t0 = time.time(), time.perf_counter()
            while True:
                t1 = time.perf_counter()
                resp = client.get(url)
                if resp.status_code != 423:
                    break
                polls += 1
                wait(resp, policy)
            now = time.perf_counter()
            assert resp.status_code == 200, resp.text
            header = resp.headers.get("x-alphacdn-matte-timings", "")
            return Run(t0_wall, now - t0, polls, now - t1, etag, parse_timings(header))

        # warm the session once (not timed)
        until_ready("warm", upload(photos[0], "warm", 3), args.poll)
        print(f"model {args.model}, {len(photos)} photos, load {os.getloadavg()[0]:.1f}\n")
        rows = []
        raw_ort = Raw(model_file, size)
        for i, path in enumerate(photos):
            rgb = np.asarray(pyvips.Image.new_from_file(str(path)).autorot()[0:3].numpy())
            raw_before = raw_ort.seconds(rgb)
            # interleaved: the client policy under test and 1 s polling, order alternating
            order = [("policy", args.poll), ("1s", "1.0")]
            runs: dict[str, Run] = {}
            for j, (label, policy) in enumerate(order if i % 2 == 0 else order[::-1]):
                pid = f"one{i}-{j}"
                runs[label] = until_ready(pid, upload(path, pid, j), policy)
            # the load of a shared machine drifts: the floor is the mean of raw runs just
            # before and just after the server's two jobs
            raw = (raw_before + raw_ort.seconds(rgb)) / 2
            rows.append((path, rgb.shape[0] * rgb.shape[1] / 1e6, raw, runs))
        del raw_ort

        # the matte write's own seconds are in the job result (the header is part of the entry)
        store = JobStore(data_dir / "state" / "jobs")
        try:
            for _, _, _, runs in rows:
                for run in runs.values():
                    record = store.get(content_matte_key(run.etag, args.model, BackgroundRemoval()))
                    if record is not None and record.result:
                        run.timings["store"] = float(record.result["timings"].get("store", 0))
        finally:
            store.close()

        print(
            f"Server side, client policy {args.poll!r}: first request → matte ready "
            "(server ready_at + store − client time of the first request)\n"
        )
        print(
            "| photo | MP | raw ort s | first request → ready s | ratio | refinement s |"
            " ratio without refinement |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|")
        ratios: list[float] = []
        bare: list[float] = []
        for path, mp, raw, runs in rows:
            r = runs["policy"]
            ready, refine = r.server_ready(), r.refinement()
            ratios.append(ready / raw)
            bare.append((ready - refine) / raw)
            print(
                f"| {path.name} | {mp:.1f} | {raw:.2f} | {ready:.2f} | {ready / raw:.2f} "
                f"| {refine:.2f} | {(ready - refine) / raw:.2f} |"
            )
        print(
            f"\nmedian ratio ready/raw: {statistics.median(ratios):.2f}; without refinement "
            f"{statistics.median(bare):.2f}\n"
        )

        print("Per stage (seconds, from the job's timings; other = the rest of ready)\n")
        refine_keys = sorted({k for *_, runs in rows for k in runs["policy"].refine_steps()})
        stages = ["queued", "decode", "inference", *refine_keys, "encode", "store"]
        print("| photo | " + " | ".join(stages) + " | other | ready |")
        print("|---|" + "---:|" * (len(stages) + 2))
        for path, _, _, runs in rows:
            r = runs["policy"]
            cells = [r.timings.get(k, 0.0) for k in stages]
            other = r.server_ready() - sum(cells)
            print(
                f"| {path.name} | "
                + " | ".join(f"{c:.3f}" for c in cells)
                + f" | {other:.3f} | {r.server_ready():.2f} |"
            )

        print("\nClient side (first request → 200 as the client sees it), interleaved\n")
        print(
            f"| photo | raw ort s | {args.poll}: client s | polls | ratio | last request s |"
            " 1 s polling: client s | polls | ratio | server ready s (1 s polling) |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        client_ratios: list[float] = []
        poll_ratios: list[float] = []
        for path, _, raw, runs in rows:
            a, b = runs["policy"], runs["1s"]
            client_ratios.append(a.client / raw)
            poll_ratios.append(b.client / raw)
            print(
                f"| {path.name} | {raw:.2f} | {a.client:.2f} | {a.polls} | {a.client / raw:.2f} "
                f"| {a.last:.2f} | {b.client:.2f} | {b.polls} | {b.client / raw:.2f} "
                f"| {b.server_ready():.2f} |"
            )
        print(
            f"\nmedian client ratio ({args.poll}): {statistics.median(client_ratios):.2f}; "
            f"1 s polling: {statistics.median(poll_ratios):.2f}"
        )

        etags = [upload(path, f"q{i}", 5) for i, path in enumerate(photos)]
        t0 = time.perf_counter()
        for i in range(len(photos)):
            client.get(f"{base}/demo/image/upload/e_background_removal/q{i}.png")
        for i in range(len(photos)):
            until_ready(f"q{i}", etags[i], args.poll)
        took = time.perf_counter() - t0
        print(
            f"queue: {len(photos)} photos requested at once, all ready in {took:.1f} s → "
            f"{len(photos) / took * 60:.1f} images/min"
        )
        print(f"server peak RSS (VmHWM): {peak_rss_of_group(proc.pid) / 1e6:.0f} MB")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
