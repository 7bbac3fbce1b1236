"""The person route's cost: first request → matte ready, warm seconds, peak RSS, throughput.

    PYTHONPATH=. .venv/bin/python bench/person_speed.py [--models-dir DIR] [--photos a.jpg …]
        [--rounds 2] [--json out.json]

Three variants, each in a fresh process per photo (so the first run pays session creation, as a
server's first request does, and the peak RSS belongs to that variant alone):

- `isnet`: the raw IS-Net alpha resized bilinearly (what rembg ships; the baseline);
- `ours`: `MatteModels.make` with person routing off (ALPHACDN_PERSON_MODEL=none);
- `routed`: `MatteModels.make` with routing on (detector + RVM loaded when a person is found).

"first" is the first make in the process (session creation included), "warm" the mean of the
later rounds. Photos come from ../shared/data/photos, decoded by the engine with the server's
bounds. Ratios are against `isnet` in the same run.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT.parent / "shared" / "data" / "photos"
DEFAULT_PHOTOS = ("portrait-longhair.jpg", "portrait-redhair.jpg", "dog-bike.jpg")
VARIANTS = ("isnet", "ours", "routed")


def child(variant: str, photo: str, models_dir: str, rounds: int) -> dict[str, Any]:
    """One variant on one photo, in this process."""
    import numpy as np

    from alphacdn import engine
    from alphacdn.models import Matter
    from alphacdn.models.matting import MATTE_MAX_PIXELS, Codec, MatteModels
    from alphacdn.models.refine import resize_float

    data = (PHOTOS / photo).read_bytes()
    matter = Matter(Path(models_dir), ort_threads=2)
    codec = Codec(encode=engine.encode_rgba_png, decode=engine.decode_rgba_png)
    person = "rvm" if variant == "routed" else None
    models = MatteModels(matter, codec, detector_threads=2, person_model=person)
    seconds, route = [], ""
    for _ in range(rounds):
        t0 = time.perf_counter()
        picture = engine.Picture(data, max_pixels=50_000_000, fit_pixels=MATTE_MAX_PIXELS)
        if variant == "isnet":
            rgb = picture.rgb()
            low = matter.predict("isnet", rgb)
            alpha = np.clip(resize_float(low, rgb.shape[1], rgb.shape[0]), 0, 1)
            rgba = np.dstack([rgb, np.rint(alpha * 255).astype(np.uint8)])
            codec.encode(np.ascontiguousarray(rgba))
        else:
            made = models.make(picture, "isnet", fine_edges=False, hints=(), salient=None)
            route = made.outcome.route
        seconds.append(time.perf_counter() - t0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "first": seconds[0],
        "warm": sum(seconds[1:]) / max(1, len(seconds) - 1),
        "rss_mb": rss,
        "route": route,
        "loaded": matter.loaded(),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--models-dir", default=str(ROOT / "data" / "models"))
    ap.add_argument("--photos", nargs="*", default=list(DEFAULT_PHOTOS))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], args.models_dir, args.rounds)))
        return 0
    if not PHOTOS.is_dir():
        print(f"no photos at {PHOTOS}: nothing to measure")
        return 0
    results: dict[str, dict[str, Any]] = {}
    print(f"{'photo':<24}{'variant':<8}{'first s':>9}{'ratio':>7}{'warm s':>8}{'ratio':>7}"
          f"{'peak RSS MB':>13}  route")  # fmt: skip
    for photo in args.photos:
        for variant in VARIANTS:
            cmd = [sys.executable, __file__, "--models-dir", args.models_dir]
            cmd += ["--rounds", str(args.rounds), "--child", variant, photo]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=900)
            r = results.setdefault(photo, {})[variant] = json.loads(out.stdout.splitlines()[-1])
            base = results[photo]["isnet"]
            print(
                f"{photo:<24}{variant:<8}{r['first']:9.2f}{r['first'] / base['first']:7.2f}"
                f"{r['warm']:8.2f}{r['warm'] / base['warm']:7.2f}{r['rss_mb']:13.0f}  {r['route']}"
            )
            sys.stdout.flush()
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
