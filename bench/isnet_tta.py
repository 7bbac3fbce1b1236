"""Issue 16 item 4: IS-Net test-time variants on the whole images of the matting set.

    PYTHONPATH=. .venv/bin/python bench/isnet_tta.py [--predictions /tmp/pred] [--only NAME…]

For each whole image of ../shared/data/matting-dev: the raw IS-Net alpha (bilinear) and today's
pipeline (`make_cutout`, no router), each with IS-Net's output
- `plain`: as is (one pass: the baseline of the ratios);
- `flip`: averaged with the output for the mirrored picture, mirrored back (two passes);
- `letterbox`: the picture padded to a square with mid-grey before IS-Net's square input, so
  the model sees it undistorted (one pass instead of the plain one);
- `zoom`: a second pass on the subject's box (IS-Net's foreground, α > ½, grown by a tenth of
  its size on each side), averaged with the first pass inside the box (two passes);
- `flip+zoom`: `zoom` with each of its two passes flip-averaged (four passes).
The rule for adopting a variant: the mean SAD improves and no image gets worse by more than 5 %.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

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


class Letterboxed:
    """IS-Net on the picture padded to a square (mid-grey), the picture's part of the output
    resized back to the model's square grid (what `make_cutout` expects of a prediction)."""

    def __init__(self, inner: CachedPredictor) -> None:
        self.inner = inner

    def predict(self, name: str, rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        side = max(h, w)
        top, left = (side - h) // 2, (side - w) // 2
        square = np.full((side, side, 3), 128, np.uint8)
        square[top : top + h, left : left + w] = rgb
        image = self.inner.image
        self.inner.image = image + "--letterbox"
        try:
            out = self.inner.predict(name, square)
        finally:
            self.inner.image = image
        gh, gw = out.shape[:2]
        y0, y1 = round(top * gh / side), round((top + h) * gh / side)
        x0, x1 = round(left * gw / side), round((left + w) * gw / side)
        return resize_float(np.ascontiguousarray(out[y0:y1, x0:x1]), gw, gh)


class Zoomed:
    """IS-Net's first pass, and inside the subject's box the average of it and a second pass
    on the picture cropped to that box."""

    MARGIN = 0.1

    def __init__(self, inner: CachedPredictor, passes: Any = None) -> None:
        self.inner = inner  # names the cached predictions
        self.passes = passes or inner  # runs each pass (`Flipped`: flip-averaged passes)

    def predict(self, name: str, rgb: np.ndarray) -> np.ndarray:
        plain = self.passes.predict(name, rgb)
        gh, gw = plain.shape[:2]
        ys, xs = np.nonzero(plain > 0.5)
        if ys.size == 0:
            return plain
        h, w = rgb.shape[:2]
        # the box in picture pixels, grown by MARGIN of its size on each side
        bx0, bx1 = xs.min() * w / gw, (xs.max() + 1) * w / gw
        by0, by1 = ys.min() * h / gh, (ys.max() + 1) * h / gh
        mx, my = (bx1 - bx0) * self.MARGIN, (by1 - by0) * self.MARGIN
        x0, x1 = max(0, int(bx0 - mx)), min(w, int(bx1 + mx + 1))
        y0, y1 = max(0, int(by0 - my)), min(h, int(by1 + my + 1))
        if (x1 - x0) * (y1 - y0) > 0.9 * w * h:  # the subject fills the picture: nothing to zoom
            return plain
        image = self.inner.image
        self.inner.image = image + "--zoom"
        try:
            crop = self.passes.predict(name, np.ascontiguousarray(rgb[y0:y1, x0:x1]))
        finally:
            self.inner.image = image
        gx0, gx1 = round(x0 * gw / w), round(x1 * gw / w)
        gy0, gy1 = round(y0 * gh / h), round(y1 * gh / h)
        out = plain.copy()
        zoomed = resize_float(crop, gx1 - gx0, gy1 - gy0)
        out[gy0:gy1, gx0:gx1] = (plain[gy0:gy1, gx0:gx1] + zoomed) / 2
        return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--models-dir", type=Path, default=Path("data/models"))
    ap.add_argument("--predictions", type=Path)
    ap.add_argument("--only", nargs="*")
    args = ap.parse_args()
    names = sorted(p.stem for p in (DATA / "image").glob("w-*.png"))
    names = [n for n in names if not args.only or n in args.only]
    plain = CachedPredictor(Matter(args.models_dir, 2), args.predictions)
    variants: dict[str, Any] = {
        "plain": plain,
        "flip": Flipped(plain),
        "letterbox": Letterboxed(plain),
        "zoom": Zoomed(plain),
        "flip+zoom": Zoomed(plain, Flipped(plain)),
    }
    columns = [f"{stage}+{v}" for stage in ("raw", "ours") for v in variants]
    rows = []
    print(f"{'image':<20}" + "".join(f"{c:>15}" for c in columns))
    for n in names:
        plain.image = n
        rgb = np.ascontiguousarray(load(DATA / "image" / f"{n}.png")[..., :3])
        gt = load(DATA / "alpha" / f"{n}.png")[..., 0].astype(np.float32) / 255
        h, w = gt.shape
        cells = []
        for predictor in variants.values():
            raw = np.clip(resize_float(predictor.predict("isnet", rgb), w, h), 0, 1)
            cells.append(float(np.abs(raw - gt).sum() / 1000))
        for predictor in variants.values():
            cut = make_cutout(predictor, "isnet", rgb, fine_edges=False, mirrored=False)
            alpha = cut.rgba[..., 3].astype(np.float32) / 255
            cells.append(float(np.abs(alpha - gt).sum() / 1000))
        rows.append(cells)
        print(f"{n:<20}" + "".join(f"{c:>15.1f}" for c in cells))
        sys.stdout.flush()
    a = np.array(rows)
    print(f"{'mean':<20}" + "".join(f"{c:>15.1f}" for c in a.mean(axis=0)))
    k = len(variants)
    for stage, base in (("raw", 0), ("ours", k)):
        for offset, v in enumerate(variants):
            if v == "plain":
                continue
            j = base + offset
            ratio = a[:, j] / a[:, base]
            worse = int((ratio > 1.05).sum())
            verdict = "passes" if a[:, j].mean() < a[:, base].mean() and not worse else "fails"
            print(
                f"{stage}+{v}: mean SAD {a[:, j].mean() / a[:, base].mean():.3f}× plain, per "
                f"image {ratio.min():.2f}–{ratio.max():.2f}; worse than 1.05×: {worse} "
                f"({verdict} the rule)"
            )
        # `fineedges_y` runs `flip` already: what the four passes add over it
        flip, both = base + list(variants).index("flip"), base + list(variants).index("flip+zoom")
        ratio = a[:, both] / a[:, flip]
        print(
            f"{stage}+flip+zoom vs {stage}+flip: mean SAD "
            f"{a[:, both].mean() / a[:, flip].mean():.3f}×, per image "
            f"{ratio.min():.2f}–{ratio.max():.2f}; worse than 1.05×: "
            f"{int((ratio > 1.05).sum())}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
