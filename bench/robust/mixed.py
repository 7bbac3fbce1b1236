"""Mixed load: normal clients' hits and cold renders, without and then with two hostile clients.

    python -m bench.robust.mixed [--seconds 120] [--concurrency 24] [--hostile 2]
        [--hostile-parallel 4] [--hostile-urls allowed|issue] [--hit-ratio 0.7] [--timeout 30]
        [--hostile-timeout 10]

One server (default settings, 1 worker) on loopback, fixtures uploaded, 40 hit URLs rendered
once beforehand. Two phases of `--seconds` each, in the same run, with the same normal load:
  1. baseline: `concurrency − hostile` normal clients, closed loop, each request a cache hit
     (one of the 40, `--hit-ratio`) or a cold render (a unique `c_fill` size of `base` with
     `e_sharpen`, ~0.1 CPU-s);
  2. hostile: the same normal clients plus `--hostile` clients cycling through the worst URLs
     the server accepts, made unique per request so each is cold, each client keeping
     `--hostile-parallel` requests in flight and giving up on one after `--hostile-timeout` s
     to send the next, as an attacker would. `--hostile-urls allowed` (the default): the dearest
     URLs the default render budget still admits, found with the server's own estimate
     (`transform.cost.check_cost`, see `worst_allowed`); `issue`: issue 15's
     `w_3000,e_blur:2000` and `l_x,fl_relative,w_99.0` (refused with 400 since the budget).
Every client has an address of its own (`X-Forwarded-For`, with
`ALPHACDN_TRUST_FORWARDED_FOR=true`), so per-client render slots apply to each as they would to
separate machines behind a proxy, and not to all of loopback as one client.
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


#: fixtures as the server stores them: public_id → (width, height, format, file name)
FIXTURE_SIZES = {"base": (480, 320, "jpg"), "alpha": (320, 213, "png"), "x": (64, 64, "png")}
#: the dearest families found on this machine (`bench/cost_model.py`'s way: units vs CPU-s)
#: at the budget's edge, default settings: `e_mask` on RGBA ≈ 3.1 CPU-s, a float blur on RGBA
#: ≈ 2.8, an 8-bit blur on the JPEG ≈ 2.3 (the dearest of ~20 families tried, each at the
#: largest `{}` the budget admits). `{}` is the width; each family's source after the slash.
WORST_FAMILIES = [
    ("w_{}/e_mask:expand_100;feather_100", "alpha"),
    ("w_{},e_blur:2000", "alpha"),
    ("w_{},e_blur:2000", "base"),
]


def worst_allowed(budget: float, max_canvas: int) -> list[tuple[str, str, int]]:
    """Per family, the largest width the budget admits: (pattern, fixture, width)."""
    from alphacdn.transform import parse_chain
    from alphacdn.transform.cost import check_cost
    from alphacdn.transform.errors import InvalidTransformation

    sizes = {pid: (w, h) for pid, (w, h, _) in FIXTURE_SIZES.items()}

    def allowed(chain: str, pid: str) -> bool:
        w, h, fmt = FIXTURE_SIZES[pid]
        try:
            check_cost(parse_chain(chain), w, h, budget=budget, max_canvas=max_canvas,
                       source_format=fmt, layer_sizes=sizes)  # fmt: skip
        except InvalidTransformation:
            return False
        return True

    out = []
    for pattern, pid in WORST_FAMILIES:
        lo, hi, best = 1, 20_000, 0
        while lo <= hi:  # the cost grows with the width
            mid = (lo + hi) // 2
            if allowed(pattern.format(mid), pid):
                best, lo = mid, mid + 1
            else:
                hi = mid - 1
        if best:
            out.append((pattern, pid, best))
    return out


def hostile_urls(kind: str) -> itertools.cycle[str]:
    """The worst URLs, each unique (so never a cache hit)."""
    out = []
    if kind == "issue":
        # 1 px and 1 blur step less per variant: from k = 296 (`w_2704,e_blur:1704`) the blur
        # is under the default budget and rendered, so a long run drifts to the edge case
        for k in range(500):
            out.append(f"/{CLOUD}/image/upload/w_{3000 - k},e_blur:{2000 - k}/base.jpg")
            out.append(f"/{CLOUD}/image/upload/l_x,fl_relative,w_{99.0 - k * 0.01:.2f}/x.png")
        return itertools.cycle(out)
    from alphacdn.settings import EngineSettings

    settings = EngineSettings()
    edges = worst_allowed(settings.render_budget, settings.max_canvas_pixels)
    ext = {"jpg": "jpg", "png": "png"}
    for k in range(500):  # a width k px under the edge: as dear, still allowed, a new URL
        for pattern, pid, width in edges:
            name = f"{pid}.{ext[FIXTURE_SIZES[pid][2]]}"
            out.append(f"/{CLOUD}/image/upload/{pattern.format(width - k)}/{name}")
    return itertools.cycle(out)


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
    hostile_it = hostile_urls(args.hostile_urls)
    rng = random.Random(phase.name)

    async def normal_client(index: int) -> None:
        xff = f"X-Forwarded-For: 10.0.{index // 250}.{1 + index % 250}\r\n".encode()
        while time.monotonic() < end:
            hit = rng.random() < args.hit_ratio
            if hit:
                target = rng.choice(HITS)
            else:
                n = next(COLD_IDS)
                size = f"w_{300 + n % 600},h_{200 + n // 600}"
                target = f"/{CLOUD}/image/upload/c_fill,{size}/e_sharpen/base.jpg"
            o = await raw_get(srv.port, target.encode(), args.timeout, headers=xff)
            (phase.hits if hit else phase.cold).append(o.seconds)
            phase.statuses[o.kind] += 1
            phase.timeouts += o.error == "timeout"

    async def hostile_connection(index: int) -> None:
        xff = f"X-Forwarded-For: 10.66.0.{1 + index}\r\n".encode()
        while time.monotonic() < end:
            o = await raw_get(
                srv.port, next(hostile_it).encode(), args.hostile_timeout, headers=xff
            )
            phase.hostile[o.kind] += 1

    reset_peak_rss(srv)
    cpu0 = cpu_seconds(srv)
    await asyncio.gather(
        *(normal_client(i) for i in range(normal)),
        *(hostile_connection(j) for j in range(hostile) for _ in range(args.hostile_parallel)),
    )
    phase.cpu = cpu_seconds(srv) - cpu0
    phase.peak_mb = peak_rss_mb(srv)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seconds", type=float, default=120.0, help="length of each phase")
    p.add_argument("--concurrency", type=int, default=24)
    p.add_argument("--hostile", type=int, default=2)
    p.add_argument(
        "--hostile-parallel", type=int, default=4, help="requests each hostile client keeps open"
    )
    p.add_argument("--hostile-urls", choices=["allowed", "issue"], default="allowed")
    p.add_argument("--hit-ratio", type=float, default=0.7)
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("--hostile-timeout", type=float, default=10.0)
    args = p.parse_args()
    normal = args.concurrency - args.hostile
    with running_server(env={"ALPHACDN_TRUST_FORWARDED_FOR": "true"}) as srv:
        configure_sdk(srv)
        upload_fixtures(srv)
        for url in HITS:  # warm: every hit URL rendered once
            asyncio.run(raw_get(srv.port, url.encode(), 60))
        base, host = Phase("baseline"), Phase("hostile")
        asyncio.run(run_phase(srv, base, args.seconds, normal, 0, args))
        asyncio.run(run_phase(srv, host, args.seconds, normal, args.hostile, args))
        alive = srv.proc is not None and srv.proc.poll() is None
    print(
        f"\n== mixed load: {normal} normal clients (+{args.hostile} hostile in phase 2, "
        f"{args.hostile_parallel} requests open each), {args.seconds:.0f} s per phase, "
        f"hit ratio {args.hit_ratio}, {load_note()}"
    )
    print(f"hostile URLs ({args.hostile_urls}), first of each: {first_hostile(args.hostile_urls)}")
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


def first_hostile(kind: str) -> str:
    it = hostile_urls(kind)
    n = 2 if kind == "issue" else len(WORST_FAMILIES)
    return ", ".join(next(it).split("/upload/", 1)[1] for _ in range(n))


if __name__ == "__main__":
    main()
