"""The person route's decision on every picture the detector finds a person in (issue 16).

    PYTHONPATH=. .venv/bin/python bench/person_routes.py [--model isnet] [--threads 2]

For each whole image and crop of ../shared/data/matting-dev (read in place, research use only)
and each photo of ../shared/data/photos: the detector's best person score, then the route's
figures as `models/person.py` decides them (`PersonRouter.decide`, the same code a worker runs):
overlap, area, face, cover, route and reason. Pictures without a person detection are listed
once at the end. No ground truth is involved: whether a decision is right is judged by eye and
written into bench/README_person.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
SHARED = ROOT.parent / "shared" / "data"

from matting_quality import Routing  # noqa: E402

from alphacdn import engine  # noqa: E402
from alphacdn.models import make_cutout  # noqa: E402


def pictures() -> list[tuple[str, Path]]:
    found = [
        ("matting-dev/" + p.stem, p)
        for p in sorted((SHARED / "matting-dev" / "image").glob("*.png"))
    ]
    skip = {"truncated-street-bus.jpg", "large-13mp.jpg", "earth-anim.gif"}
    for p in sorted((SHARED / "photos").iterdir()):
        if p.suffix.lower() in {".jpg", ".png"} and p.name not in skip:
            found.append(("photos/" + p.name, p))
    return found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="isnet")
    ap.add_argument("--person", default="rvm")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--models-dir", type=Path, default=ROOT / "data" / "models")
    args = ap.parse_args()
    if not (SHARED / "matting-dev").is_dir():
        print(f"no data at {SHARED}")
        return 0
    routing = Routing(args.models_dir, args.threads, args.person)
    print("| picture | person score | overlap | area | face | cover | route (reason) | s |")
    print("|---|---|---|---|---|---|---|---|")
    nobody = []
    for name, path in pictures():
        picture = engine.Picture(path.read_bytes(), max_pixels=50_000_000, fit_pixels=16_000_000)
        rgb = np.ascontiguousarray(picture.rgb())
        router = routing.router(rgb)
        people = [d.score for d in router.detections if d.coco_class == "person"]
        if not people:
            nobody.append(name)
            continue
        salient = make_cutout(routing.matter, args.model, rgb, fine_edges=False)
        alpha = salient.rgba[..., 3].astype(np.float32) / 255
        t0 = time.perf_counter()
        _, d = router.decide(rgb, alpha)
        took = time.perf_counter() - t0
        figures = (d.overlap, d.area, d.face, d.cover)
        cells = " | ".join(f"{v:.2f}" if v else "—" for v in figures)
        print(f"| {name} | {max(people):.2f} | {cells} | {d.route} ({d.reason}) | {took:.2f} |")
        sys.stdout.flush()
    print(f"\nno person detected: {', '.join(nobody)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
