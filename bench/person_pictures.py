"""Side-by-side hair bands for docs/: today's pipeline (IS-Net) vs the person route (RVM).

    PYTHONPATH=. .venv/bin/python bench/person_pictures.py [--models-dir DIR]

For each portrait of ../shared/data/photos (no ground truth) it writes
docs/person-hair-<name>.jpg: the head's box, cut out by each pipeline and laid over a flat
green, left today's, right routed. The crops come from photos whose licences allow it (see
tests/fixtures/SOURCES.md); the matting set's composites are research-only and never go there.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyvips

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT.parent / "shared" / "data" / "photos"
PORTRAITS = ("portrait-longhair.jpg", "portrait-redhair.jpg")
GREEN = np.array([40, 170, 70], np.float32)


def main() -> int:
    from alphacdn import engine
    from alphacdn.models import Matter, make_cutout
    from alphacdn.models.detector import Detector
    from alphacdn.models.faces import FaceDetector
    from alphacdn.models.matting import DETECT_SIDE
    from alphacdn.models.person import PersonRouter
    from alphacdn.models.sessions import resize_rgb

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--models-dir", type=Path, default=ROOT / "data" / "models")
    ap.add_argument("--height", type=int, default=420, help="height of each panel")
    args = ap.parse_args()
    if not PHOTOS.is_dir():
        print(f"no photos at {PHOTOS}")
        return 0
    matter = Matter(args.models_dir, 2)
    detector = Detector(args.models_dir / "centernet-coco.onnx", threads=2)
    faces = FaceDetector(args.models_dir / "blazeface.onnx", threads=2)
    for name in PORTRAITS:
        picture = engine.Picture(
            (PHOTOS / name).read_bytes(), max_pixels=50_000_000, fit_pixels=16_000_000
        )
        rgb = picture.rgb()
        h, w = rgb.shape[:2]
        s = min(1.0, DETECT_SIDE / max(h, w))
        found = tuple(
            replace(d, box=(d.box[0] / s, d.box[1] / s, d.box[2] / s, d.box[3] / s))
            for d in detector.detect(resize_rgb(rgb, round(w * s), round(h * s), "linear"))
        )
        today = make_cutout(matter, "isnet", rgb, fine_edges=False)
        routed = make_cutout(
            matter, "isnet", rgb, fine_edges=False, router=PersonRouter(matter, "rvm", found, faces)
        )
        person = max((d for d in found if d.coco_class == "person"), key=lambda d: d.score)
        x1, y1, x2, _ = (int(v) for v in person.box)
        side = int((x2 - x1) * 0.9)  # the head and the hair around it: the box's top square
        cx = (x1 + x2) // 2
        left, top = max(0, cx - side // 2), max(0, y1 - side // 10)
        right, bottom = min(w, left + side), min(h, top + side)
        panels = []
        for cut in (today, routed):
            a = cut.rgba[top:bottom, left:right, 3:4].astype(np.float32) / 255
            fg = cut.rgba[top:bottom, left:right, :3].astype(np.float32)
            over = np.rint(fg * a + GREEN * (1 - a)).astype(np.uint8)
            panels.append(
                pyvips.Image.new_from_array(np.ascontiguousarray(over), interpretation="srgb")
            )
        gap = pyvips.Image.black(8, panels[0].height, bands=3) + 255
        row = panels[0].join(gap, "horizontal").join(panels[1], "horizontal")
        row = row.resize(args.height / row.height, kernel="lanczos3")
        out = ROOT / "docs" / f"person-hair-{name.rsplit('.', 1)[0]}.jpg"
        row.write_to_file(str(out), Q=88, strip=True)
        print(f"{out.relative_to(ROOT)}: left today, right {routed.route}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
