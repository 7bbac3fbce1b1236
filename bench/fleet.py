"""Scale-out ratios on loopback, measured in one run (issue 13): what the S3 store costs a cold
render, and what a second worker / a second web replica buys on this machine.

    .venv/bin/python bench/fleet.py [--renders 12] [--mattes 8] [--model u2netp|isnet]
                                    [--burst 24] [--concurrency 4] [--parts store,matte,web]

Started here, each on a free loopback port: a redis-server (`scripts/services/redis.sh`), a
radosgw (`scripts/services/radosgw.sh`), `alphacdn serve` processes and `alphacdn worker`s
(tests/e2e/server.py: one uvicorn worker each, a data dir of its own).

  store  cold renders, one at a time, the same photos and transformations on two servers:
         `local` (the embedded default: diskcache in its data dir) and `s3` (a `--role web`
         replica on the S3 store + Redis, the fleet's setting). Every URL is new to both
         (a width of its own), the two interleaved URL by URL. Median latency (client side)
         and server CPU per render (utime+stime of the server's process group, /proc), and
         for `s3` also radosgw's and redis-server's CPU.
  matte  N background removals submitted at once through one web replica (distinct images: a
         crop of its own of a photo, so no matte is shared), then polled until every one is
         200: images/min with 1 worker, then with 2 (each `ALPHACDN_JOB_CONCURRENCY=1`,
         `ALPHACDN_ORT_THREADS=1`, the model loaded before the clock starts).
  web    a burst of distinct cold renders (`--burst` URLs, `--concurrency` clients) spread
         round-robin over 1, then 2 web replicas (S3 store + Redis): renders/s.

Each figure is printed with the load average at its end (the machine is shared); one JSON line
per figure is appended to <work>/results.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import cloudinary
import cloudinary.uploader
import httpx
import pyvips

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from procstat import group_cpu_s, loadavg, machine_busy_s  # noqa: E402

from tests.conftest import MODELS_DIR  # noqa: E402
from tests.e2e.conftest import configure_sdk_at  # noqa: E402
from tests.e2e.server import Server, metric_sum  # noqa: E402
from tests.ports import free_port  # noqa: E402

SERVICES = ROOT / "scripts" / "services"
PHOTOS = ROOT.parent / "shared" / "data" / "photos"
FIXTURES = ROOT / "tests" / "fixtures" / "e2e"
#: plain sRGB JPEG photos 0.3–2 MP (large-13mp and the colour-managed ones have benches of
#: their own)
NAMES = (
    "car-house.jpg",
    "cat-street.jpg",
    "dog-bike.jpg",
    "beach-kites.jpg",
    "street-bus.jpg",
    "product-boots.jpg",
    "alpaca-fur.jpg",
    "lion-mane.jpg",
    "portrait-longhair.jpg",
    "dog-golden-snow.jpg",
)
POLL_SECONDS = 300


def log(*a: object) -> None:
    print(*a, flush=True)


def cpu_of(pgids: list[int]) -> float:
    return sum(map(group_cpu_s, pgids))


def photos() -> list[pathlib.Path]:
    found = [PHOTOS / n for n in NAMES if (PHOTOS / n).exists()]
    return found or sorted(FIXTURES.glob("*.jpg"))


def sdk(server: Server) -> None:
    configure_sdk_at(server.url)


def upload(server: Server, path: pathlib.Path, public_id: str) -> None:
    sdk(server)
    cloudinary.uploader.upload(str(path), public_id=public_id, overwrite=True)


def start_service(script: str, state: pathlib.Path, env: dict[str, str]) -> dict[str, str]:
    """redis.sh / radosgw.sh start; the settings it wrote (<state>/*.env)."""
    subprocess.run(
        ["bash", str(SERVICES / script), "start", str(state), str(free_port())],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **env},
    )
    out: dict[str, str] = {}
    for f in state.glob("*.env"):
        for line in f.read_text().splitlines():
            k, _, v = line.removeprefix("export ").partition("=")
            if v:
                out[k] = v
    return out


def stop_service(script: str, state: pathlib.Path) -> None:
    cmd = ["bash", str(SERVICES / script), "stop", str(state)]
    subprocess.run(cmd, capture_output=True, timeout=120, check=False)


def record(work: pathlib.Path, figure: dict[str, object]) -> None:
    figure = {**figure, "load": loadavg(), "at": time.strftime("%H:%M:%S", time.gmtime())}
    with (work / "results.jsonl").open("a") as out:
        out.write(json.dumps(figure) + "\n")
    log(json.dumps(figure))


def get(url: str) -> httpx.Response:
    resp = httpx.get(url, timeout=120)
    if resp.status_code != 200:
        raise RuntimeError(f"{url}: {resp.status_code} {resp.text[:300]}")
    return resp


def bench_store(
    work: pathlib.Path,
    local: Server,
    s3: Server,
    backends: list[int],
    ids: list[str],
    n: int,
    width0: int,
) -> None:
    lat: dict[str, list[float]] = {"local": [], "s3": []}
    cpu: dict[str, float] = {"local": 0.0, "s3": 0.0, "backends": 0.0}
    for i in range(n):
        pid = ids[i % len(ids)]
        path = f"/demo/image/upload/c_fill,w_{width0 + i},h_300/q_auto/{pid}.jpg"
        order = (("local", local), ("s3", s3)) if i % 2 == 0 else (("s3", s3), ("local", local))
        for name, srv in order:
            assert srv.proc is not None
            c0, b0 = group_cpu_s(srv.proc.pid), cpu_of(backends)
            t0 = time.perf_counter()
            resp = get(srv.url + path)
            lat[name].append(time.perf_counter() - t0)
            cpu[name] += group_cpu_s(srv.proc.pid) - c0
            if name == "s3":
                cpu["backends"] += cpu_of(backends) - b0
            assert resp.headers.get("x-alphacdn-cache", "MISS") != "HIT", resp.headers
    med = {k: statistics.median(v) * 1e3 for k, v in lat.items()}
    record(
        work,
        {
            "figure": "cold render, S3 store vs local",
            "renders": n,
            "local_p50_ms": round(med["local"], 1),
            "s3_p50_ms": round(med["s3"], 1),
            "latency_ratio": round(med["s3"] / med["local"], 2),
            "local_cpu_ms": round(cpu["local"] * 1e3 / n, 1),
            "s3_replica_cpu_ms": round(cpu["s3"] * 1e3 / n, 1),
            "s3_backends_cpu_ms": round(cpu["backends"] * 1e3 / n, 1),
            "s3_replica_extra_cpu_ms": round((cpu["s3"] - cpu["local"]) * 1e3 / n, 1),
            "cpu_ratio_replica": round(cpu["s3"] / max(cpu["local"], 1e-9), 2),
            "cpu_ratio_with_backends": round(
                (cpu["s3"] + cpu["backends"]) / max(cpu["local"], 1e-9), 2
            ),
        },
    )


def distinct_images(work: pathlib.Path, tag: str, salt: int, n: int) -> list[pathlib.Path]:
    """n JPEGs, each a crop of its own (so none shares a matte with another of them, nor with
    those made with another `salt` < 30): ~0.4 MP each."""
    out = []
    srcs = photos()
    for i in range(n):
        img = pyvips.Image.thumbnail(str(srcs[i % len(srcs)]), 800)
        dx = 1 + salt * 3 + i // len(srcs) * 97
        img = img.crop(dx, 0, img.width - dx - 10, img.height)
        path = work / f"matte-{tag}-{i}.jpg"
        img.jpegsave(str(path), Q=90)
        out.append(path)
    return out


def wait_all(urls: list[str]) -> float:
    """GET every URL at once (the submissions), then poll each until 200: the seconds taken."""
    start = threading.Barrier(len(urls))
    t0 = [0.0]

    def one(url: str) -> float:
        with httpx.Client(timeout=60) as c:
            c.get(url.split("/demo/", 1)[0] + "/health")
            if start.wait(timeout=60) == 0:
                t0[0] = time.perf_counter()
            deadline = time.monotonic() + POLL_SECONDS
            while time.monotonic() < deadline:
                r = c.get(url)
                if r.status_code == 200:
                    return time.perf_counter()
                if r.status_code not in (423, 503) or "failed" in r.text:
                    raise RuntimeError(f"{url}: {r.status_code} {r.text[:300]}")
                time.sleep(0.2)
            raise RuntimeError(f"{url}: not ready in {POLL_SECONDS}s")

    with ThreadPoolExecutor(len(urls)) as pool:
        ends = list(pool.map(one, urls))
    return max(ends) - t0[0]


def matte_jobs(srv: Server) -> int:
    """Matte jobs a worker finished (`alphacdn_jobs_total{kind="matte"}`, since it started)."""
    text = httpx.get(srv.url + "/metrics", timeout=10).text
    return int(metric_sum(text, "alphacdn_jobs_total", kind="matte"))


def settle(srv: Server, timeout: float = 120.0) -> None:
    """Until the process group stops spending CPU (the model's warm-up done): < 30 ms a second."""
    assert srv.proc is not None
    deadline = time.monotonic() + timeout
    last = group_cpu_s(srv.proc.pid)
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = group_cpu_s(srv.proc.pid)
        if now - last < 0.03:
            return
        last = now
    raise RuntimeError(f"{srv.url} still busy after {timeout}s")


def bench_matte(
    work: pathlib.Path,
    web: Server,
    make_worker: Callable[[str], Server],
    n: int,
    model: str,
) -> None:
    rates: dict[int, float] = {}
    workers: list[Server] = []
    try:
        for count in (1, 2):
            while len(workers) < count:
                workers.append(make_worker(f"worker{len(workers) + 1}").start(timeout=300))
            tag = f"{count}w-{uuid.uuid4().hex[:6]}"
            urls = []
            for w in workers:
                settle(w)
            for i, path in enumerate(distinct_images(work, tag, count, n)):
                upload(web, path, f"m-{tag}-{i}")
                urls.append(f"{web.url}/demo/image/upload/e_background_removal/m-{tag}-{i}.png")
            jobs0 = [matte_jobs(w) for w in workers]
            busy0 = machine_busy_s()
            ours0 = cpu_of([w.proc.pid for w in workers if w.proc is not None])
            seconds = wait_all(urls)
            busy = machine_busy_s() - busy0
            ours = cpu_of([w.proc.pid for w in workers if w.proc is not None]) - ours0
            per_worker = [matte_jobs(w) - j for w, j in zip(workers, jobs0, strict=True)]
            rates[count] = n * 60 / seconds
            record(
                work,
                {
                    "figure": f"matte throughput, {count} worker(s)",
                    "model": model,
                    "images": n,
                    "seconds": round(seconds, 1),
                    "images_per_min": round(rates[count], 1),
                    "workers_cores": round(ours / seconds, 2),
                    "jobs_per_worker": per_worker,
                    "machine_busy_cores": round(busy / seconds, 2),
                },
            )
    finally:
        for w in workers:
            w.stop()
    record(
        work, {"figure": "matte throughput 2 workers / 1", "ratio": round(rates[2] / rates[1], 2)}
    )


def bench_web(
    work: pathlib.Path,
    webs: list[Server],
    ids: list[str],
    burst: int,
    conc: int,
    width0: int,
    reps: int,
    backends: list[int],
) -> None:
    """`fleet_cores`: CPU-seconds per second of the replicas + radosgw + Redis."""
    pgids = [w.proc.pid for w in webs if w.proc is not None] + backends
    rates: dict[int, list[float]] = {1: [], 2: []}
    for rep in range(reps):
        for count in (1, 2) if rep % 2 == 0 else (2, 1):
            base = width0 // 2 + (rep * 2 + count) * burst  # h_200: none is a store URL
            urls = [
                webs[i % count].url
                + f"/demo/image/upload/c_fill,w_{base + i},h_200/q_auto/{ids[i % len(ids)]}.jpg"
                for i in range(burst)
            ]
            ours0, busy0 = cpu_of(pgids), machine_busy_s()
            t0 = time.perf_counter()
            with ThreadPoolExecutor(conc) as pool:
                for resp in pool.map(get, urls):
                    assert resp.headers.get("x-alphacdn-cache", "MISS") != "HIT", resp.headers
            seconds = time.perf_counter() - t0
            ours, busy = cpu_of(pgids) - ours0, machine_busy_s() - busy0
            rates[count].append(burst / seconds)
            record(
                work,
                {
                    "figure": f"cold-render throughput, {count} web replica(s)",
                    "rep": rep + 1,
                    "renders": burst,
                    "concurrency": conc,
                    "seconds": round(seconds, 2),
                    "renders_per_s": round(burst / seconds, 2),
                    "fleet_cores": round(ours / seconds, 2),
                    "machine_busy_cores": round(busy / seconds, 2),
                },
            )
    med = {k: statistics.median(v) for k, v in rates.items()}
    record(
        work,
        {
            "figure": "cold renders 2 replicas / 1 (medians)",
            "reps": reps,
            "renders_per_s_1": round(med[1], 2),
            "renders_per_s_2": round(med[2], 2),
            "ratio": round(med[2] / med[1], 2),
        },
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--renders", type=int, default=12, help="store: cold renders per store")
    ap.add_argument("--mattes", type=int, default=8, help="matte: removals per run")
    ap.add_argument("--model", default="u2netp", help="matte: u2netp (default) or isnet")
    ap.add_argument("--burst", type=int, default=24, help="web: cold renders per run")
    ap.add_argument("--concurrency", type=int, default=4, help="web: clients at once")
    ap.add_argument("--reps", type=int, default=3, help="web: bursts per replica count")
    ap.add_argument("--parts", default="store,matte,web")
    ap.add_argument("--work", default="/tmp/bench-fleet")
    ap.add_argument(
        "--models-dir",
        default=os.environ.get("ALPHACDN_MODELS_DIR", str(MODELS_DIR)),
        help="where the model weights are (`alphacdn fetch-models`)",
    )
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    work = pathlib.Path(args.work)
    subprocess.run(["rm", "-rf", str(work / "run")], check=True)
    run = work / "run"
    run.mkdir(parents=True)
    # widths new to every store, run after run
    width0 = 400
    log(f"bench/fleet.py: parts {sorted(parts)}, load average {loadavg()}")
    redis_state, s3_state = run / "redis", run / "rgw"
    servers: list[Server] = []
    try:
        renv = start_service("redis.sh", redis_state, {})
        s3env = start_service("radosgw.sh", s3_state, {})
        fleet_env = {
            "ALPHACDN_STORE_URL": f"s3://bench-fleet-{uuid.uuid4().hex[:10]}/site",
            "ALPHACDN_S3_ENDPOINT_URL": s3env["AWS_ENDPOINT_URL"],
            "AWS_ACCESS_KEY_ID": s3env["AWS_ACCESS_KEY_ID"],
            "AWS_SECRET_ACCESS_KEY": s3env["AWS_SECRET_ACCESS_KEY"],
            "AWS_DEFAULT_REGION": s3env["AWS_DEFAULT_REGION"],
            "ALPHACDN_REDIS_URL": renv["ALPHACDN_REDIS_URL"],
            "ALPHACDN_JOB_POLL_SECONDS": "0.1",
            "ALPHACDN_MODEL": args.model,
            "ALPHACDN_MODELS_DIR": args.models_dir,
        }
        backends = [int((redis_state / "redis.pid").read_text())]
        backends += [int(p.read_text()) for p in (s3_state / "run").glob("*.pid")]
        webs = [Server(run / f"web{i}", env={**fleet_env, "ALPHACDN_ROLE": "web"}) for i in (1, 2)]
        for w in webs:
            servers.append(w.start(timeout=120))
        ids = []
        for i, p in enumerate(photos()):
            upload(webs[0], p, f"p{i}")
            ids.append(f"p{i}")
        log(f"fleet up: redis, radosgw, 2 web replicas; {len(ids)} photos; load {loadavg()}")
        if "store" in parts:
            local = Server(run / "local")
            servers.append(local.start(timeout=120))
            for i, p in enumerate(photos()):
                upload(local, p, f"p{i}")
            get(local.url + f"/demo/image/upload/w_50/{ids[0]}.jpg")  # both warm (imports)
            get(webs[0].url + f"/demo/image/upload/w_50/{ids[0]}.jpg")
            bench_store(work, local, webs[0], backends, ids, args.renders, width0)
            local.stop()
        if "web" in parts:
            get(webs[1].url + f"/demo/image/upload/w_51/{ids[0]}.jpg")
            bench_web(work, webs, ids, args.burst, args.concurrency, width0, args.reps, backends)
        if "matte" in parts:
            worker_env = {
                **fleet_env,
                "ALPHACDN_JOB_CONCURRENCY": "1",
                "ALPHACDN_ORT_THREADS": "1",
                "ALPHACDN_WARM_UP": "1",
            }

            def make_worker(name: str) -> Server:
                return Server(run / name, env=worker_env, worker=True)

            bench_matte(work, webs[0], make_worker, args.mattes, args.model)
    finally:
        for srv in servers:
            srv.stop()
        stop_service("radosgw.sh", s3_state)
        stop_service("redis.sh", redis_state)
    log(f"done, load average {loadavg()}")


if __name__ == "__main__":
    main()
