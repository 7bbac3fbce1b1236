"""The cache in front (deploy/nginx/alphacdn.conf): what a hit and a miss cost behind nginx.

    .venv/bin/python bench/edge.py [--reps 3] [--seconds 4]
    .venv/bin/python bench/edge.py --cluster build/cluster     # against `scripts/cluster.sh up`

Embedded (default): two `alphacdn serve` sharing one data dir (diskcache) behind nginx, all
started here (`scripts/services/nginx.sh`, NGINX_DEBUG_HEADERS off). `--cluster DIR`: the
fleet `scripts/cluster.sh up` started (S3 store on radosgw, Redis, web replicas), measured in
place. Both: nginx gets one extra server (`<nginx dir>/extra.d/bench-static.conf`, the same
nginx workers) serving the bytes of the f_auto answer as a static file.

Load is `wrk` (one thread, `--conns` connections, `--seconds` per run), loopback only, the
cases interleaved rep by rep. Server CPU per request is utime+stime of nginx's process group
(master + workers) and of each replica's, from /proc, over the run.

  hit        f_auto URL, `Accept: image/avif,…`: an nginx cache hit (the Accept map runs)
  hit_plain  a URL without f_auto (`.webp`): an nginx cache hit, no Accept class in the key
  static     the same AVIF bytes as a static file from the same nginx
  miss       the f_auto URL with a version segment new to nginx each request (`/v<N>/`: the
             app ignores the version's value, so it is one derived entry): an nginx miss that
             is a store hit at a replica, plus nginx's cache write
  direct     the same `/v<N>/` URLs straight to one replica (no nginx): the store hit alone

Results: one JSON line per run appended to <work>/results.jsonl, a summary printed.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import signal
import statistics
import subprocess
import sys
import time

import cloudinary
import cloudinary.uploader
import httpx

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from procstat import group_cpu_s, group_rss_mb, loadavg, machine_busy_s  # noqa: E402

from tests.e2e.conftest import configure_sdk_at  # noqa: E402
from tests.e2e.server import Server  # noqa: E402
from tests.ports import free_port  # noqa: E402

NGINX = ROOT / "scripts" / "services" / "nginx.sh"
PHOTO = ROOT.parent / "shared" / "data" / "photos" / "car-house.jpg"
FIXTURE = ROOT / "tests" / "fixtures" / "e2e" / "car-house.jpg"
ACCEPT = "image/avif,image/webp,image/apng,image/*,*/*;q=0.8"  # Chrome's, for images
AUTO = "/demo/image/upload/c_fill,w_400,h_300/f_auto,q_auto/bench-car"
PLAIN = "/demo/image/upload/c_fill,w_400,h_300/bench-car.webp"
VERSIONED = "/demo/image/upload/c_fill,w_400,h_300/f_auto,q_auto/v%d/bench-car"

WRK_FIXED = """
wrk.headers["Accept"] = "%s"
request = function() return wrk.format("GET", "%s") end
"""
WRK_COUNTER = """
wrk.headers["Accept"] = "%s"
local n = %d
request = function()
  n = n + 1
  return wrk.format("GET", string.format("%s", n))
end
"""


def log(*a: object) -> None:
    print(*a, flush=True)


def wrk(
    work: pathlib.Path, base: str, lua: str, seconds: int, conns: int, groups: dict[str, list[int]]
) -> dict[str, object]:
    script = work / "run.lua"
    script.write_text(lua)
    cpu0 = {k: sum(map(group_cpu_s, g)) for k, g in groups.items()}
    busy0 = machine_busy_s()
    out = subprocess.run(
        ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency", "--timeout", "10s",
         "-s", str(script), base],
        capture_output=True, text=True, check=True, timeout=seconds + 60,
    ).stdout  # fmt: skip
    busy = machine_busy_s() - busy0
    cpu = {k: sum(map(group_cpu_s, g)) - cpu0[k] for k, g in groups.items()}

    def ms(v: str) -> float:
        m = re.match(r"([\d.]+)(us|ms|s)", v)
        assert m, v
        return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]

    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    n = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    result: dict[str, object] = {
        "requests": n,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": ms(lat["50"]),
        "p99_ms": ms(lat["99"]),
        "non2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(1) if errors else None,
        "machine_busy_cores": round(busy / seconds, 2),
    }
    for k, v in cpu.items():
        result[f"{k}_cpu_ms_per_req"] = round(v * 1e3 / max(n, 1), 4)
    return result


def nginx_pgid(state: pathlib.Path) -> int:
    return int((state / "nginx.pid").read_text())


def add_static(state: pathlib.Path, work: pathlib.Path, body: bytes) -> int:
    """A static server in nginx's own workers, serving `body` as /car.avif; its port."""
    root = work / "static"
    root.mkdir(parents=True, exist_ok=True)
    (root / "car.avif").write_bytes(body)
    port = free_port()
    (state / "extra.d").mkdir(exist_ok=True)
    (state / "extra.d" / "bench-static.conf").write_text(
        f"server {{ listen 127.0.0.1:{port}; root {root}; etag on;\n"
        f"  types {{ image/avif avif; }} }}\n"
    )
    return port


def reload_nginx(state: pathlib.Path, port: int) -> None:
    os.kill(nginx_pgid(state), signal.SIGHUP)
    for _ in range(100):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/car.avif", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the static server did not come up after the reload")


def upload(edge: str) -> None:
    configure_sdk_at(edge)
    photo = PHOTO if PHOTO.exists() else FIXTURE
    cloudinary.uploader.upload(str(photo), public_id="bench-car", overwrite=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=4)
    ap.add_argument("--conns", type=int, default=16)
    ap.add_argument("--work", default="/tmp/bench-edge")
    ap.add_argument("--cluster", help="the CLUSTER_DIR of a running `scripts/cluster.sh up`")
    ap.add_argument("--cluster-port", type=int, default=8080, help="its CLUSTER_PORT")
    args = ap.parse_args()
    if subprocess.run(["sh", "-c", "command -v wrk"], capture_output=True).returncode != 0:
        sys.exit("bench/edge.py needs wrk: sudo apt-get install wrk")
    work = pathlib.Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    replicas: list[Server] = []
    started_nginx = False
    if args.cluster:
        cluster = pathlib.Path(args.cluster)
        state = cluster / "nginx"
        edge_port = args.cluster_port
        groups = {"nginx": [nginx_pgid(state)]}
        for name in ("web1", "web2"):
            groups[name] = [int((cluster / "run" / f"{name}.pid").read_text())]
        # the daemons lead process groups of their own
        groups["s3"] = [int(p.read_text()) for p in (cluster / "s3" / "run").glob("*.pid")]
        groups["redis"] = [int((cluster / "redis" / "redis.pid").read_text())]
        direct_port = args.cluster_port + 1
        mode = "cluster (S3 store on radosgw, Redis, --role web)"
    else:
        data = work / "data"
        subprocess.run(["rm", "-rf", str(data)], check=True)
        replicas = [Server(data, port=free_port()) for _ in range(2)]
        for r in replicas:
            r.start(timeout=60)
        state = work / "nginx"
        edge_port = free_port()
        subprocess.run(
            ["bash", str(NGINX), "start", str(state), str(edge_port),
             *(f"127.0.0.1:{r.port}" for r in replicas)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        started_nginx = True
        groups = {"nginx": [nginx_pgid(state)]}
        for i, r in enumerate(replicas):
            assert r.proc is not None
            groups[f"web{i + 1}"] = [r.proc.pid]
        direct_port = replicas[0].port
        mode = "embedded (two `alphacdn serve` sharing one data dir, diskcache)"
    edge = f"http://127.0.0.1:{edge_port}"
    try:
        upload(edge)
        first = httpx.get(edge + AUTO, headers={"Accept": ACCEPT}, timeout=60)
        assert first.status_code == 200 and first.headers["content-type"] == "image/avif"
        hit = httpx.get(edge + AUTO, headers={"Accept": ACCEPT}, timeout=60)
        assert hit.headers["x-edge-cache"] == "HIT", hit.headers
        assert httpx.get(edge + PLAIN, timeout=60).status_code == 200
        static_port = add_static(state, work, hit.content)
        reload_nginx(state, static_port)
        static = f"http://127.0.0.1:{static_port}"
        # /v<N>/: a new nginx key each, the same derived entry at the replica
        # (versions new to this nginx: a number from the clock, a million apart per run)
        counter = (int(time.time()) % 100_000) * 10_000_000
        # (the first renders, should the unversioned answers above be an earlier run's)
        assert httpx.get(edge + VERSIONED % counter, headers={"Accept": ACCEPT}).status_code == 200
        probe = httpx.get(edge + VERSIONED % (counter + 1), headers={"Accept": ACCEPT}, timeout=60)
        assert (probe.headers["x-edge-cache"], probe.headers["x-alphacdn-cache"]) == (
            "MISS",
            "HIT",
        ), probe.headers
        log(f"mode: {mode}; {len(hit.content)} B AVIF; load average {loadavg()}")
        cases = {
            "hit": (edge, WRK_FIXED % (ACCEPT, AUTO)),
            "hit_plain": (edge, WRK_FIXED % (ACCEPT, PLAIN)),
            "static": (static, WRK_FIXED % (ACCEPT, "/car.avif")),
        }
        runs: dict[str, list[dict[str, object]]] = {k: [] for k in [*cases, "miss", "direct"]}
        for rep in range(args.reps):
            for name, (base, lua) in cases.items():
                runs[name].append(wrk(work, base, lua, args.seconds, args.conns, groups))
            for name, base in (("miss", edge), ("direct", f"http://127.0.0.1:{direct_port}")):
                counter += 1_000_000
                lua = WRK_COUNTER % (ACCEPT, counter, VERSIONED)
                runs[name].append(wrk(work, base, lua, args.seconds, args.conns, groups))
            log(f"rep {rep + 1}/{args.reps} done, load average {loadavg()}")
        rss = {k: round(sum(map(group_rss_mb, g)), 1) for k, g in groups.items()}
        summary: dict[str, dict[str, float]] = {}
        with (work / "results.jsonl").open("a") as out:
            for name, rs in runs.items():
                for r in rs:
                    out.write(json.dumps({"mode": mode, "case": name, **r}) + "\n")
                keys = [k for k in rs[0] if isinstance(rs[0][k], int | float)]
                summary[name] = {
                    k: round(statistics.median(float(r[k]) for r in rs), 4)  # type: ignore[arg-type]
                    for k in keys
                }
        backends = "s3_cpu_ms_per_req" in summary["miss"]
        log("| case | req/s | p50 ms | p99 ms | CPU ms/req: nginx | replicas |"
            + (" radosgw+mon+osd | redis |" if backends else "") + " busy cores |")  # fmt: skip
        log("|---|---|---|---|---|---|" + ("---|---|" if backends else "") + "---|")
        for name, m in summary.items():
            replicas_cpu = m["web1_cpu_ms_per_req"] + m["web2_cpu_ms_per_req"]
            extra = (
                f" {m['s3_cpu_ms_per_req']:.3f} | {m['redis_cpu_ms_per_req']:.3f} |"
                if backends
                else ""
            )
            log(f"| {name} | {m['rps']:.0f} | {m['p50_ms']} | {m['p99_ms']} | "
                f"{m['nginx_cpu_ms_per_req']:.4f} | {replicas_cpu:.3f} |{extra} "
                f"{m['machine_busy_cores']} |")  # fmt: skip
        hit_cpu = summary["hit"]["nginx_cpu_ms_per_req"]
        static_cpu = summary["static"]["nginx_cpu_ms_per_req"]
        log(f"hit / static: nginx CPU per request {hit_cpu / static_cpu:.2f}, "
            f"req/s {summary['hit']['rps'] / summary['static']['rps']:.2f}")  # fmt: skip
        miss = summary["miss"]
        miss_replicas = miss["web1_cpu_ms_per_req"] + miss["web2_cpu_ms_per_req"]
        log(f"miss / direct: replicas' CPU per request "
            f"{miss_replicas / summary['direct']['web1_cpu_ms_per_req']:.2f}, req/s "
            f"{miss['rps'] / summary['direct']['rps']:.2f}; miss / hit req/s "
            f"{miss['rps'] / summary['hit']['rps']:.3f}")  # fmt: skip
        log(f"RSS MB: {rss}; load average {loadavg()}")
    finally:
        (state / "extra.d" / "bench-static.conf").unlink(missing_ok=True)
        if started_nginx:
            subprocess.run(["bash", str(NGINX), "stop", str(state)], check=False)
        else:
            os.kill(nginx_pgid(state), signal.SIGHUP)
        for r in replicas:
            r.stop()


if __name__ == "__main__":
    main()
