"""Matte quality against ground-truth alpha: baseline (raw model, bilinear, naive) vs our pipeline.

    .venv/bin/python bench/matting_quality.py [--model isnet|isnet-768|u2netp] [--only NAME…]
        [--no-fine-edges] [--json out.json]

Reads ../shared/data/matting-dev (research use only: read in place, never copied). For each pair:
(a) baseline = raw model alpha resized bilinearly to full size, colour = α·I (what rembg ships);
(b) unsettled = make_cutout without the settle step; (c) ours = make_cutout(fine_edges=False), the
default; (d) fine = ours + fine_edges; and two ceilings, not pipelines: (e) ceiling4 / ceiling8 =
the ground truth pasted into the model's uncertain band widened by 4 / 8 px, the model's hard
decision elsewhere — the best any refinement of this model's matte could do. Metrics (lower is
better except IoU): SAD = Σ|α−α*|/1000, MSE = mean((α−α*)²)·1000, Grad = Σ(|∇α|−|∇α*|)²/1000
(Gaussian derivatives, σ = 1.4), Conn = connectivity error/1000 (Rhemann et al. 2009), IoU of
α>0.5, and Bleed = mean |α·F − α*·F*| in 0..255 over the pixels with 0 < α* < 1, where F* is
pymatting's estimate_foreground_ml from the *ground-truth* alpha (the data has no true foreground
colours; our pipeline uses a different estimator, so the reference does not favour it). Bleed mixes
two errors: a wrong α changes α·F whatever F is. FBleed isolates the colour step: the same measure
with the ground-truth α in both terms, i.e. |α*·F − α*·F*| where F = I for the baseline (no
decontamination) and F = our estimate_foreground(I, α*) for ours. Transparent subjects (tags glass
/ semi-transparent) are reported apart from opaque ones.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyvips
from scipy import ndimage, stats

from alphacdn.models import Matter, make_cutout
from alphacdn.models.refine import estimate_foreground, resize_float

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "matting-dev"
METRICS = ("sad", "mse", "grad", "conn", "iou", "bleed", "fbleed")
TRANSPARENT = {"glass", "semi-transparent"}
#: baseline; our pipeline without the settle step; ours (default); ours + fine_edges; then two
#: ceilings (not pipelines): ground truth pasted into the model's uncertain band ± 4 / 8 px
VARIANTS = ("baseline", "unsettled", "ours", "fine", "ceiling4", "ceiling8")
#: the model's own "uncertain" range for the ceilings (bilinear alpha strictly inside it)
CEILING_LOW, CEILING_HIGH = 0.02, 0.98


def load(path: Path) -> np.ndarray:
    im = pyvips.Image.new_from_file(str(path), access="sequential")
    arr = np.asarray(im.numpy())
    return arr if arr.ndim == 3 else arr[..., None]


class CachedPredictor:
    """Runs the model once per image; the variants reuse its output."""

    def __init__(self, matter: Matter, store: Path | None) -> None:
        self.matter = matter
        self.store = store  # --predictions: keep raw model outputs on disk (for tuning runs)
        self.image = ""
        self.cache: dict[tuple[str, str], np.ndarray] = {}

    def predict(self, name: str, rgb: np.ndarray) -> np.ndarray:
        key = (name, self.image)
        path = self.store / f"{name}--{self.image}.npy" if self.store else None
        if key not in self.cache and path is not None and path.is_file():
            self.cache[key] = np.load(path)
        if key not in self.cache:
            self.cache[key] = self.matter.predict(name, rgb)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                np.save(path, self.cache[key])
        return self.cache[key]


def connectivity(pred: np.ndarray, gt: np.ndarray, step: float = 0.1) -> float:
    steps = np.arange(0, 1 + step, step)
    level = np.full(pred.shape, -1.0)
    for i in range(1, len(steps)):
        both = (pred >= steps[i]) & (gt >= steps[i])
        labels, n = ndimage.label(both)
        omega = np.zeros_like(both)
        if n:
            omega = labels == (np.argmax(np.bincount(labels.ravel())[1:]) + 1)
        level[(level == -1) & ~omega] = steps[i - 1]
    level[level == -1] = 1.0
    dp, dg = pred - level, gt - level
    return float(np.abs((1 - dp * (dp >= 0.15)) - (1 - dg * (dg >= 0.15))).sum() / 1000)


def metrics(
    alpha: np.ndarray, premult: np.ndarray, gt: np.ndarray, ref: np.ndarray
) -> dict[str, float]:
    d = alpha - gt
    grad = ndimage.gaussian_gradient_magnitude
    band = (gt > 0) & (gt < 1)
    union = ((alpha > 0.5) | (gt > 0.5)).sum()
    return {
        "sad": float(np.abs(d).sum() / 1000),
        "mse": float((d**2).mean() * 1000),
        "grad": float(((grad(alpha, 1.4) - grad(gt, 1.4)) ** 2).sum() / 1000),
        "conn": connectivity(alpha, gt),
        "iou": float(((alpha > 0.5) & (gt > 0.5)).sum() / max(union, 1)),
        "bleed": float(np.abs(premult - ref)[band].mean() * 255) if band.any() else 0.0,
    }


def ceilings(
    base: np.ndarray, image: np.ndarray, gt: np.ndarray, ref: np.ndarray
) -> dict[str, dict[str, float]]:
    """What a *perfect* refinement of the model's matte could reach: inside the band where the
    model is unsure (CEILING_LOW < α < CEILING_HIGH, plus its ½ contour), widened by 4 or 8 px,
    α and colour are the ground truth's; elsewhere the model's hard decision and α·I. Any step
    that only re-solves the model's uncertain band (upsampling, fine_edges, decontamination)
    is bounded by this; the error left is where the model is confidently wrong."""
    hard = (base > 0.5).astype(np.float64)
    contour = (base > 0.5) ^ ndimage.binary_erosion(base > 0.5)
    seed = ((base > CEILING_LOW) & (base < CEILING_HIGH)) | contour
    out = {}
    for px in (4, 8):
        band = ndimage.binary_dilation(seed, iterations=px)
        a = np.where(band, gt, hard)
        premult = np.where(band[..., None], ref, image * a[..., None])
        out[f"ceiling{px}"] = metrics(a, premult, gt, ref)
        out[f"ceiling{px}"]["fbleed"] = 0.0
        out[f"ceiling{px}"]["band"] = float(band.mean())
    return out


def evaluate(name: str, matter: CachedPredictor, model: str, fine: bool) -> dict[str, Any]:
    from pymatting import estimate_foreground_ml

    matter.image = name
    rgb = np.ascontiguousarray(load(DATA / "image" / f"{name}.png")[..., :3])
    gt = load(DATA / "alpha" / f"{name}.png")[..., 0].astype(np.float64) / 255
    image = rgb.astype(np.float32) / 255
    ref = estimate_foreground_ml(image.astype(np.float64), gt) * gt[..., None]
    h, w = gt.shape
    low = matter.predict(model, rgb)
    base = np.clip(resize_float(low, w, h), 0, 1).astype(np.float64)
    out: dict[str, Any] = {"baseline": metrics(base, image * base[..., None], gt, ref)}
    out.update(ceilings(base, image.astype(np.float64), gt, ref))
    band = (gt > 0) & (gt < 1)
    own_fg = estimate_foreground(image, gt.astype(np.float32)).astype(np.float64)

    def colour_error(fg: np.ndarray) -> float:  # both sides use the ground-truth alpha
        return float(np.abs(fg * gt[..., None] - ref)[band].mean() * 255) if band.any() else 0.0

    fbleed = {"baseline": colour_error(image), "ours": colour_error(own_fg)}
    out["baseline"]["fbleed"] = fbleed["baseline"]
    for variant, fine_edges, settled in (
        ("unsettled", False, False),
        ("ours", False, True),
        ("fine", True, True),
    ):
        if fine_edges and not fine:
            continue
        c = make_cutout(matter, model, rgb, fine_edges=fine_edges, settled=settled)
        a = c.rgba[..., 3].astype(np.float64) / 255
        premult = c.rgba[..., :3].astype(np.float64) / 255 * a[..., None]
        out[variant] = metrics(a, premult, gt, ref)
        out[variant]["fbleed"] = fbleed["ours"]  # the same colour step with or without fine_edges
        out[variant]["confidence"] = c.confidence
        out[variant]["seconds"] = {k: round(v, 3) for k, v in c.timings.items()}
    return out


def summarise(results: dict[str, dict[str, Any]], group: str, names: list[str]) -> None:
    if not names:
        return
    variants = [v for v in VARIANTS if v in results[names[0]]]
    print(f"\n## {group} ({len(names)} images): mean per metric, ratio vs baseline")
    print(f"{'variant':<9}" + "".join(f"{m:>16}" for m in METRICS))
    for v in variants:
        cells = []
        for m in METRICS:
            mean = float(np.mean([results[n][v][m] for n in names]))
            base = float(np.mean([results[n]["baseline"][m] for n in names]))
            cells.append(f"{mean:9.3f} ({mean / base if base else 1:4.2f})")
        print(f"{v:<9}" + "".join(f"{c:>16}" for c in cells))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", default="isnet")
    ap.add_argument("--models-dir", type=Path, default=ROOT / "data" / "models")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", nargs="*", help="pair names (default: all)")
    ap.add_argument("--no-fine-edges", action="store_true")
    ap.add_argument("--json", type=Path, help="write per-image results here")
    ap.add_argument("--predictions", type=Path, help="cache raw model outputs in this folder")
    args = ap.parse_args()
    if not (DATA / "manifest.json").is_file():
        print(f"no matting set at {DATA}: nothing to measure")
        return 0
    manifest = json.loads((DATA / "manifest.json").read_text())
    tags = {e["pair"]: set(e["tags"]) for e in manifest if e["name"].startswith("image/")}
    names = sorted(n for n in tags if not args.only or n in args.only)
    matter = CachedPredictor(Matter(args.models_dir, args.threads), args.predictions)
    results: dict[str, dict[str, Any]] = {}
    print(f"model {args.model}; per image: metric = " + " → ".join(VARIANTS))
    for n in names:
        t = time.perf_counter()
        results[n] = r = evaluate(n, matter, args.model, not args.no_fine_edges)
        cells = " ".join(
            f"{m}=" + "→".join(f"{r[v][m]:.3g}" for v in VARIANTS if v in r) for m in METRICS
        )
        print(
            f"{n:<20} {cells} conf={r['ours']['confidence']:.2f} ({time.perf_counter() - t:.1f}s)"
        )
        sys.stdout.flush()
    opaque = [n for n in names if not tags[n] & TRANSPARENT]
    clear = [n for n in names if tags[n] & TRANSPARENT]
    for group, members in (("all", names), ("opaque", opaque), ("transparent", clear)):
        summarise(results, group, members)
        summarise(results, f"{group}, whole images", [n for n in members if n.startswith("w-")])
    for v in VARIANTS[1:4]:
        worse = [
            n
            for n in names
            if v in results[n]
            and any(
                results[n][v][m] > results[n]["baseline"][m] * 1.02 for m in ("sad", "mse", "grad")
            )
        ]
        print(f"\n{v}: worse than baseline (>2 % on SAD, MSE or Grad): {', '.join(worse) or '-'}")
    conf = [results[n]["ours"]["confidence"] for n in names]
    for m in ("sad", "mse", "iou"):
        err = [results[n]["ours"][m] for n in names]
        if len(names) > 2 and len(set(conf)) > 1:
            rho, p = stats.spearmanr(conf, err)
            r, pp = stats.pearsonr(conf, err)
            print(
                f"confidence vs {m}: Spearman {rho:+.2f} (p={p:.2g}), Pearson {r:+.2f} (p={pp:.2g})"
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
