"""Detection quality and latency of the hints detector on the labelled photos.

    .venv/bin/python bench/detection.py [--model data/models/centernet-coco.onnx] [--photos DIR]

Per-class precision/recall at IoU ≥ 0.5 against `bench/labels/photos.json`, a confusion table,
plain (stretched to 512²) vs letterboxed input at several score thresholds, and the detector's
latency (preprocessing + one inference, median of 3, in the same run). Prints markdown.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyvips

from alphacdn.models.detector import Detection, Detector, iou, nms

ROOT = Path(__file__).resolve().parents[1]
THRESHOLDS = (0.2, 0.25, 0.3, 0.35, 0.4)
LARGE = 0.02  # share of the photo a "subject-sized" box covers at least
Label = dict[str, Any]


def load_rgb(path: Path) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """Decode as the server does: EXIF-rotated, converted to sRGB, alpha flattened on white."""
    image = pyvips.Image.new_from_file(str(path)).autorot()
    if "icc-profile-data" in image.get_fields():
        image = image.icc_transform("srgb", embedded=True, intent="relative")
    elif image.interpretation != "srgb":
        image = image.colourspace("srgb")
    if image.hasalpha():
        image = image.flatten(background=[255, 255, 255])
    image = image.cast("uchar")
    array = np.ndarray(
        buffer=image.write_to_memory(),
        dtype=np.uint8,
        shape=(image.height, image.width, image.bands),
    )
    return np.ascontiguousarray(array[..., :3])


def _small(box: tuple[float, ...] | list[float], min_side: float, min_area: float = 0) -> bool:
    w, h = box[2] - box[0], box[3] - box[1]
    return min(w, h) < min_side or w * h < min_area


def match(
    dets: list[Detection], labels: list[Label], min_side: float, min_area: float = 0
) -> tuple[Counter[Any], ...]:
    """Greedy matching (best score first): returns per-class TP, FP, FN and confusion pairs."""
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    confusion: Counter[tuple[str, str]] = Counter()
    gts = [g for g in labels if not _small(g["box"], min_side, min_area)]
    used = [False] * len(gts)
    for det in sorted(dets, key=lambda d: -d.score):
        if _small(det.box, min_side, min_area):
            continue
        best, best_iou, best_ok = -1, 0.5, False
        for i, gt in enumerate(gts):
            ok = det.coco_class in [gt["class"], *gt.get("also", [])]
            overlap = iou(det.box, tuple(gt["box"]))
            if not used[i] and overlap >= 0.5 and (ok, overlap) > (best_ok, best_iou):
                best, best_iou, best_ok = i, overlap, ok
        if best >= 0 and best_ok:
            used[best] = True
            tp[gts[best]["class"]] += 1
            confusion[gts[best]["class"], gts[best]["class"]] += 1
        else:
            fp[det.coco_class] += 1
            if best >= 0:
                confusion[gts[best]["class"], det.coco_class] += 1
            else:
                confusion["(background)", det.coco_class] += 1
    for gt, hit in zip(gts, used, strict=True):
        if not hit:
            fn[gt["class"]] += 1
            confusion[gt["class"], "(missed)"] += 1
    return tp, fp, fn, confusion


def evaluate(
    results: dict[str, list[Detection]],
    labels: dict[str, list[Label]],
    threshold: float,
    min_side: float,
    large: dict[str, float] | None = None,
) -> tuple[Counter[str], Counter[str], Counter[str], Counter[Any]]:
    """Sum `match` over photos; with `large` (photo → min box area) only big objects count."""
    totals: tuple[Counter[Any], ...] = (Counter(), Counter(), Counter(), Counter())
    for name, dets in results.items():
        kept = [d for d in dets if d.score >= threshold]
        parts = match(kept, labels[name], min_side, (large or {}).get(name, 0))
        for total, part in zip(totals, parts, strict=True):
            total.update(part)
    return totals[0], totals[1], totals[2], totals[3]


def _pr(tp: int, fp: int, fn: int) -> str:
    p = f"{tp / (tp + fp):.2f}" if tp + fp else "–"
    r = f"{tp / (tp + fn):.2f}" if tp + fn else "–"
    return f"{p} | {r}"


def report(
    results: dict[str, dict[str, list[Detection]]],
    labels: dict[str, list[Label]],
    min_side: float,
    chosen: float,
    large: dict[str, float],
) -> None:
    print("## Overall, by score threshold (TP/FP/FN over all photos)\n")
    print(
        "| input | threshold | TP | FP | FN | precision | recall |\n|---|---|---|---|---|---|---|"
    )
    for mode, per_image in results.items():
        for t in THRESHOLDS:
            tp, fp, fn, _ = evaluate(per_image, labels, t, min_side)
            a, b, c = sum(tp.values()), sum(fp.values()), sum(fn.values())
            print(f"| {mode} | {t} | {a} | {b} | {c} | {_pr(a, b, c)} |")
    print(f"\n## Subject-sized objects only (box ≥ {LARGE:.0%} of the photo; what hints act on)\n")
    print(
        "| input | threshold | TP | FP | FN | precision | recall |\n|---|---|---|---|---|---|---|"
    )
    for mode, per_image in results.items():
        for t in THRESHOLDS:
            tp, fp, fn, _ = evaluate(per_image, labels, t, min_side, large)
            a, b, c = sum(tp.values()), sum(fp.values()), sum(fn.values())
            print(f"| {mode} | {t} | {a} | {b} | {c} | {_pr(a, b, c)} |")
    for mode, per_image in results.items():
        tp, fp, fn, confusion = evaluate(per_image, labels, chosen, min_side)
        print(f"\n## Per class, {mode} input, threshold {chosen}\n")
        print("| class | TP | FP | FN | precision | recall |\n|---|---|---|---|---|---|")
        for cls in sorted(set(tp) | set(fp) | set(fn)):
            print(
                f"| {cls} | {tp[cls]} | {fp[cls]} | {fn[cls]} | {_pr(tp[cls], fp[cls], fn[cls])} |"
            )
        print(f"\nConfusion ({mode}, {chosen}), labelled → detected, off-diagonal only: ", end="")
        print("; ".join(f"{g} → {d} ×{n}" for (g, d), n in sorted(confusion.items()) if g != d))
    print(f"\n## Per photo, top detections at {chosen}\n")
    print("| photo | labelled | plain | letterboxed |\n|---|---|---|---|")
    for name in labels:
        cells = [
            ", ".join(
                f"{d.coco_class} {d.score:.2f}" for d in per_image[name] if d.score >= chosen
            )[:120]
            or "—"
            for per_image in results.values()
        ]
        truth = ", ".join(sorted(Counter(g["class"] for g in labels[name]).elements())) or "—"
        print(f"| {name} | {truth[:60]} | {' | '.join(cells)} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "data/models/centernet-coco.onnx")
    parser.add_argument("--photos", type=Path, default=ROOT.parent / "shared/data/photos")
    parser.add_argument("--labels", type=Path, default=ROOT / "bench/labels/photos.json")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--threshold", type=float, default=0.3)
    args = parser.parse_args()
    if not args.photos.is_dir():
        print(f"photos folder {args.photos} is absent: nothing to measure")
        return 0
    if not args.model.is_file():
        print(f"detector {args.model} is missing: run `alphacdn fetch-models` first")
        return 0
    spec = json.loads(args.labels.read_text())
    labels: dict[str, list[Label]] = {
        k: v for k, v in spec["images"].items() if (args.photos / k).is_file()
    }
    detector = Detector(args.model, threads=args.threads, threshold=min(THRESHOLDS))
    modes = ("plain", "letterboxed")
    results: dict[str, dict[str, list[Detection]]] = {m: {} for m in (*modes, "both (merged)")}
    timings: dict[str, list[float]] = {m: [] for m in modes}
    large: dict[str, float] = {}
    for name in labels:
        rgb = load_rgb(args.photos / name)
        large[name] = LARGE * rgb.shape[0] * rgb.shape[1]
        for mode in modes:
            runs = []
            for _ in range(3):  # the minimum is the figure least disturbed by other load
                start = time.perf_counter()
                results[mode][name] = detector.detect(rgb, letterbox=mode == "letterboxed")
                runs.append(time.perf_counter() - start)
            timings[mode].append(min(runs))
        results["both (merged)"][name] = nms(results["plain"][name] + results["letterboxed"][name])
    print(f"# Detector benchmark: {len(labels)} photos, {args.threads} threads\n")
    report(results, labels, spec.get("min_side", 0), args.threshold, large)
    batch = np.full((1, 512, 512, 3), 114, np.float32)
    runs = []
    for _ in range(10):
        start = time.perf_counter()
        detector.run(batch)
        runs.append(time.perf_counter() - start)
    print("\n## Latency (best of 3 per photo; median over photos)\n")
    print(f"- inference alone (512², best of 10): {min(runs) * 1000:.0f} ms")
    base = statistics.median(timings["plain"])
    for mode, values in timings.items():
        med = statistics.median(values)
        print(
            f"- detect(), {mode}: median {med * 1000:.0f} ms, max {max(values) * 1000:.0f} ms "
            f"(×{med / base:.2f} of plain)"
        )
    both = 1 + statistics.median(timings["letterboxed"]) / base
    print(f"- both (merged): the sum of the two, ×{both:.2f} of plain")
    return 0


if __name__ == "__main__":
    sys.exit(main())
