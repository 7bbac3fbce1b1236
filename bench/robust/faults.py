"""kill -9 fault runner: renders, mattes and uploads in flight, kill -9, restart, check.

    python -m bench.robust.faults [--rounds 6] [--renders 6] [--mattes 2] [--uploads 4]
        [--render-bound 30] [--matte-bound 180] [--seed 15]

Starts a server with `--workers 2` on a data dir that outlives restarts, uploads `base`, then
each round (bounded): sends cold renders (`w_3000,e_blur:<unique>` of `base`, ~2 CPU-s each),
matte requests (`e_background_removal` of freshly uploaded bytes) and new uploads, all at once;
after 0.5–1.5 s sends SIGKILL to one worker (odd rounds; uvicorn starts a new one) or to the
whole process group (even rounds, then restarts the server on the same port and data dir).
Then checks, each with a bound:
  * uploads: every acknowledged upload (200) is byte-identical in the originals store;
  * renders: every URL of the round answers 200 within `--render-bound` s and decodes (a
    render claim whose owner died must not make the next request wait out its TTL);
  * mattes: every matte of this and earlier rounds reaches 200 within `--matte-bound` s and
    decodes (a job whose worker died is retried, not failed for good).
Prints one line per round and a summary.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pyvips

from alphacdn.cache import AssetNotFound, JobStatus, JobStore, LocalOriginals
from alphacdn.mattes import content_matte_key
from alphacdn.settings import Settings
from alphacdn.transform import BackgroundRemoval
from bench.robust.common import (
    CLOUD,
    ENV,
    FIXTURES,
    MODELS_DIR,
    configure_sdk,
    load_note,
    md5,
    upload,
    worker_pids,
)
from tests.e2e.server import Server


@dataclass
class Round:
    number: int
    kill: str
    acked: dict[str, bytes] = field(default_factory=dict)
    render_urls: list[str] = field(default_factory=list)
    matte_urls: list[str] = field(default_factory=list)
    in_flight: int = 0
    uploads_bad: list[str] = field(default_factory=list)
    render_results: list[tuple[str, str, float]] = field(default_factory=list)
    matte_results: list[tuple[str, str, float]] = field(default_factory=list)

    def line(self) -> str:
        def fmt(results: list[tuple[str, str, float]]) -> str:
            ok = sum(1 for _, s, _ in results if s == "ok")
            worst = max((t for _, _, t in results), default=0.0)
            bad = sorted({s for _, s, _ in results if s != "ok"})
            return f"{ok}/{len(results)} ok, worst {worst:.1f} s" + (
                f" ({', '.join(bad)})" if bad else ""
            )

        return (
            f"round {self.number} kill -9 {self.kill:<6} in flight {self.in_flight:2d} | uploads "
            f"{len(self.acked) - len(self.uploads_bad)}/{len(self.acked)} identical | renders "
            f"{fmt(self.render_results)} | mattes {fmt(self.matte_results)}"
        )


def fresh_photo(seed: int) -> bytes:
    """The fixture photo re-encoded with a tint of its own: new bytes, new matte key."""
    im = pyvips.Image.new_from_file(str(FIXTURES / "tiger-on-backdrop.jpg"))
    return bytes((im + (seed % 7)).cast("uchar").jpegsave_buffer(Q=80 + seed % 15))


def decodes(data: bytes) -> bool:
    try:
        pyvips.Image.new_from_buffer(data, "").avg()
        return True
    except pyvips.Error:
        return False


def check_render(srv: Server, url: str, bound: float) -> tuple[str, str, float]:
    t0 = time.perf_counter()
    try:
        r = httpx.get(url, timeout=bound)
    except httpx.TimeoutException:
        return url, "hang", time.perf_counter() - t0
    except httpx.HTTPError as exc:
        return url, type(exc).__name__, time.perf_counter() - t0
    seconds = time.perf_counter() - t0
    if r.status_code != 200:
        return url, str(r.status_code), seconds
    return url, "ok" if decodes(r.content) else "undecodable", seconds


def check_matte(url: str, bound: float) -> tuple[str, str, float]:
    t0 = time.perf_counter()
    deadline = t0 + bound
    status = "none"
    while time.perf_counter() < deadline:
        try:
            r = httpx.get(url, timeout=max(1.0, deadline - time.perf_counter()))
        except httpx.HTTPError as exc:
            status = type(exc).__name__
            time.sleep(0.5)
            continue
        if r.status_code == 200:
            return url, "ok" if decodes(r.content) else "undecodable", time.perf_counter() - t0
        status = str(r.status_code)
        # 423 (in progress) and 503 + Retry-After (an abandoned job's back-off) say "ask again"
        if r.status_code != 423 and not (r.status_code == 503 and "retry-after" in r.headers):
            return url, status, time.perf_counter() - t0
        time.sleep(min(1.0, float(r.headers.get("retry-after", "1"))))
    return url, f"still {status}", time.perf_counter() - t0


def wait_healthy(srv: Server, bound: float = 60.0) -> None:
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        try:
            if httpx.get(srv.url + "/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("server not healthy after a kill")


def run_round(
    srv: Server,
    n: int,
    rng: random.Random,
    *,
    kill: str,
    renders: int,
    mattes: int,
    uploads: int,
    render_bound: float,
    matte_bound: float,
) -> Round:
    """One round: traffic in flight, kill -9 (`worker` or `all`), restart, checks."""
    rnd = Round(n, kill)
    base = f"{srv.url}/{CLOUD}/image/upload"
    rnd.render_urls = [f"{base}/w_3000,e_blur:{1000 + 10 * n + i}/base.jpg" for i in range(renders)]
    acked_lock = threading.Lock()
    active = [0]

    def counted(fn: Callable[[Any], None]) -> Callable[[Any], None]:
        """`fn`, counted in `active` while it runs; a connection error ends it quietly."""

        def run(arg: Any) -> None:
            with acked_lock:
                active[0] += 1
            try:
                fn(arg)
            except httpx.HTTPError:
                pass
            finally:
                with acked_lock:
                    active[0] -= 1

        return run

    def render(url: str) -> None:
        httpx.get(url, timeout=render_bound)

    def matte(k: int) -> None:
        pid = f"m{n}-{k}"
        with httpx.Client(timeout=60) as c:
            if upload(c, srv, pid, fresh_photo(n * 100 + k), pid).status_code == 200:
                url = f"{base}/e_background_removal/{pid}.png"
                rnd.matte_urls.append(url)
                c.get(url, timeout=5)

    def new_upload(k: int) -> None:
        pid = f"u{n}-{k}"
        data = fresh_photo(10_000 + n * 100 + k)
        with httpx.Client(timeout=60) as c:
            if upload(c, srv, pid, data, pid).status_code == 200:
                with acked_lock:
                    rnd.acked[pid] = data

    pool = ThreadPoolExecutor(renders + mattes + uploads)
    for url in rnd.render_urls:
        pool.submit(counted(render), url)
    for k in range(mattes):
        pool.submit(counted(matte), k)
    for k in range(uploads):
        pool.submit(counted(new_upload), k)
    time.sleep(rng.uniform(0.5, 1.5))
    with acked_lock:
        rnd.in_flight = active[0]
    assert srv.proc is not None
    if kill == "worker":
        os.kill(rng.choice(worker_pids(srv)), signal.SIGKILL)
        time.sleep(1.0)
        wait_healthy(srv)
    else:
        os.killpg(srv.proc.pid, signal.SIGKILL)
        srv.proc.wait()
        srv.start(timeout=90)
    pool.shutdown(wait=True, cancel_futures=False)

    store = LocalOriginals(
        Settings.from_env({"ALPHACDN_DATA_DIR": str(srv.data_dir)}).cache.originals_dir
    )
    for pid, data in rnd.acked.items():
        try:
            same = md5(store.read(CLOUD, pid)) == md5(data)
        except AssetNotFound:
            same = False
        if not same:
            rnd.uploads_bad.append(pid)
    with ThreadPoolExecutor(max(1, len(rnd.render_urls))) as checks:
        rnd.render_results = list(
            checks.map(lambda u: check_render(srv, u, render_bound), rnd.render_urls)
        )
    with ThreadPoolExecutor(4) as checks:
        rnd.matte_results = list(checks.map(lambda u: check_matte(u, matte_bound), rnd.matte_urls))
    return rnd


def kill_one_job_repeatedly(
    srv: Server, kills: int, bound: float, matte_bound: float
) -> tuple[list[int], tuple[str, str, float]]:
    """Kill -9 the whole server `kills` times while the same matte job runs, then wait for it.

    Returns the attempt number seen running before each kill and the matte's final check.
    """
    data = fresh_photo(999)
    with httpx.Client(timeout=60) as c:
        upload(c, srv, "again", data, "again.jpg").raise_for_status()
    url = f"{srv.url}/{CLOUD}/image/upload/e_background_removal/again.png"
    key = content_matte_key(md5(data), "u2netp", BackgroundRemoval())
    seen: list[int] = []
    for _k in range(kills):
        deadline = time.monotonic() + bound
        running = None
        while time.monotonic() < deadline and running is None:
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(url, timeout=5)
            jobs = JobStore(srv.data_dir / "state" / "jobs")
            try:
                rec = jobs.get(key)
            finally:
                jobs.close()
            if rec is not None and rec.status is JobStatus.RUNNING and rec.attempts > len(seen):
                running = rec.attempts
            else:
                time.sleep(0.3)
        seen.append(running or 0)
        assert srv.proc is not None
        os.killpg(srv.proc.pid, signal.SIGKILL)
        srv.proc.wait()
        srv.start(timeout=90)
    return seen, check_matte(url, matte_bound)


def start(data_dir: Path, workers: int = 2, env: dict[str, str] | None = None) -> Server:
    """A server on `data_dir` (kept across restarts) with `base` uploaded."""
    env = {"ALPHACDN_MODELS_DIR": str(MODELS_DIR), **ENV, **(env or {})}
    srv = Server(data_dir, env=env, workers=workers)
    srv.start(timeout=90)
    configure_sdk(srv)
    with httpx.Client(timeout=60) as c:
        r = upload(c, srv, "base", (FIXTURES / "car-house.jpg").read_bytes(), "base.jpg")
        r.raise_for_status()
    return srv


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--renders", type=int, default=6)
    p.add_argument("--mattes", type=int, default=2)
    p.add_argument("--uploads", type=int, default=4)
    p.add_argument("--render-bound", type=float, default=30.0)
    p.add_argument("--matte-bound", type=float, default=180.0)
    p.add_argument("--seed", type=int, default=15)
    p.add_argument("--job-kills", type=int, default=3, help="kills of one matte job (0 = skip)")
    args = p.parse_args()
    rng = random.Random(args.seed)
    rounds: list[Round] = []
    with tempfile.TemporaryDirectory(prefix="robust-faults-") as tmp:
        srv = start(Path(tmp) / "data")
        try:
            for n in range(1, args.rounds + 1):
                rnd = run_round(
                    srv,
                    n,
                    rng,
                    kill="worker" if n % 2 else "all",
                    renders=args.renders,
                    mattes=args.mattes,
                    uploads=args.uploads,
                    render_bound=args.render_bound,
                    matte_bound=args.matte_bound,
                )
                rounds.append(rnd)
                print(rnd.line(), flush=True)
            if args.job_kills:
                seen, final = kill_one_job_repeatedly(srv, args.job_kills, 90.0, args.matte_bound)
                print(
                    f"one matte job killed {args.job_kills}× (attempts seen running: {seen}): "
                    f"{final[1]} after {final[2]:.1f} s",
                    flush=True,
                )
        finally:
            srv.stop(kill=True)
    acked = sum(len(r.acked) for r in rounds)
    bad = sum(len(r.uploads_bad) for r in rounds)
    renders = [x for r in rounds for x in r.render_results]
    mattes_r = [x for r in rounds for x in r.matte_results]
    print(f"\n== kill -9: {len(rounds)} rounds, 2 workers, {load_note()}")
    print(f"uploads: {acked - bad}/{acked} acknowledged uploads byte-identical")
    print(
        f"renders: {sum(s == 'ok' for _, s, _ in renders)}/{len(renders)} answered 200 and "
        f"decoded within {args.render_bound:.0f} s; "
        f"worst {max((t for *_, t in renders), default=0):.1f} s; "
        f"hung: {sum(s == 'hang' for _, s, _ in renders)}"
    )
    print(
        f"mattes: {sum(s == 'ok' for _, s, _ in mattes_r)}/{len(mattes_r)} finished within "
        f"{args.matte_bound:.0f} s; worst {max((t for *_, t in mattes_r), default=0):.1f} s; "
        f"other: {sorted({s for _, s, _ in mattes_r if s != 'ok'})}"
    )


if __name__ == "__main__":
    main()
