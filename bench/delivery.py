# ruff: noqa: E501, B007, SIM115
"""Delivery benchmarks of issue 3 ("Must be measured"), each as a ratio against a baseline in the same run.

    .venv/bin/python bench/delivery.py [--phases cold,hit,rss,workers2] [--reps 3] [--hit-seconds 10]

Phases (all on loopback; servers are started here, each in its own session / process group, and stopped
at the end by process group):
  cold      every photo of ../shared/data/photos (JPEG + PNG; the truncated JPEG and the GIF are left out;
            synthetic images when the folder is absent) -> c_fill,g_center,w_W,h_300,q_80 in WebP and JPEG.
            Server CPU ms per request (utime+stime of the server's process group from /proc, per batch of
            --batch sequential requests with distinct widths W=400.. so every one is cold) vs the same
            resize + encode done in-process by pyvips (thumbnail_buffer + save with the server's encoder
            options, same widths, same bytes, same libvips) in a helper process, interleaved per image.
            Also vipsthumbnail (Debian CLI, process start included) as a second reference.
  hit       cache hits of the 400x300 WebP/JPEG URLs at concurrency 32 (wrk -t2 -c32, round-robin over the
            URLs) vs nginx (2 workers) serving the very bytes our server returned, alternated --reps times.
  rss       peak RSS (VmHWM of the server process, fresh server per request) while serving a ~50 MP JPEG
            (8160x6120, upscaled from large-13mp.jpg) for c_fill,w_400,h_300 and w_4000 (and w_4000 x4
            concurrent), vs the same work done in-process by pyvips.
  workers2  cold CPU per request with `serve --workers 2`, vs the pyvips floor again.
Results: printed tables + one JSON file (--out).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pathlib
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

import httpx
import pyvips
from procstat import loadavg, machine_busy_s

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent
VENV_BIN = pathlib.Path(sys.executable).parent
PHOTOS = pathlib.Path(os.environ.get("BENCH_PHOTOS", REPO.parent / "shared" / "data" / "photos"))
WORK = pathlib.Path(os.environ.get("BENCH_WORK", "/tmp/bench-delivery"))
DATA = pathlib.Path(os.environ.get("BENCH_DATA_DIR", "/tmp/bench-data"))
PORT = int(os.environ.get("BENCH_PORT", "8800"))
STATIC_PORT = int(os.environ.get("BENCH_STATIC_PORT", "8804"))
BASE = f"http://127.0.0.1:{PORT}"
API_KEY = os.environ.get("BENCH_API_KEY", "123456789012345")
API_SECRET = os.environ.get("BENCH_API_SECRET", "alphacdn-dev-secret")
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
# the project's URL contract (same as ../shared/bench/targets.py "project")
URL = "/demo/image/upload/c_fill,g_center,w_{w},h_{h},q_{q}/f_{fmt}/{stem}"
FMTS = {"webp": "webp", "jpeg": "jpg"}
SKIP = {"truncated-street-bus.jpg"}  # a corrupt file: a 422 by design, not a resize


def log(*a: object) -> None:
    print(*a, flush=True)


# ── process groups ─────────────────────────────────────────────────────────────────────────────────
class Group:
    """A command started in its own session; CPU and RSS read from /proc for its process group."""

    def __init__(
        self, name: str, argv: list[str], env: dict[str, str] | None = None, cwd: str | None = None
    ):
        self.name = name
        logf = open(WORK / f"{name}.log", "ab")
        self.proc = subprocess.Popen(
            argv,
            stdout=logf,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=env,
            cwd=cwd,
        )
        self.pgid = self.proc.pid

    def pids(self) -> list[int]:
        out = []
        for p in pathlib.Path("/proc").glob("[0-9]*"):
            try:
                f = (p / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(f[2]) == self.pgid:
                out.append(int(p.name))
        return out

    def cpu_s(self) -> float:
        """utime+stime of every live process of the group (includes their exited threads)."""
        t = 0
        for pid in self.pids():
            try:
                f = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            t += int(f[11]) + int(f[12])
        return t / TICK

    def rss(self) -> tuple[int, int]:
        """(sum of VmRSS, sum of VmHWM) over the group, bytes."""
        rss = hwm = 0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1]) * 1024
                    elif line.startswith("VmHWM:"):
                        hwm += int(line.split()[1]) * 1024
        return rss, hwm

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pgid, signal.SIGTERM)
        for _ in range(60):
            if self.proc.poll() is not None:
                break
            time.sleep(0.25)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pgid, signal.SIGKILL)
        self.proc.wait()


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"server exited early: see {WORK}/*.log")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise SystemExit(f"{url} not ready after {timeout}s")


def start_project(
    workers: int = 1,
    extra_env: dict[str, str] | None = None,
    port: int = PORT,
    name: str = "project",
) -> Group:
    env = dict(os.environ, **(extra_env or {}))
    g = Group(
        f"{name}-w{workers}",
        [
            str(VENV_BIN / "alphacdn"),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--data-dir",
            str(DATA),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=str(REPO),
    )
    wait_http(f"http://127.0.0.1:{port}/", g.proc)
    return g


#: optional overlay with httptools + uvloop (what `uvicorn[standard]` adds), made by run_delivery.sh
UVSTD = pathlib.Path(
    os.environ.get("BENCH_UVSTD", "/tmp/bench-delivery-uvstd/lib/python3.11/site-packages")
)


# ── corpus ─────────────────────────────────────────────────────────────────────────────────────────
def build_corpus() -> list[dict]:
    out = WORK / "corpus"
    man = out / "manifest.json"
    if man.exists():
        return json.loads(man.read_text())
    out.mkdir(parents=True, exist_ok=True)
    items = []
    photos = (
        sorted(
            p
            for p in PHOTOS.glob("*")
            if p.suffix.lower() in (".jpg", ".jpeg", ".png") and p.name not in SKIP
        )
        if PHOTOS.is_dir()
        else []
    )
    if photos:
        for p in photos:
            dst = out / p.name
            shutil.copyfile(p, dst)
            items.append((dst, "photos"))
    else:  # synthetic, as ../shared/bench/corpus.py makes them
        sys.path.insert(0, str(REPO.parent / "shared" / "bench"))
        from corpus import JPEG_SIZES, PNG_SIZES, synth  # type: ignore

        for i, (w, h) in enumerate(JPEG_SIZES):
            dst = out / f"synth{i + 1}_{w}x{h}.jpg"
            synth(w, h, seed=10 * i).jpegsave(str(dst), Q=90, optimize_coding=True)
            items.append((dst, "synthetic"))
        for i, (w, h) in enumerate(PNG_SIZES):
            dst = out / f"alpha{i + 1}_{w}x{h}.png"
            synth(w, h, seed=100 + 10 * i, alpha=True).pngsave(str(dst), compression=6)
            items.append((dst, "synthetic"))
    manifest = []
    for p, src in items:
        im = pyvips.Image.new_from_file(str(p))
        manifest.append(
            dict(
                name=p.name,
                stem=p.stem,
                ext=p.suffix[1:],
                width=im.width,
                height=im.height,
                mp=round(im.width * im.height / 1e6, 2),
                bytes=p.stat().st_size,
                source=src,
            )
        )
    man.write_text(json.dumps(manifest, indent=1))
    return manifest


def make_big() -> pathlib.Path:
    """~50 MP JPEG (8160x6120 = 49.9 MP, just under the 50 MP default limit) from large-13mp.jpg."""
    dst = WORK / "big50mp.jpg"
    if not dst.exists():
        src = PHOTOS / "large-13mp.jpg"
        im = (
            pyvips.Image.new_from_file(str(src)).autorot()
            if src.exists()
            else pyvips.Image.gaussnoise(4000, 3000)
            .cast("uchar")
            .bandjoin([128, 128])
            .copy(interpretation="srgb")
        )
        im = im.resize(8160 / im.width, vscale=6120 / im.height)
        im.crop(0, 0, 8160, 6120).jpegsave(str(dst), Q=90)
    return dst


def upload(paths: list[tuple[pathlib.Path, str]]) -> None:
    """Upload through the Cloudinary SDK pointed at our server (public_id = file stem)."""
    import cloudinary
    import cloudinary.uploader

    cloudinary.config(
        cloud_name="demo", api_key=API_KEY, api_secret=API_SECRET, upload_prefix=BASE, secure=False
    )
    for p, public_id in paths:
        r = cloudinary.uploader.upload(str(p), public_id=public_id, overwrite=True, timeout=300)
        assert r["public_id"] == public_id, r


# ── the in-process floor (helper process: keeps our CPU clock clean) ───────────────────────────────
FLOOR_SRC = r"""
import json, sys, time, resource, pyvips
pyvips.cache_set_max(0)
def enc(t, fmt, q):
    if fmt == "jpeg":
        if t.hasalpha(): t = t.flatten(background=255)
        return t.jpegsave_buffer(Q=q, optimize_coding=True, interlace=t.width * t.height > 100_000, keep=0)
    return t.webpsave_buffer(Q=q, effort=4, keep=0)
def hwm():
    for l in open("/proc/self/status"):
        if l.startswith("VmHWM:"): return int(l.split()[1]) * 1024
def rss():
    for l in open("/proc/self/status"):
        if l.startswith("VmRSS:"): return int(l.split()[1]) * 1024
for line in sys.stdin:
    job = json.loads(line)
    if job["op"] == "resize":
        c0, t0 = time.process_time(), time.perf_counter()
        n = 0
        for w in job["widths"]:
            data = open(job["file"], "rb").read()
            t = pyvips.Image.thumbnail_buffer(data, w, height=job["h"], crop="centre")
            n += len(enc(t, job["fmt"], job["q"]))
        print(json.dumps(dict(cpu_s=time.process_time() - c0, wall_s=time.perf_counter() - t0, bytes=n)), flush=True)
    elif job["op"] == "rss":   # one render, report RSS before and peak (VmHWM) after; run in a fresh process
        data = open(job["file"], "rb").read()
        before = rss()
        if job["crop"]:
            t = pyvips.Image.thumbnail_buffer(data, job["w"], height=job["h"], crop="centre")
        else:
            t = pyvips.Image.thumbnail_buffer(data, job["w"], height=10_000_000)
        n = len(enc(t, "jpeg", 80))
        print(json.dumps(dict(before=before, hwm=hwm(), bytes=n)), flush=True)
"""


class Floor:
    def __init__(self) -> None:
        self.p = subprocess.Popen(
            [sys.executable, "-c", FLOOR_SRC],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    def ask(self, job: dict) -> dict:
        assert self.p.stdin and self.p.stdout
        self.p.stdin.write(json.dumps(job) + "\n")
        self.p.stdin.flush()
        return json.loads(self.p.stdout.readline())

    def close(self) -> None:
        if self.p.poll() is None:
            self.p.stdin.close()  # type: ignore[union-attr]
            self.p.wait(10)


def vipsthumbnail_cpu(file: pathlib.Path, widths: list[int], fmt: str) -> float | None:
    exe = shutil.which("vipsthumbnail")
    if not exe:
        return None
    opts = "[Q=80,strip]" if fmt == "webp" else "[Q=80,strip,optimize_coding,interlace]"
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    for w in widths:
        subprocess.run(
            [
                exe,
                str(file),
                "--size",
                f"{w}x300",
                "--smartcrop",
                "centre",
                "-o",
                f"{WORK}/vt_out.{fmt}{opts}",
            ],
            check=True,
            capture_output=True,
        )
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime) / len(widths)


# ── phase: cold ────────────────────────────────────────────────────────────────────────────────────
def get_ok(c: httpx.Client, path: str, want: tuple[int, int] | None = None) -> bytes:
    r = c.get(BASE + path)
    if r.status_code != 200:
        raise SystemExit(
            f"GET {path} -> {r.status_code} {r.headers.get('x-cld-error')} {r.text[:200]}"
        )
    if want:
        im = pyvips.Image.new_from_buffer(r.content, "")
        if (im.width, im.height) != want:
            raise SystemExit(f"GET {path} -> {im.width}x{im.height}, want {want[0]}x{want[1]}")
    return r.content


def cold_phase(
    server: Group,
    corpus: list[dict],
    reps: int,
    batch: int,
    width0: int,
    fmts: list[str],
    with_vipsthumbnail: bool = True,
) -> tuple[dict, int]:
    """Interleaved per image: server batch (sequential cold requests) then floor batch. -> results, next width."""
    floor = Floor()
    res: dict = {}
    with httpx.Client(timeout=120) as c:
        for img in corpus[
            :4
        ]:  # warm-up (imports, both workers if several): a size no measured request uses
            for ext in FMTS.values():
                get_ok(c, URL.format(w=width0, h=299, q=80, fmt=ext, stem=img["stem"]))
        floor.ask(
            dict(
                op="resize",
                file=str(WORK / "corpus" / corpus[0]["name"]),
                widths=[width0],
                h=299,
                fmt="webp",
                q=80,
            )
        )
        for rep in range(reps):
            for fmt in fmts:
                for img in corpus:
                    # widths only need to be new per (image, format): outputs stay ~400x300
                    widths = list(range(width0 + rep * batch, width0 + (rep + 1) * batch))
                    busy0 = machine_busy_s()
                    cpu0, t0 = server.cpu_s(), time.perf_counter()
                    for x in widths:
                        get_ok(
                            c,
                            URL.format(w=x, h=300, q=80, fmt=FMTS[fmt], stem=img["stem"]),
                            want=(x, 300),
                        )
                    srv_cpu, srv_wall = server.cpu_s() - cpu0, time.perf_counter() - t0
                    fl = floor.ask(
                        dict(
                            op="resize",
                            file=str(WORK / "corpus" / img["name"]),
                            widths=widths,
                            h=300,
                            fmt=fmt,
                            q=80,
                        )
                    )
                    vt = (
                        vipsthumbnail_cpu(WORK / "corpus" / img["name"], widths[:2], fmt)
                        if with_vipsthumbnail and rep == 0
                        else None
                    )
                    busy = machine_busy_s() - busy0
                    r = res.setdefault(
                        f"{fmt}/{img['name']}",
                        dict(
                            mp=img["mp"],
                            srv=[],
                            floor=[],
                            srv_wall=[],
                            floor_wall=[],
                            vt=[],
                            busy=[],
                        ),
                    )
                    r["srv"].append(srv_cpu * 1e3 / batch)
                    r["floor"].append(fl["cpu_s"] * 1e3 / batch)
                    r["srv_wall"].append(srv_wall * 1e3 / batch)
                    r["floor_wall"].append(fl["wall_s"] * 1e3 / batch)
                    r["busy"].append(busy)
                    if vt is not None:
                        r["vt"].append(vt * 1e3)
            log(f"  cold rep {rep + 1}/{reps} done, load {loadavg()}")
    floor.close()
    return res, width0 + reps * batch


def summarize_cold(res: dict, fmts: list[str]) -> dict:
    out: dict = {}
    for fmt in fmts:
        rows = {k.split("/", 1)[1]: v for k, v in res.items() if k.startswith(fmt + "/")}
        per = []
        for name, v in rows.items():
            s, f = statistics.median(v["srv"]), statistics.median(v["floor"])
            vt = statistics.median(v["vt"]) if v["vt"] else None
            per.append(
                dict(
                    name=name,
                    mp=v["mp"],
                    srv_cpu_ms=round(s, 1),
                    floor_cpu_ms=round(f, 1),
                    ratio=round(s / f, 2) if f else None,
                    vipsthumbnail_cpu_ms=round(vt, 1) if vt else None,
                    srv_wall_ms=round(statistics.median(v["srv_wall"]), 1),
                    floor_wall_ms=round(statistics.median(v["floor_wall"]), 1),
                )
            )
        tot_s = sum(p["srv_cpu_ms"] for p in per)
        tot_f = sum(p["floor_cpu_ms"] for p in per)
        # ratio of sums per repetition, then the median over repetitions
        reps = len(next(iter(rows.values()))["srv"])
        rep_ratios = [
            sum(v["srv"][i] for v in rows.values()) / sum(v["floor"][i] for v in rows.values())
            for i in range(reps)
        ]
        out[fmt] = dict(
            images=per,
            total_srv_cpu_ms=round(tot_s, 1),
            total_floor_cpu_ms=round(tot_f, 1),
            ratio_of_sums=round(tot_s / tot_f, 2),
            ratio_of_sums_per_rep=[round(r, 2) for r in rep_ratios],
            median_image_ratio=round(statistics.median(p["ratio"] for p in per), 2),
            median_srv_cpu_ms=round(statistics.median(p["srv_cpu_ms"] for p in per), 1),
            median_floor_cpu_ms=round(statistics.median(p["floor_cpu_ms"] for p in per), 1),
        )
    return out


def print_cold(summ: dict, title: str) -> None:
    for fmt, s in summ.items():
        if not isinstance(s, dict):
            continue
        log(
            f"\n{title} — {fmt}: server CPU ms/request vs in-process pyvips (same widths, same bytes)"
        )
        log(
            f"  {'image':30} {'MP':>5} {'server':>8} {'pyvips':>8} {'ratio':>6} {'vipsthumb':>9} {'srv wall':>8}"
        )
        for p in s["images"]:
            log(
                f"  {p['name']:30} {p['mp']:5.2f} {p['srv_cpu_ms']:8.1f} {p['floor_cpu_ms']:8.1f} {p['ratio']:6.2f} "
                f"{p['vipsthumbnail_cpu_ms'] or 0:9.1f} {p['srv_wall_ms']:8.1f}"
            )
        log(
            f"  TOTAL ratio of sums {s['ratio_of_sums']} (per rep {s['ratio_of_sums_per_rep']}), "
            f"median per-image ratio {s['median_image_ratio']}"
        )


# ── phase: cache hits ──────────────────────────────────────────────────────────────────────────────
WRK_LUA = """
local paths = {%s}
local i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
"""


def wrk_run(
    base: str, paths: list[str], group: Group, seconds: float, c: int = 32, threads: int = 2
) -> dict:
    lua = WORK / f"paths_{abs(hash(tuple(paths)))}.lua"
    lua.write_text(WRK_LUA % ", ".join(json.dumps(p) for p in paths))
    cpu0, busy0 = group.cpu_s(), machine_busy_s()
    r = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{c}",
            f"-d{int(seconds)}s",
            "--latency",
            "--timeout",
            "10s",
            "-s",
            str(lua),
            base,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    cpu, busy = group.cpu_s() - cpu0, machine_busy_s() - busy0
    out = r.stdout

    def ms(v: str) -> float:
        m = re.match(r"([\d.]+)(us|ms|s)", v)
        assert m, v
        return float(m.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3}[m.group(2)]

    lat = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M))
    n = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors: (.*)", out)
    return dict(
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        p50_ms=ms(lat["50"]),
        p99_ms=ms(lat["99"]),
        requests=n,
        srv_cpu_ms_per_req=round(cpu * 1e3 / max(n, 1), 3),
        non2xx=int(non2xx.group(1)) if non2xx else 0,
        socket_errors=errs.group(1) if errs else None,
        machine_busy_cores=round(busy / seconds, 2),
    )


def start_nginx(root: pathlib.Path) -> Group:
    conf = WORK / "nginx.conf"
    conf.write_text(f"""daemon off; worker_processes 2; pid {WORK}/nginx.pid; error_log {WORK}/nginx.err warn;
events {{ worker_connections 1024; }}
http {{ access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;
  types {{ image/jpeg jpg jpeg; image/webp webp; }}
  server {{ listen 127.0.0.1:{STATIC_PORT}; root {root}; etag on; }} }}
""")
    g = Group("nginx", ["nginx", "-c", str(conf), "-p", str(WORK)])
    wait_http(f"http://127.0.0.1:{STATIC_PORT}/", g.proc)
    return g


def start_pyhttp(root: pathlib.Path) -> Group:
    g = Group(
        "pyhttp",
        [
            sys.executable,
            "-m",
            "http.server",
            str(STATIC_PORT + 10),
            "--bind",
            "127.0.0.1",
            "--directory",
            str(root),
        ],
    )
    wait_http(f"http://127.0.0.1:{STATIC_PORT + 10}/", g.proc)
    return g


def hit_phase(
    server: Group, corpus: list[dict], reps: int, seconds: float, extra_peers: list[str]
) -> dict:
    static = WORK / "static"
    shutil.rmtree(static, ignore_errors=True)
    (static / "derived").mkdir(parents=True)
    ours, theirs = [], []
    with httpx.Client(timeout=60) as c:
        for fmt, ext in FMTS.items():
            for img in corpus:
                path = URL.format(w=400, h=300, q=80, fmt=ext, stem=img["stem"])
                body = get_ok(c, path)
                r = c.get(BASE + path)
                assert r.headers.get("x-alphacdn-cache") == "HIT", (path, r.headers)
                assert r.content == body
                (static / "derived" / f"{img['stem']}_400x300.{ext}").write_bytes(body)
                ours.append(path)
                theirs.append(f"/derived/{img['stem']}_400x300.{ext}")
    mean_kb = sum(f.stat().st_size for f in (static / "derived").iterdir()) / len(ours) / 1024
    peers = {"nginx": start_nginx(static)}
    if "pyhttp" in extra_peers:
        peers["pyhttp"] = start_pyhttp(static)
    if (
        "uvstd" in extra_peers and UVSTD.is_dir()
    ):  # the same server with httptools + uvloop importable
        peers["alphacdn+httptools+uvloop"] = start_project(
            extra_env={"PYTHONPATH": str(UVSTD)}, port=PORT + 20, name="project-uvstd"
        )
    if "w2" in extra_peers:  # the same server with --workers 2
        peers["alphacdn --workers 2"] = start_project(workers=2, port=PORT + 21, name="project-hit")
    ports = {
        "nginx": STATIC_PORT,
        "pyhttp": STATIC_PORT + 10,
        "alphacdn+httptools+uvloop": PORT + 20,
        "alphacdn --workers 2": PORT + 21,
    }
    paths = {
        "nginx": theirs,
        "pyhttp": theirs,
        "alphacdn+httptools+uvloop": ours,
        "alphacdn --workers 2": ours,
    }
    runs: dict[str, list[dict]] = {"alphacdn": [], **{k: [] for k in peers}}
    try:
        # warm-up, untimed
        wrk_run(BASE, ours, server, 2)
        for k, g in peers.items():
            wrk_run(f"http://127.0.0.1:{ports[k]}", paths[k], g, 2)
        for rep in range(reps):
            runs["alphacdn"].append(wrk_run(BASE, ours, server, seconds))
            for k, g in peers.items():
                runs[k].append(wrk_run(f"http://127.0.0.1:{ports[k]}", paths[k], g, seconds))
            log(
                f"  hit rep {rep + 1}/{reps}: "
                + "  ".join(
                    f"{k} {v[-1]['rps']:.0f} req/s p50 {v[-1]['p50_ms']:.2f} p99 {v[-1]['p99_ms']:.2f} ms "
                    f"cpu {v[-1]['srv_cpu_ms_per_req']:.3f} ms/req"
                    for k, v in runs.items()
                )
                + f"  load {loadavg()}"
            )
    finally:
        for g in peers.values():
            g.stop()
    med = {
        k: {
            m: round(statistics.median(r[m] for r in v), 3)
            for m in ("rps", "p50_ms", "p99_ms", "srv_cpu_ms_per_req")
        }
        for k, v in runs.items()
    }
    for k in med:
        med[k]["errors"] = sum(r["non2xx"] for r in runs[k])
    return dict(urls=len(ours), mean_kb=round(mean_kb, 1), runs=runs, median=med)


# ── phase: peak RSS on a 50 MP source ──────────────────────────────────────────────────────────────
def rss_case(path_fn, n: int, label: str, warm_stem: str) -> dict:
    server = start_project()
    try:
        with httpx.Client(timeout=300) as c:
            # a small render of a small image loads the modules; VmHWM then still reflects the request below
            c.get(
                BASE
                + f"/demo/image/upload/c_fill,w_{int(time.time()) % 1000 + 20},h_20/{warm_stem}"
            )
            time.sleep(0.5)
            rss0, _ = server.rss()
            peak = [rss0]
            stop = threading.Event()

            def sample() -> None:
                while not stop.is_set():
                    peak[0] = max(peak[0], server.rss()[0])
                    time.sleep(0.01)

            th = threading.Thread(target=sample)
            th.start()
            t0 = time.perf_counter()
            results: list = [None] * n

            def one(i: int) -> None:
                r = c.get(BASE + path_fn(i))
                results[i] = (r.status_code, len(r.content))

            ths = [threading.Thread(target=one, args=(i,)) for i in range(n)]
            for t in ths:
                t.start()
            for t in ths:
                t.join()
            wall = time.perf_counter() - t0
            time.sleep(0.3)
            stop.set()
            th.join()
            _, hwm = server.rss()
            after, _ = server.rss()
    finally:
        server.stop()
    return dict(
        label=label,
        n=n,
        base_rss_mb=round(rss0 / 2**20, 1),
        sampled_peak_mb=round(peak[0] / 2**20, 1),
        hwm_mb=round(hwm / 2**20, 1),
        after_mb=round(after / 2**20, 1),
        wall_s=round(wall, 2),
        answers=results,
    )


def rss_floor(big: pathlib.Path, w: int, h: int, crop: bool) -> dict:
    f = Floor()
    try:
        r = f.ask(dict(op="rss", file=str(big), w=w, h=h, crop=crop))
    finally:
        f.close()
    return dict(
        before_mb=round(r["before"] / 2**20, 1),
        hwm_mb=round(r["hwm"] / 2**20, 1),
        delta_mb=round((r["hwm"] - r["before"]) / 2**20, 1),
    )


def rss_phase(big: pathlib.Path, reps: int, warm_stem: str) -> dict:
    cases = [
        (
            "c_fill,w_400,h_300 (jpg)",
            lambda i: f"/demo/image/upload/c_fill,w_{400 + i},h_300/big50mp",
            1,
            (400, 300, True),
        ),
        ("w_4000 (jpg)", lambda i: f"/demo/image/upload/w_{4000 + i}/big50mp", 1, (4000, 0, False)),
        (
            "w_4000 x4 concurrent",
            lambda i: f"/demo/image/upload/w_{4000 + i}/big50mp",
            4,
            (4000, 0, False),
        ),
    ]
    out = []
    for label, fn, n, (w, h, crop) in cases:
        runs = []
        for rep in range(reps):
            # distinct widths per rep: every request is cold (a fresh server would still find the disk cache)
            off = rep * 10
            runs.append(rss_case(lambda i, fn=fn, off=off: fn(i + off), n, label, warm_stem))
        fl = rss_floor(big, w, h, crop)
        row = dict(
            label=label,
            n=n,
            runs=runs,
            floor=fl,
            base_rss_mb=statistics.median(r["base_rss_mb"] for r in runs),
            peak_mb=statistics.median(max(r["hwm_mb"], r["sampled_peak_mb"]) for r in runs),
        )
        row["delta_mb"] = round(row["peak_mb"] - row["base_rss_mb"], 1)
        row["ratio_delta_vs_pyvips"] = (
            round(row["delta_mb"] / (fl["delta_mb"] * n), 2) if fl["delta_mb"] else None
        )
        out.append(row)
        log(
            f"  rss {label}: server base {row['base_rss_mb']} MB peak {row['peak_mb']} MB (+{row['delta_mb']}), "
            f"pyvips in-process +{fl['delta_mb']} MB per render; answers {runs[-1]['answers']}  load {loadavg()}"
        )
    return dict(cases=out)


# ── main ───────────────────────────────────────────────────────────────────────────────────────────
def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--phases", default="cold,hit,rss,workers2")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument(
        "--batch", type=int, default=4, help="cold requests per image per rep (distinct widths)"
    )
    ap.add_argument("--hit-seconds", type=float, default=10)
    ap.add_argument(
        "--hit-peers",
        default="pyhttp,uvstd,w2",
        help="extra rows of the hit phase: pyhttp (python -m http.server), uvstd (our server with "
        "httptools+uvloop importable), w2 (our server with --workers 2)",
    )
    ap.add_argument("--fmts", default="webp,jpeg")
    ap.add_argument("--out", default=str(WORK / "results.json"))
    ap.add_argument("--keep-data", action="store_true", help="do not wipe --data-dir first")
    a = ap.parse_args()
    phases = a.phases.split(",")
    fmts = a.fmts.split(",")
    WORK.mkdir(parents=True, exist_ok=True)
    if not a.keep_data:
        shutil.rmtree(DATA, ignore_errors=True)
    with contextlib.suppress(httpx.HTTPError):
        if httpx.get(BASE + "/", timeout=1):
            raise SystemExit(f"something already listens on {BASE}; stop it or set BENCH_PORT")
    corpus = build_corpus()
    big = make_big()
    result: dict = dict(
        date=time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        nproc=os.cpu_count(),
        load_start=loadavg(),
        libvips=f"{pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}",
        corpus_source=corpus[0]["source"],
        corpus=[dict(name=i["name"], mp=i["mp"]) for i in corpus],
        argv=sys.argv,
        git=subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip(),
    )
    log(
        f"corpus: {len(corpus)} images ({corpus[0]['source']}), libvips {result['libvips']}, load {loadavg()}"
    )
    server = start_project()
    try:
        t0 = time.time()
        upload([(WORK / "corpus" / i["name"], i["stem"]) for i in corpus] + [(big, "big50mp")])
        log(
            f"uploaded {len(corpus) + 1} originals in {time.time() - t0:.1f}s (cloudinary SDK, upload_prefix={BASE})"
        )
        width = 400
        if "cold" in phases:
            log(f"\n== cold resize, load {loadavg()}")
            res, width = cold_phase(server, corpus, a.reps, a.batch, width, fmts)
            result["cold"] = summarize_cold(res, fmts)
            result["cold"]["load"] = loadavg()
            print_cold(result["cold"], "cold resize, workers=1")
        if "hit" in phases:
            log(f"\n== cache hits at c=32, load {loadavg()}")
            result["hit"] = hit_phase(
                server, corpus, a.reps, a.hit_seconds, a.hit_peers.split(",") if a.hit_peers else []
            )
            result["hit"]["load"] = loadavg()
            m = result["hit"]["median"]
            for k, v in m.items():
                log(
                    f"  {k:26} {v['rps']:8.0f} req/s  p50 {v['p50_ms']:7.2f} ms  p99 {v['p99_ms']:7.2f} ms  "
                    f"cpu {v['srv_cpu_ms_per_req']:.3f} ms/req  errors {v['errors']}"
                )
            log(
                f"  ratios alphacdn/nginx: req/s {m['alphacdn']['rps'] / m['nginx']['rps']:.3f}, "
                f"CPU/req {m['alphacdn']['srv_cpu_ms_per_req'] / m['nginx']['srv_cpu_ms_per_req']:.1f}x, "
                f"p99 {m['alphacdn']['p99_ms'] / m['nginx']['p99_ms']:.1f}x"
            )
    finally:
        server.stop()
    if "rss" in phases:
        log(f"\n== peak RSS with a 50 MP source, load {loadavg()}")
        result["rss"] = rss_phase(big, max(1, min(a.reps, 2)), corpus[0]["stem"])
    if "workers2" in phases:
        log(f"\n== cold resize with --workers 2, load {loadavg()}")
        server = start_project(workers=2)
        try:
            res, _ = cold_phase(
                server,
                corpus,
                max(1, a.reps - 1),
                a.batch,
                width,
                ["webp"],
                with_vipsthumbnail=False,
            )
            result["workers2"] = summarize_cold(res, ["webp"])
            result["workers2"]["load"] = loadavg()
            print_cold(result["workers2"], "cold resize, workers=2")
        finally:
            server.stop()
    result["load_end"] = loadavg()
    pathlib.Path(a.out).write_text(json.dumps(result, indent=1))
    log(f"\nwrote {a.out}; load at end {loadavg()}")


if __name__ == "__main__":
    main()
