"""Speed of a cut-out vs raw onnxruntime inference of the same model, and vs rembg, in one run.

    .venv/bin/python bench/matting_speed.py [--model isnet|u2netp] [--limit 4] [--max-mp 2]
        [--fine] [--rembg /tmp/peers/rembg-venv/bin/python]

Each variant runs in its own process (so its peak RSS is its own) on the same images, in turn:
  raw   — an onnxruntime session with our options, timing `session.run` only on a prepared tensor;
  ours  — `make_cutout` (pre-processing + inference + guided upsampling + decontamination), with the
          refinement steps also timed apart; `--fine` adds a pass with fine_edges;
  rembg — `rembg.remove(image, session)` from PyPI on the same model file (u2netp via U2NET_HOME,
          IS-Net via its `dis_custom` session), if its venv exists (setup: /work/shared/bench).
Images: the dev photos (../shared/data/photos), downscaled to --max-mp megapixels as the server's
pixel limit would. One warm-up per variant, then --runs timed passes; medians are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT.parent / "shared" / "data" / "photos"
REMBG_PY = Path("/tmp/peers/rembg-venv/bin/python")

REMBG_WORKER = r"""
import json, os, resource, statistics, sys, time
from PIL import Image
from rembg import new_session, remove
model, path, runs, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
import onnxruntime as ort
so = ort.SessionOptions(); so.intra_op_num_threads = threads; so.inter_op_num_threads = 1
if model == "u2netp":
    session = new_session("u2netp", sess_opts=so)
else:
    session = new_session("dis_custom", model_path=path, sess_opts=so)
out = {}
for f in sys.argv[5:]:
    im = Image.open(f); im.load()
    remove(im, session=session)
    ts = []
    for _ in range(runs):
        t = time.perf_counter(); remove(im, session=session); ts.append(time.perf_counter() - t)
    out[os.path.basename(f)] = statistics.median(ts)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": out, "peak_rss_mb": rss}))
"""


def load_images(folder: Path, limit: int, max_mp: float, tmp: Path) -> list[Path]:
    """The first `limit` photos, oriented, sRGB, ≤ max_mp megapixels, as PNG files in tmp."""
    import pyvips

    out = []
    for f in sorted(p for p in folder.iterdir() if p.suffix.lower() in {".jpg", ".png"})[:limit]:
        im = pyvips.Image.new_from_file(str(f)).autorot()
        scale = min(1.0, (max_mp * 1e6 / (im.width * im.height)) ** 0.5)
        im = im.resize(scale) if scale < 1 else im
        im = im.colourspace("srgb")[:3] if im.bands >= 3 else im.colourspace("srgb")
        dest = tmp / f"{f.stem}.png"
        im.write_to_file(str(dest))
        out.append(dest)
    return out


def worker(
    variant: str, model: str, models_dir: Path, threads: int, runs: int, files: list[str]
) -> None:
    import numpy as np
    import onnxruntime as ort
    import pyvips

    from alphacdn.models import Matter, make_cutout
    from alphacdn.models.sessions import model_input

    matter = Matter(models_dir, threads)
    spec = matter.spec(model)
    result: dict[str, Any] = {}
    for f in files:
        rgb = np.ascontiguousarray(pyvips.Image.new_from_file(f).numpy()[..., :3])
        if variant == "raw":
            so = ort.SessionOptions()
            so.enable_cpu_mem_arena = False
            so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
            if "session" not in result:
                result["session"] = ort.InferenceSession(str(matter.check(model)), so)
            sess = result["session"]
            x = model_input(rgb, spec)
            name = sess.get_inputs()[0].name
            sess.run(None, {name: x})
            ts = []
            for _ in range(runs):
                t = time.perf_counter()
                sess.run([spec.preprocess.output_name or sess.get_outputs()[0].name], {name: x})
                ts.append(time.perf_counter() - t)
            result[Path(f).name] = {"total": statistics.median(ts)}
            continue
        fine = variant == "fine"
        make_cutout(matter, model, rgb, fine_edges=fine)
        rows = []
        for _ in range(runs):
            t = time.perf_counter()
            cut = make_cutout(matter, model, rgb, fine_edges=fine)
            rows.append({"total": time.perf_counter() - t, **cut.timings})
        result[Path(f).name] = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    result.pop("session", None)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": result, "peak_rss_mb": rss}))


def run(cmd: list[str]) -> dict[str, Any]:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode:
        print(f"  failed: {' '.join(cmd[:4])}…\n{proc.stderr[-1500:]}")
        return {}
    parsed: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return parsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", default="isnet")
    ap.add_argument("--models-dir", type=Path, default=ROOT / "data" / "models")
    ap.add_argument("--images", type=Path, default=PHOTOS)
    ap.add_argument("--limit", type=int, default=4)
    ap.add_argument("--max-mp", type=float, default=2.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--fine", action="store_true", help="also time fine_edges")
    ap.add_argument("--rembg", type=Path, default=REMBG_PY)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("files", nargs="*", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        worker(a.worker, a.model, a.models_dir, a.threads, a.runs, a.files)
        return 0
    if not a.images.is_dir():
        print(f"no images at {a.images}: nothing to measure")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        files = [str(p) for p in load_images(a.images, a.limit, a.max_mp, Path(tmp))]
        common = ["--model", a.model, "--models-dir", str(a.models_dir)]
        common += ["--threads", str(a.threads), "--runs", str(a.runs)]
        results: dict[str, dict[str, Any]] = {}
        for variant in ("raw", "ours", *(["fine"] if a.fine else [])):
            print(f"running {variant} …", flush=True)
            results[variant] = run([sys.executable, __file__, "--worker", variant, *common, *files])
        if a.rembg.is_file():
            print("running rembg …", flush=True)
            model_path = str(a.models_dir / f"{a.model.split('-')[0]}.onnx")
            env_home = tempfile.mkdtemp()
            os.symlink(model_path, Path(env_home) / Path(model_path).name)
            os.environ["U2NET_HOME"] = env_home
            cmd = [
                str(a.rembg),
                "-c",
                REMBG_WORKER,
                a.model,
                str(Path(env_home) / Path(model_path).name),
            ]
            results["rembg"] = run([*cmd, str(a.runs), str(a.threads), *files])
        else:
            print(f"rembg not found at {a.rembg}: skipped")
    report(results, [Path(f).name for f in files], a)
    return 0


def report(results: dict[str, dict[str, Any]], names: list[str], a: argparse.Namespace) -> None:
    raw = results.get("raw", {}).get("seconds", {})
    print(f"\nmodel {a.model}, {a.threads} threads, ≤{a.max_mp} MP, median of {a.runs}; seconds")
    head = f"{'image':<28}{'raw':>7}{'ours':>7}{'infer':>7}{'upsmp':>7}{'decon':>7}"
    print(head + f"{'ratio':>7}{'fine':>7}{'f.edge':>7}{'rembg':>7}{'ratio':>7}")
    cols: dict[str, list[float]] = {}
    for n in names:
        r = raw.get(n, {}).get("total", float("nan"))
        o = results.get("ours", {}).get("seconds", {}).get(n, {})
        f = results.get("fine", {}).get("seconds", {}).get(n, {})
        rb = results.get("rembg", {}).get("seconds", {}).get(n, float("nan"))
        nan = float("nan")
        row = {
            "raw": r, "ours": o.get("total", nan), "infer": o.get("inference", nan),
            "upsmp": o.get("upsample", nan), "decon": o.get("decontaminate", nan),
            "ratio": o.get("inference", nan) / r, "fine": f.get("total", nan),
            "f.edge": f.get("fine_edges", nan), "rembg": rb, "rratio": rb / r,
        }  # fmt: skip
        for k, v in row.items():
            cols.setdefault(k, []).append(v)
        print(f"{n:<28}" + "".join(f"{v:7.2f}" for v in row.values()))
    print(f"{'median':<28}" + "".join(f"{statistics.median(v):7.2f}" for v in cols.values()))
    print("ratio = our inference step (pre/post-processing included) / raw session.run;")
    print("refinement = upsmp + decon (+ f.edge with fine_edges), reported apart.")
    for v, r in results.items():
        if r:
            print(f"peak RSS {v}: {r['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    sys.exit(main())
