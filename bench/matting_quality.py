"""Matte quality against ground-truth alpha: baseline (raw model, bilinear, naive) vs our pipeline.

    .venv/bin/python bench/matting_quality.py [--model isnet|isnet-768|u2netp] [--only NAME…]
        [--no-fine-edges] [--json out.json] [--person rvm|none] [--whole]

Reads ../shared/data/matting-dev (research use only: read in place, never copied). For each pair:
(a) baseline = raw model alpha resized bilinearly to full size, colour = α·I (what rembg ships);
(b) unsettled = make_cutout without the settle step; (c) ours = make_cutout(fine_edges=False), the
default; (d) fine = ours + fine_edges; (e) routed / routed_fine = ours (± fine_edges) with the
person route of issue 16 (the detector's person as subject → RVM, `models/person.py`), plus the
fusion variants of RVM and IS-Net on every image the detector routes; and two ceilings, not
pipelines: (f) ceiling4 / ceiling8 = the ground truth pasted into the model's uncertain band
widened by 4 / 8 px, the model's hard decision elsewhere — the best any refinement of this
model's matte could do. Metrics (lower is
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
import hashlib
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
#: baseline; our pipeline without the settle step; ours (person routing off); ours + fine_edges;
#: routed (ours with the person route: issue 16) and routed + fine_edges; then two ceilings (not
#: pipelines): ground truth pasted into the model's uncertain band ± 4 / 8 px
VARIANTS = (
    "baseline", "unsettled", "ours", "fine", "routed", "routed_fine", "ceiling4", "ceiling8"
)  # fmt: skip
#: whole-image groups of the person report (by manifest tags)
GROUPS = ("people", "animals", "transparent", "other")
#: fusions measured on the images the detector routes to the person network
FUSIONS = ("person", "max", "outside", "attached", "gate")


def group_of(tags: set[str]) -> str:
    if tags & {"portrait"}:
        return "people"
    if tags & {"animal", "dog"}:
        return "animals"
    if tags & TRANSPARENT:
        return "transparent"
    return "other"


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
        self.first: dict[str, str] = {}

    def predict(self, name: str, rgb: np.ndarray) -> np.ndarray:
        # the first picture asked for under an image name is the image; another one (the
        # mirrored picture of `fineedges_y`) is cached under its own fingerprint
        fp = hashlib.md5(np.ascontiguousarray(rgb[::37, ::41]).tobytes()).hexdigest()[:10]
        first = self.first.setdefault(self.image, fp)
        image = self.image if fp == first else f"{self.image}--{fp}"
        key = (name, image)
        path = self.store / f"{name}--{image}.npy" if self.store else None
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


class Routing:
    """The person route's pieces for the bench: the real sessions (RVM is not cached) and the
    detector, as `MatteModels` wires them."""

    def __init__(self, models_dir: Path, threads: int, person: str) -> None:
        from alphacdn.models.detector import Detector
        from alphacdn.models.faces import FaceDetector

        self.matter = Matter(models_dir, threads)
        self.person = person
        self.detector = Detector(models_dir / "centernet-coco.onnx", threads=threads)
        self.faces = FaceDetector(models_dir / "blazeface.onnx", threads=threads)

    def router(self, rgb: np.ndarray) -> Any:
        from dataclasses import replace

        from alphacdn.models.matting import DETECT_SIDE
        from alphacdn.models.person import PersonRouter
        from alphacdn.models.sessions import resize_rgb

        h, w = rgb.shape[:2]
        s = min(1.0, DETECT_SIDE / max(h, w))
        small = resize_rgb(rgb, round(w * s), round(h * s), "linear")
        found = tuple(
            replace(d, box=(d.box[0] / s, d.box[1] / s, d.box[2] / s, d.box[3] / s))
            for d in self.detector.detect(small)
        )
        return PersonRouter(self.matter, self.person, found, self.faces)


def evaluate(
    name: str, matter: CachedPredictor, model: str, fine: bool, routing: Routing | None = None
) -> dict[str, Any]:
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
    if routing is None:
        return out
    from alphacdn.models import person as P

    router = routing.router(rgb)
    for variant, fine_edges in (("routed", False), ("routed_fine", True)):
        if fine_edges and not fine:
            continue
        c = make_cutout(matter, model, rgb, fine_edges=fine_edges, router=router)
        a = c.rgba[..., 3].astype(np.float64) / 255
        premult = c.rgba[..., :3].astype(np.float64) / 255 * a[..., None]
        out[variant] = metrics(a, premult, gt, ref)
        out[variant]["fbleed"] = fbleed["ours"]
        out[variant]["confidence"] = c.confidence
        out[variant]["seconds"] = {k: round(v, 3) for k, v in c.timings.items()}
        out["route"] = c.route
    # the fusions, wherever the detector's person is the subject (before the network confirms)
    ours = make_cutout(matter, model, rgb, fine_edges=False)
    salient = ours.rgba[..., 3].astype(np.float32) / 255
    decision = P.choose_route(salient, router.detections)
    if decision.route == "person":
        person = P.person_alpha(routing.matter, routing.person, rgb)
        out["cover"] = P.confirm(decision, person, salient).cover
        zero = np.zeros_like(ref)
        for f in FUSIONS:
            a = P.fuse(person, salient, f).astype(np.float64)
            out[f"fuse_{f}"] = metrics(a, zero, gt, zero)  # alpha only: no bleed here
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


def person_report(results: dict[str, dict[str, Any]], groups: dict[str, str]) -> None:
    """Issue 16's tables: whole images by group, crops apart; the per-image SAD ratios of the
    routed pipeline; the fusions on the images the detector routes to the person network."""
    whole = [n for n in results if n.startswith("w-")]
    crops = [n for n in results if not n.startswith("w-")]
    for g in GROUPS:
        summarise(results, f"{g}, whole images", [n for n in whole if groups[n] == g])
    for g in GROUPS:
        summarise(results, f"{g}, crops", [n for n in crops if groups[n] == g])
    print("\n## per image: SAD and Grad ratio vs baseline (ours → routed → routed_fine), route")
    for n in sorted(results, key=lambda n: (not n.startswith("w-"), groups[n], n)):
        r = results[n]
        cells = []
        for m in ("sad", "grad"):
            b = r["baseline"][m] or 1e-9
            vs = [v for v in ("ours", "routed", "routed_fine") if v in r]
            cells.append(f"{m} " + "→".join(f"{r[v][m] / b:.2f}" for v in vs))
        worse = groups[n] != "people" and r["routed"]["sad"] > 1.05 * r["baseline"]["sad"]
        flag = "  ** non-person image > 1.05× **" if worse else ""
        print(f"{n:<20} {groups[n]:<11} {'  '.join(cells)}  {r.get('route', '')}{flag}")
    fused = [n for n in results if "fuse_gate" in results[n]]
    if fused:
        print("\n## fusions where the detector's person is the subject: SAD (Grad), cover")
        print(f"{'image':<20}" + "".join(f"{f:>16}" for f in ("baseline", *FUSIONS)))
        for n in fused:
            r = results[n]
            cells = [f"{r['baseline']['sad']:.1f} ({r['baseline']['grad']:.1f})"]
            cells += [
                f"{r[f'fuse_{f}']['sad']:.1f} ({r[f'fuse_{f}']['grad']:.1f})" for f in FUSIONS
            ]
            print(f"{n:<20}" + "".join(f"{c:>16}" for c in cells) + f"  cover {r['cover']:.2f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", default="isnet")
    ap.add_argument("--models-dir", type=Path, default=ROOT / "data" / "models")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", nargs="*", help="pair names (default: all)")
    ap.add_argument("--no-fine-edges", action="store_true")
    ap.add_argument("--json", type=Path, help="write per-image results here")
    ap.add_argument("--predictions", type=Path, help="cache raw model outputs in this folder")
    ap.add_argument("--person", default="rvm", help="person model of the routed variants (none)")
    ap.add_argument("--whole", action="store_true", help="whole images only (w-*)")
    args = ap.parse_args()
    if not (DATA / "manifest.json").is_file():
        print(f"no matting set at {DATA}: nothing to measure")
        return 0
    manifest = json.loads((DATA / "manifest.json").read_text())
    tags = {e["pair"]: set(e["tags"]) for e in manifest if e["name"].startswith("image/")}
    names = sorted(n for n in tags if not args.only or n in args.only)
    if args.whole:
        names = [n for n in names if n.startswith("w-")]
    matter = CachedPredictor(Matter(args.models_dir, args.threads), args.predictions)
    routing = None if args.person == "none" else Routing(args.models_dir, args.threads, args.person)
    results: dict[str, dict[str, Any]] = {}
    print(f"model {args.model}; per image: metric = " + " → ".join(VARIANTS))
    for n in names:
        t = time.perf_counter()
        results[n] = r = evaluate(n, matter, args.model, not args.no_fine_edges, routing)
        cells = " ".join(
            f"{m}=" + "→".join(f"{r[v][m]:.3g}" for v in VARIANTS if v in r) for m in METRICS
        )
        print(
            f"{n:<20} {cells} conf={r['ours']['confidence']:.2f} ({time.perf_counter() - t:.1f}s)"
            + (f" route={r['route']}" if "route" in r else "")
        )
        sys.stdout.flush()
    opaque = [n for n in names if not tags[n] & TRANSPARENT]
    clear = [n for n in names if tags[n] & TRANSPARENT]
    for group, members in (("all", names), ("opaque", opaque), ("transparent", clear)):
        summarise(results, group, members)
        summarise(results, f"{group}, whole images", [n for n in members if n.startswith("w-")])
    if routing is not None:
        person_report(results, {n: group_of(tags[n]) for n in names})
    for v in [v for v in VARIANTS[1:6] if v in results[names[0]]]:
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
