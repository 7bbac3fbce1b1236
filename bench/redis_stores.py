"""Benchmark: the Redis stores vs the embedded (diskcache) ones, per call, in the same run.

Starts a throwaway redis-server on loopback with `scripts/services/redis.sh` (or uses
`--url`), then times, for each backend, rounds of: a job's life (submit → claim → renew →
finish), `get` of a job, a claim taken and released, `add_within`, and an eager-list read.
Rounds of the two backends are interleaved; prints the median µs per call and the ratio.

    .venv/bin/python bench/redis_stores.py [--rounds 7] [--n 300]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import redis

from alphacdn.cache import Claims, DiskCounters, EagerChains, JobStore
from alphacdn.cache.redis_claims import RedisClaims
from alphacdn.cache.redis_client import connect
from alphacdn.cache.redis_counters import RedisCounters
from alphacdn.cache.redis_eager import RedisEager
from alphacdn.cache.redis_queue import RedisJobQueue

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.ports import free_port  # noqa: E402

REDIS_SH = ROOT / "scripts" / "services" / "redis.sh"

Ops = dict[str, Callable[[int], object]]


def ops(
    queue: JobStore | RedisJobQueue,
    claims: Claims | RedisClaims,
    counters: DiskCounters | RedisCounters,
    eager: EagerChains | RedisEager,
) -> Ops:
    eager.add("demo/a", "c_fill,h_300,w_400")
    queue.submit("probe", "matte", {"asset": "demo/a"})

    def job_life(i: int) -> object:
        queue.submit(f"j{i}", "matte", {"asset": "demo/a", "i": i})
        rec = queue.claim_next("bench", 30)
        assert rec is not None
        queue.renew(rec.key, "bench", 30)
        queue.finish(rec.key, {"bytes": 1})
        return queue.delete(rec.key)

    def claim(i: int) -> object:
        token = claims.try_claim(f"k{i}", 10)
        assert token is not None
        return claims.release(f"k{i}", token)

    return {
        "job life (5 calls)": job_life,
        "job get": lambda i: queue.get("probe"),
        "claim + release": claim,
        "counters.add_within": lambda i: counters.add_within("rate", 1, limit=1e12, expire=60),
        "eager.chains": lambda i: eager.chains("demo/a"),
    }


def timed(fn: Callable[[int], object], n: int) -> float:
    started = time.perf_counter()
    for i in range(n):
        fn(i)
    return (time.perf_counter() - started) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--n", type=int, default=300, help="calls per operation per round")
    ap.add_argument("--url", help="an existing Redis (default: start one)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        url = args.url
        if url is None:
            port = free_port()
            subprocess.run(
                ["bash", str(REDIS_SH), "start", str(state / "redis"), str(port)],
                check=True,
                capture_output=True,
                timeout=600,
            )
            url = f"redis://127.0.0.1:{port}/0"
        try:
            client: redis.Redis = connect(url)
            prefix = f"bench:{{{time.time_ns()}}}:"
            backends = {
                "diskcache": ops(
                    JobStore(state / "jobs"),
                    Claims(state / "claims"),
                    DiskCounters(state / "counters"),
                    EagerChains(state / "eager"),
                ),
                "redis": ops(
                    RedisJobQueue(client, prefix=prefix + "jobs:"),
                    RedisClaims(client, prefix=prefix + "claims:"),
                    RedisCounters(client, prefix=prefix + "counters:"),
                    RedisEager(client, prefix=prefix + "eager:"),
                ),
            }
            samples: dict[tuple[str, str], list[float]] = {}
            for r in range(args.rounds):
                for name, table in backends.items():
                    for op, fn in table.items():
                        # distinct keys per round: each job and claim is new
                        offset = r * args.n
                        us = timed(lambda i, fn=fn, o=offset: fn(o + i), args.n)
                        samples.setdefault((name, op), []).append(us)
            print(f"median µs per call, {args.rounds} rounds × {args.n} calls, redis at {url}")
            print(f"{'operation':<22}{'diskcache':>12}{'redis':>12}{'redis/disk':>12}")
            for op in backends["redis"]:
                disk = statistics.median(samples[("diskcache", op)])
                red = statistics.median(samples[("redis", op)])
                print(f"{op:<22}{disk:>12.1f}{red:>12.1f}{red / disk:>12.2f}")
        finally:
            if args.url is None:
                subprocess.run(
                    ["bash", str(REDIS_SH), "stop", str(state / "redis")],
                    capture_output=True,
                    timeout=60,
                )


if __name__ == "__main__":
    main()
