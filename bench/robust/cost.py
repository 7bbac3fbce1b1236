"""Cost probe: what the most expensive URLs cost the server, one at a time, each cold.

    python -m bench.robust.cost [--timeout 120] [--idle-wait 300] [--only SUBSTR]
        [--memory-cap-gb 12]

Uploads `base` (480×320 JPEG), `alpha` (320×213 RGBA PNG) and `x` (64×64 PNG), then requests each
URL of `PROBES` (issue 15's table first, then generated expensive ones: big blur radii, upscales,
huge `dpr`, relative layers, text, shadows, AVIF at size) on a fresh connection, one at a time.
For each: status, time to answer (or `timeout`), server CPU-s until the answer and until the
server went idle again (work that goes on after the client left), and peak RSS (VmHWM reset
before each URL). The summary lists the worst by CPU-s.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass

from bench.robust.common import (
    CLOUD,
    configure_sdk,
    cpu_seconds,
    load_note,
    peak_rss_mb,
    print_log_errors,
    raw_get,
    reset_peak_rss,
    rss_mb,
    running_server,
    upload_fixtures,
    wait_idle,
)
from tests.e2e.server import Server

W120 = "W" * 120
#: (label, path after /demo/image/upload/). Issue 15's rows first.
PROBES: list[tuple[str, str]] = [
    ("#3 blur 2000 at w_3000", "w_3000,e_blur:2000/base.jpg"),
    ("#3 relative layer w_99.0 on 64²", "l_x,fl_relative,w_99.0/x.png"),
    ("#3 relative layer w_99.0 as WebP", "l_x,fl_relative,w_99.0/x.webp"),
    ("#8 text without spaces, 120 W", f"l_text:Arial_300:{W120}/base.jpg"),
    ("blur 2000 at w_1000", "w_1000,e_blur:2000/base.jpg"),
    ("blur 2000 at w_2000", "w_2000,e_blur:2000/base.jpg"),
    ("sharpen 2000 at w_3000", "w_3000,e_sharpen:2000/base.jpg"),
    ("upscale to 16384 wide", "w_16384,c_scale/base.jpg"),
    ("upscale 10000x5000 (50 MP)", "w_10000,h_5000,c_scale/base.jpg"),
    ("pad to 16384x16384", "w_16384,h_16384,c_pad,b_red/base.jpg"),
    ("dpr 10 at w_1600", "w_1600,dpr_10.0/base.jpg"),
    ("dpr 10 at w_1600, blur 2000", "w_1600,dpr_10.0,e_blur:2000/base.jpg"),
    ("zoom 100 crop", "c_crop,w_3000,h_3000,z_100/base.jpg"),
    ("rotate 45 at w_10000", "w_10000,a_45/base.jpg"),
    ("shadow 100 on alpha at w_3000", "w_3000/e_shadow:100/alpha.png"),
    ("dropshadow on alpha at w_3000", "w_3000/e_dropshadow/alpha.png"),
    ("vignette at w_5000", "w_5000,e_vignette:100/base.jpg"),
    ("pixelate 200 at w_5000", "w_5000,e_pixelate:200/base.jpg"),
    ("border 1000px at w_5000", "w_5000,bo_1000px_solid_red/base.jpg"),
    ("round corners max at w_5000", "w_5000,r_max/base.jpg"),
    ("AVIF at w_5000", "w_5000/base.avif"),
    ("AVIF q_100 at w_3000 dpr 3", "w_3000,dpr_3.0,q_100/base.avif"),
    ("WebP lossless at w_5000", "w_5000,fl_lossless/base.webp"),
    ("PNG at w_8000", "w_8000/base.png"),
    ("text 200 with spaces", "l_text:Arial_200:" + "%20".join(["word"] * 60) + "/base.jpg"),
    ("text 2000 size", "l_text:Arial_2000:W/base.jpg"),
    (
        "nested relative layers x3",
        "l_x,fl_relative,w_20.0/l_x,fl_relative,w_20.0/l_x,fl_relative,w_20.0/x.png",
    ),
    ("relative layer + blur", "l_base,fl_relative,w_30.0,e_blur:2000/x.png"),
    ("trim at w_8000", "w_8000/e_trim/base.jpg"),
    ("predominant pad at w_8000", "w_8000,h_8000,c_pad,b_auto:predominant/base.jpg"),
    ("g_auto fill at w_8000", "w_8000,h_4000,c_fill,g_auto/base.jpg"),
    ("many blurs chained", "/".join(["e_blur:2000"] * 10) + "/base.jpg"),
    ("many upscales chained", "/".join(["w_2.0"] * 6) + "/base.jpg"),
    # the dearest URLs the default budget (4000 units) still admits: per family, the largest
    # width `transform.cost.check_cost` allows (found as `bench.robust.mixed.worst_allowed` does)
    ("edge: mask expand+feather 100 on alpha", "w_768/e_mask:expand_100;feather_100/alpha.png"),
    ("edge: blur 2000 on alpha", "w_899,e_blur:2000/alpha.png"),
    ("edge: blur 2000 on the JPEG", "w_2594,e_blur:2000/base.jpg"),
    ("edge: g_auto fill", "w_2798,h_4000,c_fill,g_auto/base.jpg"),
    ("edge: shadow 100 on alpha", "w_2756/e_shadow:100/alpha.png"),
    ("edge: AVIF upscale", "w_5640/f_avif/base.jpg"),
    ("edge: sharpen 2000", "w_3989/e_sharpen:2000/base.jpg"),
    ("edge: vignette, saturation, sharpen", "w_3410/e_vignette/e_saturation:50/e_sharpen/base.jpg"),
]


@dataclass
class Probe:
    label: str
    path: str
    status: str
    seconds: float
    cpu_answer: float
    cpu_total: float
    peak_mb: float
    base_mb: float


def probe(srv: Server, label: str, path: str, timeout: float, idle_wait: float) -> Probe:
    """One URL, cold: status, time, CPU-s to the answer and to idle, peak RSS."""
    wait_idle(srv, 30)
    reset_peak_rss(srv)
    base = rss_mb(srv)
    cpu0 = cpu_seconds(srv)
    target = f"/{CLOUD}/image/upload/{path}".encode()
    o = asyncio.run(raw_get(srv.port, target, timeout))
    cpu_answer = cpu_seconds(srv) - cpu0
    cpu_total = wait_idle(srv, idle_wait) - cpu0
    return Probe(label, path, o.kind, o.seconds, cpu_answer, cpu_total, peak_rss_mb(srv), base)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--timeout", type=float, default=120.0, help="client gives up after (s)")
    p.add_argument("--idle-wait", type=float, default=300.0, help="wait for idle after (s)")
    p.add_argument("--only", default="", help="only probes whose label contains this")
    p.add_argument("--memory-cap-gb", type=float, default=12.0, help="0 = no cap")
    args = p.parse_args()
    cap = int(args.memory_cap_gb * 2**30) or None
    rows = []
    with running_server(memory_cap=cap) as srv:
        configure_sdk(srv)
        upload_fixtures(srv)
        for label, path in PROBES:
            if args.only in label:
                r = probe(srv, label, path, args.timeout, args.idle_wait)
                rows.append(r)
                print(
                    f"{r.status:>8} {r.seconds:7.2f} s  "
                    f"CPU {r.cpu_answer:6.1f} / {r.cpu_total:6.1f} s"
                    f"  peak {r.peak_mb:6.0f} MB (+{r.peak_mb - r.base_mb:.0f})  {label}",
                    flush=True,
                )
        alive = srv.proc is not None and srv.proc.poll() is None
        print_log_errors(srv)
    print(
        f"\n== cost probe: {len(rows)} URLs, timeout {args.timeout:.0f} s, RLIMIT_AS "
        f"{args.memory_cap_gb:g} GB, {load_note()}"
    )
    print(
        "| URL (after /demo/image/upload/) | what | status | time to answer | CPU-s to answer "
        "| CPU-s to idle | peak RSS (MB) |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in sorted(rows, key=lambda r: -r.cpu_total):
        path = r.path if len(r.path) < 70 else r.path[:60] + "…"
        print(
            f"| `{path}` | {r.label} | {r.status} | {r.seconds:.2f} s | {r.cpu_answer:.1f} "
            f"| {r.cpu_total:.1f} | {r.peak_mb:.0f} |"
        )
    print(
        f"[server] alive at the end: {alive}; worst CPU-s {max(r.cpu_total for r in rows):.1f}; "
        f"worst peak RSS {max(r.peak_mb for r in rows):.0f} MB"
    )


if __name__ == "__main__":
    main()
