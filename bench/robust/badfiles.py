"""Bad-file corpus through upload, delivery (`w_200`) and `/v1.0/removebg` (source and backdrop).

    python -m bench.robust.badfiles [--out DIR] [--only SUBSTR] [--timeout 60] [--concurrency 2]
        [--surfaces upload,delivery,removebg,backdrop] [--memory-cap-gb 12] [--show 10]

The corpus (`bench/robust/corpus.py`, ≥ 300 files made in code) is written to `--out` when given
(file names say what each file is). Each file is sent
  * upload:    a signed multipart `POST /v1_1/demo/image/upload` (public_id `bad/<name>`);
  * delivery:  `GET /demo/image/upload/c_scale,w_200/bad/<name>.png` for every file that uploaded;
  * removebg:  `POST /v1.0/removebg` with the file as `image_file` (dev key);
  * backdrop:  the same with a valid photo as `image_file` and the file as `bg_image_file`.
Per surface: status histogram, 5xx, dropped connections, no answer within `--timeout`, worst
request time, CPU-s of the server and its peak RSS (VmHWM, reset before each surface). After a
request that got no answer, the tool waits (≤ 300 s) for the server to go idle, so the next file
is not measured under the abandoned work. `--memory-cap-gb` sets RLIMIT_AS on the server (a
shared machine's guard: a bomb then fails inside the server instead of eating the host).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from bench.robust.common import (
    CLOUD,
    FIXTURES,
    REMOVEBG_KEY,
    Outcome,
    Tally,
    classify_httpx,
    cpu_seconds,
    load_note,
    peak_rss_mb,
    print_log_errors,
    reset_peak_rss,
    running_server,
    signed_form,
    wait_idle,
)
from bench.robust.corpus import corpus
from tests.e2e.server import Server

FOREGROUND = FIXTURES / "tiger-on-backdrop.jpg"
SURFACES = ("upload", "delivery", "removebg", "backdrop")


def _send(name: str, call: Callable[[], httpx.Response]) -> Outcome:
    t0 = time.perf_counter()
    try:
        r = call()
        return Outcome(name, r.status_code, time.perf_counter() - t0, body=r.content[:300])
    except httpx.HTTPError as exc:
        return Outcome(name, None, time.perf_counter() - t0, classify_httpx(exc))


def request_for(
    surface: str, srv: Server, client: httpx.Client, name: str, data: bytes
) -> Callable[[], httpx.Response]:
    """The request that sends one bad file to one surface."""
    if surface == "upload":
        return lambda: client.post(
            f"{srv.url}/v1_1/{CLOUD}/image/upload",
            data=signed_form(f"bad/{name}"),
            files={"file": (name, data, "application/octet-stream")},
        )
    if surface == "delivery":
        return lambda: client.get(f"{srv.url}/{CLOUD}/image/upload/c_scale,w_200/bad/{name}.png")
    headers = {"X-Api-Key": REMOVEBG_KEY}
    if surface == "removebg":
        files = {"image_file": (name, data, "application/octet-stream")}
    else:
        files = {
            "image_file": ("fg.jpg", FOREGROUND.read_bytes(), "image/jpeg"),
            "bg_image_file": (name, data, "application/octet-stream"),
        }
    return lambda: client.post(f"{srv.url}/v1.0/removebg", files=files, headers=headers)


def run_surface(
    srv: Server,
    surface: str,
    files: list[tuple[str, bytes]],
    timeout: float,
    concurrency: int,
    idle_wait: float = 300.0,
    stop_on_no_answer: bool = False,
) -> tuple[Tally, float, float]:
    """Every file through one surface: (tally, CPU-s, peak RSS MB).

    `stop_on_no_answer`: stop after the first batch with a request that got no answer (the
    server is then busy with abandoned work, so what follows would measure that).
    """
    tally = Tally(surface)
    reset_peak_rss(srv)
    cpu0 = cpu_seconds(srv)
    with httpx.Client(timeout=timeout) as client, ThreadPoolExecutor(concurrency) as pool:

        def one(item: tuple[str, bytes]) -> Outcome:
            return _send(item[0], request_for(surface, srv, client, *item))

        for i in range(0, len(files), concurrency):
            batch = list(pool.map(one, files[i : i + concurrency]))
            for o in batch:
                tally.add(o)
            if any(o.status is None for o in batch):
                if stop_on_no_answer:
                    break
                if idle_wait:
                    wait_idle(srv, idle_wait)  # abandoned work would skew the files after it
    return tally, cpu_seconds(srv) - cpu0, peak_rss_mb(srv)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", type=Path, help="also write the corpus to this folder")
    p.add_argument("--only", default="", help="only files whose name contains this")
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--concurrency", type=int, default=2)
    p.add_argument("--surfaces", default=",".join(SURFACES))
    p.add_argument("--memory-cap-gb", type=float, default=12.0, help="0 = no cap")
    p.add_argument("--show", type=int, default=10)
    args = p.parse_args()
    files = [(n, d) for n, d in corpus() if args.only in n]
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        for n, d in files:
            (args.out / n).write_bytes(d)
        print(f"wrote {len(files)} files to {args.out}")
    cap = int(args.memory_cap_gb * 2**30) or None
    results = []
    with running_server(memory_cap=cap) as srv:
        t_start = time.monotonic()
        uploaded: list[tuple[str, bytes]] = []
        for surface in args.surfaces.split(","):
            todo = uploaded if surface == "delivery" else files
            tally, cpu, rss = run_surface(srv, surface, todo, args.timeout, args.concurrency)
            if surface == "upload":
                ok = {o.target for o in tally.outcomes if o.status == 200}
                uploaded = [(n, d) for n, d in files if n in ok]
            results.append((tally, cpu, rss))
            print(f"  {surface}: done in {time.monotonic() - t_start:.0f} s", flush=True)
        alive = srv.proc is not None and srv.proc.poll() is None
        print(
            f"\n== bad files: {len(files)} files, concurrency {args.concurrency}, timeout "
            f"{args.timeout:.0f} s, RLIMIT_AS {args.memory_cap_gb:g} GB, {load_note()}"
        )
        for tally, cpu, rss in results:
            for line in tally.lines(args.show):
                print(line)
            slow = ", ".join(f"{o.target} {o.seconds:.1f}s" for o in tally.worst(3))
            print(f"[{tally.name}] CPU {cpu:.1f} s; peak RSS {rss:.0f} MB; slowest: {slow}")
        print(f"[server] alive at the end: {alive}")
        print_log_errors(srv)


if __name__ == "__main__":
    main()
