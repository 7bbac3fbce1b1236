"""Issue 16 item 4, first variant only: IS-Net with horizontal-flip averaging, on whole images.

    PYTHONPATH=. .venv/bin/python bench/isnet_tta.py [--predictions /tmp/pred] [--only NAME…]

For each whole image of ../shared/data/matting-dev: the raw IS-Net alpha (bilinear) and today's
pipeline (`make_cutout`, no router), each with IS-Net's output as is and averaged with the output
for the mirrored picture mirrored back (two passes). The rule for adopting a variant: the mean
SAD improves and no image gets worse by more than 5 %.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from matting_quality import DATA, CachedPredictor, load

from alphacdn.models import Matter, make_cutout
from alphacdn.models.refine import resize_float


class Flipped:
    """A predictor averaging IS-Net on the picture and on its mirror image (mirrored back)."""

    def __init__(self, inner: CachedPredictor) -> None:
        self.inner = inner

    def predict(self, name: str, rgb: np.ndarray) -> np.ndarray:
        plain = self.inner.predict(name, rgb)
        image = self.inner.image
        self.inner.image = image + "--flip"
        try:
            mirror = self.inner.predict(name, np.ascontiguousarray(rgb[:, ::-1]))
        finally:
            self.inner.image = image
        return np.asarray((plain + mirror[:, ::-1]) / 2, np.float32)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--models-dir", type=Path, default=Path("data/models"))
    ap.add_argument("--predictions", type=Path)
    ap.add_argument("--only", nargs="*")
    args = ap.parse_args()
    names = sorted(p.stem for p in (DATA / "image").glob("w-*.png"))
    names = [n for n in names if not args.only or n in args.only]
    plain = CachedPredictor(Matter(args.models_dir, 2), args.predictions)
    flipped = Flipped(plain)
    rows = []
    print(f"{'image':<20}{'raw':>9}{'raw+flip':>10}{'ours':>9}{'ours+flip':>11}")
    for n in names:
        plain.image = n
        rgb = np.ascontiguousarray(load(DATA / "image" / f"{n}.png")[..., :3])
        gt = load(DATA / "alpha" / f"{n}.png")[..., 0].astype(np.float32) / 255
        h, w = gt.shape
        cells = []
        for predictor in (plain, flipped):
            raw = np.clip(resize_float(predictor.predict("isnet", rgb), w, h), 0, 1)
            cells.append(float(np.abs(raw - gt).sum() / 1000))
        for predictor in (plain, flipped):
            cut = make_cutout(predictor, "isnet", rgb, fine_edges=False)
            alpha = cut.rgba[..., 3].astype(np.float32) / 255
            cells.append(float(np.abs(alpha - gt).sum() / 1000))
        rows.append(cells)
        print(f"{n:<20}" + "".join(f"{c:>10.1f}" for c in cells))
        sys.stdout.flush()
    a = np.array(rows)
    print(f"{'mean':<20}" + "".join(f"{c:>10.1f}" for c in a.mean(axis=0)))
    for label, i, j in (("raw", 0, 1), ("ours", 2, 3)):
        ratio = a[:, j] / a[:, i]
        print(
            f"{label}: flip/plain mean SAD {a[:, j].mean() / a[:, i].mean():.3f}, per image "
            f"{ratio.min():.2f}–{ratio.max():.2f}; worse than 1.05×: {int((ratio > 1.05).sum())}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
