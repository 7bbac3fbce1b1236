"""Mixed load: normal clients' hits and cold renders, without and then with two hostile clients.

    python -m bench.robust.mixed [--seconds 120] [--concurrency 24] [--hostile 2]
        [--hit-ratio 0.7] [--timeout 30] [--hostile-timeout 10]

One server (default settings, 1 worker) on loopback, fixtures uploaded, 40 hit URLs rendered
once beforehand. Two phases of `--seconds` each, in the same run, with the same normal load:
  1. baseline: `concurrency − hostile` normal clients, closed loop, each request a cache hit
     (one of the 40, `--hit-ratio`) or a cold render (a unique `c_fill` size of `base` with
     `e_sharpen`, ~0.1 CPU-s);
  2. hostile: the same normal clients plus `--hostile` clients cycling through the worst URLs
     the server accepts (issue 15's: `w_3000,e_blur:2000`, `l_x,fl_relative,w_99.0`, made unique
     per request so each is cold), each giving up after `--hostile-timeout` s and sending the next
     one, as an attacker would.
Reports, per phase: p50/p99 of normal hits and cold renders (a request with no answer within
`--timeout` counts as `--timeout` and is also counted apart), error statuses, what the hostile
clients got, server CPU-s and peak RSS; then the hostile/baseline ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import time
from collections import Counter
from dataclasses import dataclass, field

from bench.robust.common import (
    CLOUD,
    configure_sdk,
    cpu_seconds,
    load_note,
    pct,
    peak_rss_mb,
    raw_get,
    reset_peak_rss,
    running_server,
    upload_fixtures,
)
from tests.e2e.server import Server

#: cold render numbers, shared by both phases so no cold URL is ever asked twice
COLD_IDS = itertools.count()
HITS = [f"/{CLOUD}/image/upload/c_fill,w_{100 + 7 * i},h_{80 + 3 * i}/base.jpg" for i in range(40)]


def hostile_urls() -> itertools.cycle[str]:
    """The worst allowed URLs, each unique (so never a cache hit)."""

    def gen() -> list[str]:
        out = []
        for k in range(500):
            out.append(f"/{CLOUD}/image/upload/w_{3000 - k},e_blur:{2000 - k}/base.jpg")
            out.append(f"/{CLOUD}/image/upload/l_x,fl_relative,w_{99.0 - k * 0.01:.2f}/x.png")
        return out

    return itertools.cycle(gen())


@dataclass
class Phase:
    name: str
    hits: list[float] = field(default_factory=list)
    cold: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    timeouts: int = 0
    hostile: Counter[str] = field(default_factory=Counter)
    cpu: float = 0.0
    peak_mb: float = 0.0

    def lines(self, timeout: float) -> list[str]:
        return [
            f"[{self.name}] hits: n={len(self.hits)} p50 {1000 * pct(self.hits, 50):.1f} ms, "
            f"p99 {1000 * pct(self.hits, 99):.1f} ms | cold renders: n={len(self.cold)} "
            f"p50 {1000 * pct(self.cold, 50):.0f} ms, p99 {1000 * pct(self.cold, 99):.0f} ms",
            f"[{self.name}] normal statuses {dict(self.statuses)}; no answer in {timeout:.0f} s: "
            f"{self.timeouts}; hostile got {dict(self.hostile)}; server CPU {self.cpu:.0f} s, "
            f"peak RSS {self.peak_mb:.0f} MB",
        ]


async def run_phase(
    srv: Server, phase: Phase, seconds: float, normal: int, hostile: int, args: argparse.Namespace
) -> None:
    end = time.monotonic() + seconds
    hostile_it = hostile_urls()
    rng = random.Random(phase.name)

    async def normal_client() -> None:
        while time.monotonic() < end:
            hit = rng.random() < args.hit_ratio
            if hit:
                target = rng.choice(HITS)
            else:
                n = next(COLD_IDS)
                size = f"w_{300 + n % 600},h_{200 + n // 600}"
                target = f"/{CLOUD}/image/upload/c_fill,{size}/e_sharpen/base.jpg"
            o = await raw_get(srv.port, target.encode(), args.timeout)
            (phase.hits if hit else phase.cold).append(o.seconds)
            phase.statuses[o.kind] += 1
            phase.timeouts += o.error == "timeout"

    async def hostile_client() -> None:
        while time.monotonic() < end:
            o = await raw_get(srv.port, next(hostile_it).encode(), args.hostile_timeout)
            phase.hostile[o.kind] += 1

    reset_peak_rss(srv)
    cpu0 = cpu_seconds(srv)
    await asyncio.gather(
        *(normal_client() for _ in range(normal)), *(hostile_client() for _ in range(hostile))
    )
    phase.cpu = cpu_seconds(srv) - cpu0
    phase.peak_mb = peak_rss_mb(srv)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seconds", type=float, default=120.0, help="length of each phase")
    p.add_argument("--concurrency", type=int, default=24)
    p.add_argument("--hostile", type=int, default=2)
    p.add_argument("--hit-ratio", type=float, default=0.7)
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("--hostile-timeout", type=float, default=10.0)
    args = p.parse_args()
    normal = args.concurrency - args.hostile
    with running_server() as srv:
        configure_sdk(srv)
        upload_fixtures(srv)
        for url in HITS:  # warm: every hit URL rendered once
            asyncio.run(raw_get(srv.port, url.encode(), 60))
        base, host = Phase("baseline"), Phase("hostile")
        asyncio.run(run_phase(srv, base, args.seconds, normal, 0, args))
        asyncio.run(run_phase(srv, host, args.seconds, normal, args.hostile, args))
        alive = srv.proc is not None and srv.proc.poll() is None
    print(
        f"\n== mixed load: {normal} normal clients (+{args.hostile} hostile in phase 2), "
        f"{args.seconds:.0f} s per phase, hit ratio {args.hit_ratio}, {load_note()}"
    )
    for ph in (base, host):
        for line in ph.lines(args.timeout):
            print(line)

    def ratio(q: float, pick: str) -> str:
        a, b = pct(getattr(base, pick), q), pct(getattr(host, pick), q)
        return f"{b / a:.1f}×" if a > 0 else "n/a"

    print(
        f"hostile / baseline: hits p50 {ratio(50, 'hits')}, p99 {ratio(99, 'hits')}; "
        f"cold renders p50 {ratio(50, 'cold')}, p99 {ratio(99, 'cold')}; server alive: {alive}"
    )


if __name__ == "__main__":
    main()
