"""Animated GIF → resized animated WebP: alphacdn's render vs pyvips and gifsicle, same run.

    python -m bench.animation [--frames 100] [--size 480x360] [--width 240] [--runs 5]

Makes a `--frames`-frame animated GIF (a moving gradient with a moving box: no two frames alike),
then times, each in a fresh subprocess so its peak RSS is its own:

- alphacdn: `engine.render` of `c_scale,w_<width>/f_webp` (decode every frame, resize each,
  join, encode animated WebP) — the work a cold delivery does;
- pyvips: `thumbnail_buffer(n=-1)` + `webpsave` in-process, the vips way to do the same;
- gifsicle `--resize-width` (GIF to GIF, no WebP: the classic GIF tool), when installed
  (`apt-get install gifsicle`).

Prints median wall time per conversion, the ratio to pyvips, peak RSS and output bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyvips

ROOT = Path(__file__).resolve().parents[1]

_CHILD = r"""
import json, resource, sys, time
import pyvips
kind, src, width, runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
data = open(src, "rb").read()
if kind == "alphacdn":
    from alphacdn.engine import render
    from alphacdn.transform.parse import parse_chain
    plan = parse_chain(f"c_scale,w_{width}/f_webp")
    def once():
        return render(data, plan, max_pixels=200_000_000).body
else:
    def once():
        im = pyvips.Image.thumbnail_buffer(data, width, height=100_000, option_string="n=-1")
        return bytes(im.webpsave_buffer(Q=80, effort=4))
times, out = [], b""
for _ in range(runs):
    t0 = time.perf_counter()
    out = once()
    times.append(time.perf_counter() - t0)
frames = pyvips.Image.new_from_buffer(out, "", n=-1).get("n-pages")
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across fork + exec
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0].split()[1]
print(json.dumps({"times": times, "bytes": len(out), "frames": frames, "rss": int(hwm)}))
"""


def make_gif(path: Path, frames: int, width: int, height: int) -> None:
    xy = pyvips.Image.xyz(width, height)
    images = []
    for i in range(frames):
        r = (xy[0] * 255 / width + i * 5) % 256
        g = (xy[1] * 255 / height + i * 3) % 256
        b = ((xy[0] + xy[1] + i * 7) % 64) * 4
        frame = r.bandjoin([g, b]).cast("uchar").copy(interpretation="srgb")
        box = (pyvips.Image.black(40, 40, bands=3) + 255).cast("uchar")
        images.append(frame.insert(box, (i * 9) % (width - 40), (i * 5) % (height - 40)))
    strip = pyvips.Image.arrayjoin(images, across=1).copy()
    strip.set_type(pyvips.GValue.gint_type, "page-height", height)
    strip.set_type(pyvips.GValue.array_int_type, "delay", [40] * frames)
    strip.set_type(pyvips.GValue.gint_type, "loop", 0)
    path.write_bytes(strip.gifsave_buffer())


def run_python(kind: str, src: Path, width: int, runs: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, kind, str(src), str(width), str(runs)],
        capture_output=True,
        check=True,
        text=True,
        env=env,
        timeout=600,
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    return {
        "median_s": statistics.median(got["times"]),
        "rss_mb": got["rss"] / 1024,
        "bytes": got["bytes"],
        "frames": got["frames"],
    }


def _hwm_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_gifsicle(src: Path, width: int, runs: int, tmp: Path) -> dict[str, float] | None:
    exe = shutil.which("gifsicle")
    if exe is None:
        return None
    out = tmp / "gifsicle.gif"
    times, peak = [], 0
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [exe, "--resize-width", str(width), str(src), "-o", str(out)],
            stderr=subprocess.DEVNULL,
        )
        while proc.poll() is None:  # VmHWM of the running process (ru_maxrss would carry ours)
            peak = max(peak, _hwm_kb(proc.pid))
            time.sleep(0.01)
        times.append(time.perf_counter() - t0)
        if proc.returncode != 0 or time.perf_counter() - t0 > 600:
            raise RuntimeError(f"gifsicle failed ({proc.returncode})")
    frames = pyvips.Image.new_from_file(str(out), n=-1).get("n-pages")
    return {
        "median_s": statistics.median(times),
        "rss_mb": peak / 1024,
        "bytes": out.stat().st_size,
        "frames": frames,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--frames", type=int, default=100)
    p.add_argument("--size", default="480x360")
    p.add_argument("--width", type=int, default=240)
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        src = tmp / "source.gif"
        make_gif(src, args.frames, w, h)
        print(
            f"source: {args.frames} frames of {w}x{h} GIF, {src.stat().st_size / 1e6:.2f} MB; "
            f"→ width {args.width}; median of {args.runs}; load {os.getloadavg()[0]:.1f}"
        )
        gifsicle = run_gifsicle(src, args.width, args.runs, tmp)  # first: its RSS is its own
        rows = {
            "pyvips (thumbnail n=-1 → webp)": run_python("pyvips", src, args.width, args.runs),
            "alphacdn engine.render → webp": run_python("alphacdn", src, args.width, args.runs),
        }
        if gifsicle is not None:
            rows["gifsicle --resize-width (→ gif)"] = gifsicle
    base = rows["pyvips (thumbnail n=-1 → webp)"]["median_s"]
    print(f"{'':34} {'median s':>9} {'× pyvips':>9} {'peak RSS MB':>12} {'bytes':>10} frames")
    for name, r in rows.items():
        print(
            f"{name:34} {r['median_s']:9.3f} {r['median_s'] / base:9.2f} {r['rss_mb']:12.0f} "
            f"{int(r['bytes']):10d} {int(r['frames'])}"
        )
    if gifsicle is None:
        print("gifsicle: not installed (apt-get install gifsicle), row left out")


if __name__ == "__main__":
    main()
