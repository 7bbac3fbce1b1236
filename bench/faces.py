"""Face detection (BlazeFace, `g_face`/`g_faces`/`e_*_faces`): quality, and the latency it adds.

    ALPHACDN_TEST_MODELS_DIR=data/models .venv/bin/python -m bench.faces [--rounds 3]
        [--photos ../shared/data/photos] [--skip-latency]

1. Precision / recall at IoU ≥ `match_iou` against the hand labels of `bench/labels/faces.json`
   (19 dev photos, 7 faces), at several score thresholds, decoded as the server decodes
   (`engine.Picture`, ≤ 1024 px copy, as `alphacdn.faces` does).
2. Generated cases with known boxes (derived from the labels by the same geometry): the
   two-women photo mirrored, darkened, at 1/2 and 1/4 size on a larger grey canvas, and rotated
   90°.
3. Latency through a real server (uvicorn, `tests.e2e.server.Server`): a cold `c_fill,g_face`
   request against a cold `c_fill,g_center` of the same size on other fresh bytes (so both pay the
   decode and the render; only `g_face` pays detection), and `g_face` again with another size
   (faces cached, derived miss). Fresh bytes each round (re-encoded at a quality no other round
   uses: a new md5), order alternating between rounds. Medians; the load average is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyvips

from alphacdn import engine
from alphacdn.models import MODELS
from alphacdn.models.detector import iou
from alphacdn.models.faces import DETECT_SIDE, FaceDetector

ROOT = Path(__file__).resolve().parents[1]
THRESHOLDS = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75)
Box = tuple[float, float, float, float]


def models_dir() -> Path:
    return Path(os.environ.get("ALPHACDN_TEST_MODELS_DIR", ROOT / "data" / "models"))


def detect_all(detector: FaceDetector, data: bytes) -> tuple[list[tuple[Box, float]], float]:
    """Every face above 0.4 in source pixels (as the server decodes), and seconds taken."""
    start = time.perf_counter()
    picture = engine.Picture(data, max_pixels=100_000_000, fit_pixels=4_000_000)
    rgb, factor = picture.rgb_within(DETECT_SIDE)
    faces = detector.detect(rgb)
    took = time.perf_counter() - start
    scale = 1 / factor
    if picture.scaled_from:
        scale *= picture.scaled_from[0] / picture.rgb().shape[1]
    return [((f.box[0] * scale, f.box[1] * scale, f.box[2] * scale, f.box[3] * scale), f.score)
            for f in faces], took  # fmt: skip


def score(
    found: list[tuple[Box, float]], truth: list[Box], ignore: list[Box], threshold: float, at: float
) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives), greedy by score."""
    left = list(truth)
    tp = fp = 0
    for box, s in sorted(found, key=lambda f: -f[1]):
        if s < threshold:
            continue
        best = max(left, key=lambda t: iou(box, t), default=None)
        if best is not None and iou(box, best) >= at:
            left.remove(best)
            tp += 1
        elif not any(iou(box, g) > 0.2 for g in ignore):
            fp += 1
    return tp, fp, len(left)


def encode(image: pyvips.Image) -> bytes:
    return bytes(image.jpegsave_buffer(Q=92, keep="none"))


def generated(photos: Path, labels: dict[str, Any]) -> list[tuple[str, bytes, list[Box]]]:
    """Cases made from the two-women photo, with its labels carried through the same geometry."""
    src = pyvips.Image.new_from_file(str(photos / "portrait-redhair.jpg")).colourspace("srgb")
    faces: list[Box] = [tuple(b) for b in labels["portrait-redhair.jpg"]["faces"]]
    w, h = src.width, src.height
    cases = [("mirrored", encode(src.fliphor()), [(w - b[2], b[1], w - b[0], b[3]) for b in faces])]
    cases.append(("darkened ×0.35", encode((src * 0.35).cast("uchar")), faces))
    for k in (2, 4):
        small = src.resize(1 / k)
        canvas = (pyvips.Image.black(1600, 1200, bands=3) + 128).cast("uchar")
        canvas = canvas.insert(small, 700, 500).copy(interpretation="srgb")
        boxes = [(700 + b[0] / k, 500 + b[1] / k, 700 + b[2] / k, 500 + b[3] / k) for b in faces]
        cases.append((f"1/{k} size on a 1600×1200 canvas", encode(canvas), boxes))
    rotated = [(h - b[3], b[0], h - b[1], b[2]) for b in faces]  # 90° clockwise
    cases.append(("rotated 90°", encode(src.rot90()), rotated))
    return cases


def quality(detector: FaceDetector, photos: Path) -> None:
    spec = json.loads((ROOT / "bench" / "labels" / "faces.json").read_text())
    at, labels = float(spec["match_iou"]), spec["images"]
    found: dict[str, list[tuple[Box, float]]] = {}
    seconds = []
    for name in labels:
        found[name], took = detect_all(detector, (photos / name).read_bytes())
        seconds.append(took)
    count = sum(len(v["faces"]) for v in labels.values())
    print(f"## Dev photos ({len(labels)} photos, {count} labelled faces, IoU ≥ {at})\n")
    print("| threshold | TP | FP | FN | precision | recall |\n|---|---|---|---|---|---|")
    for t in THRESHOLDS:
        tp = fp = fn = 0
        for name, entry in labels.items():
            a, b, c = score(found[name], [tuple(x) for x in entry["faces"]],
                            [tuple(x) for x in entry.get("ignore", [])], t, at)  # fmt: skip
            tp, fp, fn = tp + a, fp + b, fn + c
        p = tp / (tp + fp) if tp + fp else 1.0
        print(f"| {t:.2f} | {tp} | {fp} | {fn} | {p:.2f} | {tp / (tp + fn):.2f} |")
    print("\nPer photo (score ≥ 0.5):\n")
    for name, entry in labels.items():
        dets = [f"{s:.2f}" for _, s in found[name] if s >= 0.5]
        if dets or entry["faces"]:
            print(f"- {name}: {len(entry['faces'])} labelled; found {', '.join(dets) or 'none'}")
    print(f"\nDecode + detection per photo: median {statistics.median(seconds) * 1000:.0f} ms, "
          f"max {max(seconds) * 1000:.0f} ms\n")  # fmt: skip
    print("## Generated cases (two-women photo; boxes carried from its labels)\n")
    print("| case | labelled | TP | FP | FN |\n|---|---|---|---|---|")
    from alphacdn.models.faces import SCORE_THRESHOLD

    for case, data, boxes in generated(photos, labels):
        dets, _ = detect_all(detector, data)
        tp, fp, fn = score(dets, boxes, [], SCORE_THRESHOLD, at)
        print(f"| {case} | {len(boxes)} | {tp} | {fp} | {fn} |")
    print(f"\n(generated cases at the shipped threshold {SCORE_THRESHOLD})\n")


def latency(photos: Path, rounds: int) -> None:
    import cloudinary.uploader
    import httpx

    from tests.e2e.conftest import configure_sdk, delivery_url
    from tests.e2e.server import Server

    sources = ["portrait-redhair.jpg", "street-bus.jpg", "portrait-longhair.jpg"]
    times: dict[str, list[float]] = {"g_center": [], "g_face": [], "g_face, faces cached": []}
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp)).start()
        try:
            configure_sdk(server)
            quality_q = 70
            for r in range(rounds):
                for name in sources:
                    image = pyvips.Image.new_from_file(str(photos / name)).autorot()
                    ids = []
                    for kind in ("a", "b"):
                        quality_q += 1  # fresh bytes: nothing cached for them
                        path = Path(tmp) / f"{kind}.jpg"
                        path.write_bytes(bytes(image.jpegsave_buffer(Q=quality_q, keep="none")))
                        pid = f"bench-{r}-{name}-{kind}"
                        cloudinary.uploader.upload(str(path), public_id=pid)
                        ids.append(pid)

                    def timed(pid: str, **options: Any) -> float:
                        url = delivery_url(pid, crop="fill", format="jpg", **options)
                        start = time.perf_counter()
                        resp = httpx.get(url, timeout=120)
                        took = time.perf_counter() - start
                        assert resp.status_code == 200, resp.headers.get("x-cld-error")
                        return took

                    face_id, centre_id = ids
                    order: list[tuple[str, Callable[[], float]]] = [
                        ("g_center", lambda c=centre_id: timed(c, width=300, height=300)),
                        (
                            "g_face",
                            lambda f=face_id: timed(f, gravity="face", width=300, height=300),
                        ),
                    ]
                    if r % 2:
                        order.reverse()
                    for key, fn in order:
                        times[key].append(fn())
                    times["g_face, faces cached"].append(
                        timed(face_id, gravity="face", width=301, height=301)
                    )
        finally:
            server.stop()
    base = statistics.median(times["g_center"])
    print(f"## Latency: cold requests through uvicorn ({rounds} rounds × {len(sources)} photos, "
          f"load average {os.getloadavg()[0]:.1f})\n")  # fmt: skip
    print("| request (c_fill, 300×300, fresh bytes) | median | vs g_center |\n|---|---|---|")
    for key, values in times.items():
        m = statistics.median(values)
        print(f"| {key} | {m * 1000:.0f} ms | {m / base:.2f}× (+{(m - base) * 1000:.0f} ms) |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=Path, default=ROOT.parent / "shared" / "data" / "photos")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--skip-latency", action="store_true")
    args = ap.parse_args()
    path = MODELS["blazeface"].file_path(models_dir())
    if not path.is_file():
        sys.exit(f"{path} missing: run `alphacdn fetch-models blazeface`")
    detector = FaceDetector(path, threshold=0.4)
    np.seterr(over="ignore")
    quality(detector, args.photos)
    if not args.skip_latency:
        latency(args.photos, args.rounds)


if __name__ == "__main__":
    main()
