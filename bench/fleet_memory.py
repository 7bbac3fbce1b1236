"""Benchmark: resident memory per role: a web replica (never loads a model) and a worker.

Starts a throwaway redis-server (`scripts/services/redis.sh`), one `alphacdn serve --role web`
and one `alphacdn worker` on loopback; they share the data dir's originals and derived cache
(`file://` store) and Redis, as two roles on one host may. It uploads one photo, asks the web
replica for its cut-out until it is ready (the worker runs the model), renders a few
transformations on the web replica, and then reads each process's RSS and peak RSS
(`VmRSS`, `VmHWM` from /proc).

    .venv/bin/python bench/fleet_memory.py [--model isnet] [--models-dir data/models]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cloudinary
import cloudinary.uploader
import httpx

from alphacdn.settings import DEV_API_KEY, DEV_API_SECRET

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.ports import free_port  # noqa: E402

REDIS_SH = ROOT / "scripts" / "services" / "redis.sh"
PHOTO = ROOT / "tests" / "fixtures" / "e2e" / "cat-street.jpg"


def _mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of `pid` in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


def _start(args: list[str], env: dict[str, str], log: Path, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "alphacdn.cli", *args, "--log-level", "warning"],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{args[0]} did not start:\n{log.read_text()}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="isnet")
    p.add_argument("--models-dir", default=str(ROOT / "data" / "models"))
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="fleet-memory-"))
    redis_port = free_port()
    subprocess.run(
        ["bash", str(REDIS_SH), "start", str(tmp / "redis"), str(redis_port)], check=True
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ALPHACDN_")}
    env = {
        **clean,
        "ALPHACDN_DATA_DIR": str(tmp / "data"),
        "ALPHACDN_MODELS_DIR": args.models_dir,
        "ALPHACDN_MODEL": args.model,
        "ALPHACDN_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
    }
    web_port, worker_port = free_port(), free_port()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        web = _start(
            ["serve", "--role", "web", "--port", str(web_port)],
            env,
            tmp / "web.log",
            web_port,
        )
        procs.append(web)
        worker = _start(
            ["worker", "--metrics-port", str(worker_port)], env, tmp / "worker.log", worker_port
        )
        procs.append(worker)
        idle = {"web": _mb(web.pid), "worker": _mb(worker.pid)}
        base = f"http://127.0.0.1:{web_port}"
        cloudinary.config(
            cloud_name="demo",
            api_key=DEV_API_KEY,
            api_secret=DEV_API_SECRET,
            upload_prefix=base,
        )
        cloudinary.uploader.upload(str(PHOTO), public_id="cat")
        t0 = time.monotonic()
        while True:
            resp = httpx.get(f"{base}/demo/image/upload/e_background_removal/cat.png", timeout=60)
            if resp.status_code != 423 or time.monotonic() - t0 > 600:
                break
            time.sleep(0.5)
        matte_s = time.monotonic() - t0
        for w in (200, 400, 800):
            httpx.get(f"{base}/demo/image/upload/e_background_removal,w_{w}/cat.png", timeout=60)
            httpx.get(f"{base}/demo/image/upload/c_fill,w_{w},h_{w}/cat.jpg", timeout=60)
        busy = {"web": _mb(web.pid), "worker": _mb(worker.pid)}
        print(f"model {args.model}: cut-out {resp.status_code} after {matte_s:.1f} s")
        print(f"{'role':<8} {'RSS idle':>10} {'RSS after':>10} {'peak':>10}")
        for role in ("web", "worker"):
            print(
                f"{role:<8} {idle[role][0]:>8.0f}MB {busy[role][0]:>8.0f}MB {busy[role][1]:>8.0f}MB"
            )
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        subprocess.run(["bash", str(REDIS_SH), "stop", str(tmp / "redis")], check=False)


if __name__ == "__main__":
    main()
