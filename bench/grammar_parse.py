# ruff: noqa: E501
"""The cost of issue 14's grammar on the hot path: parse time per URL and the cache-hit CPU,
this tree against a baseline tree, measured in the same run.

    .venv/bin/python bench/grammar_parse.py [--before /tmp/grammar-before] [--n 20000] [--hits 4000]

`--before` is a copy of the tree before the grammar (e.g. `git archive 31e4016 | tar -x -C
/tmp/grammar-before`). Each tree runs in its own subprocess (its `alphacdn` first on the path):

  parse   parse_url + canonical per URL, CPU µs (median of 5 rounds of --n parses over each set):
          `plain`: the URLs the baseline also parses (resize, effects, f_auto, layers, named);
          `sdk`: the url-gen fixture URLs (tests/fixtures/urlgen/urls.tsv) — the baseline
          refuses most with a 400, so it is timed on the ones it parses
  hit     CPU per cache-hit request through the ASGI app in process (no sockets), µs, for a
          static URL and (this tree only) a `w_auto` URL with a Sec-CH-Width hint

Trees alternate for `--rounds` rounds; each figure is the lowest of its rounds. Prints one line
per figure and the ratio after/before.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent.parent
PLAIN = [
    "/demo/image/upload/c_fill,g_auto,h_300,w_400/f_auto,q_auto/v1/shop/shoe.jpg",
    "/demo/image/upload/e_background_removal/c_pad,b_white,h_500,w_500/e_dropshadow/shoe.png",
    "/demo/image/upload/w_640/shoe",
    "/demo/image/upload/c_scale,w_800/e_sharpen/q_80/shoe.webp",
    "/demo/image/upload/l_logo,w_0.2,fl_relative,g_south_east,x_10,y_10/f_auto/shoe",
    "/demo/image/upload/co_black,e_colorize:70/shoe",
    "/demo/image/upload/e_blur:2000/q_auto/f_auto/shoe",
    "/demo/image/upload/a_90,r_max,bo_4px_solid_black/shoe.png",
]


def child(args: argparse.Namespace) -> None:
    """Measure in this process (the tree under test is first on sys.path)."""
    from alphacdn.transform import CdnError, canonical, parse_url

    fixture = [line.split("\t")[1].split("?")[0]
               for line in (HERE / "tests/fixtures/urlgen/urls.tsv").read_text().splitlines()]  # fmt: skip
    out: dict[str, float | int] = {}

    def parses(path: str) -> bool:
        try:
            parse_url(path)
            return True
        except CdnError:
            return False

    for name, urls in (("plain", PLAIN), ("sdk", fixture)):
        ok = [u for u in urls if parses(u)]
        rounds = []
        for _ in range(5):
            t0 = time.process_time()
            for i in range(args.n):
                req = parse_url(ok[i % len(ok)])
                canonical(req.plan)
            rounds.append((time.process_time() - t0) / args.n * 1e6)
        out[f"parse_{name}_us"] = statistics.median(rounds)
        out[f"parse_{name}_urls"] = len(ok)
    out.update(asyncio.run(hits(args)))
    print(json.dumps(out))


async def hits(args: argparse.Namespace) -> dict[str, float]:
    from dataclasses import replace

    import pyvips

    from alphacdn.app import create_app
    from alphacdn.cache import LocalOriginals
    from alphacdn.settings import Settings

    root = pathlib.Path(tempfile.mkdtemp(prefix="grammar-bench-"))
    s = Settings.for_data_dir(root)
    s = replace(s, engine=replace(s.engine, vips_cache_mb=0))
    app = create_app(s)
    img = pyvips.Image.black(64, 48, bands=3).linear(1, [200, 40, 90]).cast("uchar")
    LocalOriginals(s.cache.originals_dir).put(
        "demo", "shoe", img.pngsave_buffer(), {"format": "png", "width": 64, "height": 48}
    )

    async def one(path: str, headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(),
                 "query_string": b"", "root_path": "",
                 "headers": [(b"host", b"127.0.0.1"), (b"accept", b"*/*"), *headers],
                 "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 8800)}  # fmt: skip
        got: list[tuple[int, bytes]] = []
        sent = [False]

        async def receive() -> dict[str, object]:
            if sent[0]:  # the client stays connected (a disconnect check waits here)
                await asyncio.Event().wait()
            sent[0] = True
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, object]) -> None:
            if message["type"] == "http.response.start":
                cache = dict(message["headers"]).get(b"x-alphacdn-cache", b"")  # type: ignore[call-overload]
                got.append((message["status"], cache))  # type: ignore[arg-type]

        await app(scope, receive, send)
        return got[0]

    out: dict[str, float] = {}
    cases = {"hit_static_us": ("/demo/image/upload/c_fill,h_30,w_40/f_webp/shoe", [])}
    if args.hints:
        cases["hit_w_auto_us"] = ("/demo/image/upload/c_scale,w_auto/f_webp/shoe",
                                  [(b"sec-ch-width", b"40")])  # fmt: skip
    for name, (path, headers) in cases.items():
        await one(path, headers)
        status, cache = await one(path, headers)
        assert (status, cache) == (200, b"HIT"), (path, status, cache)
        reps = []
        for _ in range(5):
            c0 = time.process_time()
            for _ in range(args.hits):
                await one(path, headers)
            reps.append((time.process_time() - c0) / args.hits * 1e6)
        out[name] = statistics.median(reps)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--before", default="/tmp/grammar-before")
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--hits", type=int, default=4000)
    ap.add_argument("--child", action="store_true")
    ap.add_argument("--hints", action="store_true")
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    if a.child:
        child(a)
        return
    results: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    for _ in range(a.rounds):  # alternated, so a change of load hits both trees alike
        for name, root in (("before", pathlib.Path(a.before)), ("after", HERE)):
            env = {**os.environ, "PYTHONPATH": str(root)}
            cmd = [sys.executable, str(pathlib.Path(__file__).resolve()), "--child",
                   "--n", str(a.n), "--hits", str(a.hits)] + (["--hints"] if name == "after" else [])  # fmt: skip
            done = subprocess.run(
                cmd, env=env, cwd=root, capture_output=True, text=True, check=True
            )
            results[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
    # the least disturbed round of each figure
    before, after = ({k: min(r[k] for r in runs) for k in runs[0]}
                     for runs in (results["before"], results["after"]))  # fmt: skip
    print(f"load {os.getloadavg()[0]:.1f}")
    for key in after:
        b = before.get(key)
        ratio = f"  ratio {after[key] / b:.2f}" if isinstance(b, float) and b else ""
        print(
            f"{key:22s} before {b if b is not None else '-':>10}  after {after[key]:>10.2f}{ratio}"
            if isinstance(after[key], float)
            else f"{key:22s} before {b}  after {after[key]}"
        )


if __name__ == "__main__":
    main()
