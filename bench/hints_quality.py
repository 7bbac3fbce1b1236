"""Issue 6: selection quality of `e_background_removal:hints_(<class>)`, through a running server.

    ALPHACDN_MODELS_DIR=data/models [ALPHACDN_MODEL=u2netp] \
        .venv/bin/alphacdn serve --port 8810 --data-dir /tmp/bench-hints &
    .venv/bin/python bench/hints_quality.py [--server http://127.0.0.1:8810] [--model-label isnet] \
        [--prefix hq] [--json out.json]

Uploads each photo of `bench/labels/hint_regions.json` with the real `cloudinary` SDK (public_id
`<prefix>-<stem>`), then for each requested class fetches
`/demo/image/upload/e_background_removal:hints_(<class>)/<public_id>.png` (polling 423 until 200)
and the unhinted `e_background_removal/<public_id>.png`. The kept region is alpha > 127; it is
compared with the hand-drawn region of that class: IoU, precision (share of kept pixels inside the
region) and recall (share of the region kept). The unhinted matte is scored against the same region
so the gain of selection is visible. `ceiling` = IoU of (plain matte ∩ region) with the
region, the best any selection can reach on that matte; `IoU vs ceiling` = IoU of the kept
region with (plain matte ∩ region), which isolates selection errors from matte and labelling
errors. Also reports `X-Alphacdn-Hints-Matched` / `X-Alphacdn-Hints`.
Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import cloudinary
import cloudinary.uploader
import numpy as np
import pyvips
import requests
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = Path(os.environ.get("BENCH_PHOTOS", "/work/shared/data/photos"))
LABELS = ROOT / "bench" / "labels" / "hint_regions.json"
API_KEY, API_SECRET = "123456789012345", "alphacdn-dev-secret"


def rasterize(spec: dict[str, Any], regions: dict[str, Any], w: int, h: int) -> np.ndarray:
    img = Image.new("L", (w, h), 0)
    d = ImageDraw.Draw(img)
    for poly in spec.get("polygons", []):
        d.polygon([tuple(p) for p in poly], fill=255)
    for x1, y1, x2, y2 in spec.get("boxes", []):
        d.rectangle([x1, y1, x2, y2], fill=255)
    for cx, cy, rx, ry in spec.get("ellipses", []):
        d.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=255)
    mask = np.asarray(img) > 0
    for other in spec.get("exclude_regions", []):
        mask &= ~rasterize(regions[other], regions, w, h)
    return mask


def image_size(path: Path) -> tuple[int, int]:
    im = pyvips.Image.new_from_file(str(path)).autorot()
    return im.width, im.height


def alpha_mask(png: bytes) -> np.ndarray:
    im = pyvips.Image.new_from_buffer(png, "")
    a = np.ndarray(
        buffer=im.write_to_memory(), dtype=np.uint8, shape=(im.height, im.width, im.bands)
    )
    if im.bands not in (2, 4):
        return np.ones((im.height, im.width), bool)
    return a[..., -1] > 127


def scores(kept: np.ndarray, region: np.ndarray) -> dict[str, float]:
    inter = float(np.logical_and(kept, region).sum())
    union = float(np.logical_or(kept, region).sum())
    return {
        "iou": inter / union if union else 1.0,
        "precision": inter / kept.sum() if kept.sum() else 0.0,
        "recall": inter / region.sum() if region.sum() else 0.0,
        "kept_frac": float(kept.mean()),
    }


def fetch_ready(
    server: str, url_path: str, timeout: float = 600
) -> tuple[requests.Response, float, int]:
    """GET, polling 423 every 0.25 s: (final response, seconds from first request, polls)."""
    t0 = time.perf_counter()
    polls = 0
    while True:
        r = requests.get(server + url_path, timeout=120)
        if r.status_code != 423:
            return r, time.perf_counter() - t0, polls
        polls += 1
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError(url_path)
        time.sleep(0.25)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", default="http://127.0.0.1:8810")
    ap.add_argument(
        "--model-label", default="isnet", help="the model the server runs (report only)"
    )
    ap.add_argument(
        "--prefix",
        default=f"hq{int(time.time())}",
        help="public_id prefix; fresh by default: re-uploading identical bytes over an "
        "existing public_id poisons the matte job (see README_hints.md)",
    )
    ap.add_argument("--json", help="write raw rows here")
    a = ap.parse_args()

    cloudinary.reset_config()
    cloudinary.config(
        cloud_name="demo",
        api_key=API_KEY,
        api_secret=API_SECRET,
        upload_prefix=a.server,
        secure=False,
    )
    labels = json.loads(LABELS.read_text())["photos"]
    rows: list[dict[str, Any]] = []
    print(f"date {time.strftime('%Y-%m-%d %H:%M')}, model {a.model_label}, load {os.getloadavg()}")
    for name, spec in labels.items():
        path = PHOTOS / name
        stem = path.stem
        pid = f"{a.prefix}-{stem}"
        cloudinary.uploader.upload(str(path), public_id=pid, overwrite=True)
        w, h = image_size(path)
        plain, _t_plain, _ = fetch_ready(
            a.server, f"/demo/image/upload/e_background_removal/{pid}.png"
        )
        assert plain.status_code == 200, (plain.status_code, plain.text[:200])
        plain_kept = alpha_mask(plain.content)
        assert plain_kept.shape == (h, w), (plain_kept.shape, (h, w))
        for cls in spec["requests"] + spec.get("no_match", []):
            r, t, _ = fetch_ready(
                a.server, f"/demo/image/upload/e_background_removal:hints_({cls})/{pid}.png"
            )
            row: dict[str, Any] = {
                "photo": name,
                "hint": cls,
                "status": r.status_code,
                "matched": r.headers.get("X-Alphacdn-Hints-Matched"),
                "report": r.headers.get("X-Alphacdn-Hints"),
                "seconds": round(t, 2),
            }
            if r.status_code == 200:
                kept = alpha_mask(r.content)
                if cls in spec["regions"]:
                    region = rasterize(spec["regions"][cls], spec["regions"], w, h)
                    row["hinted"] = scores(kept, region)
                    row["plain"] = scores(plain_kept, region)
                    # best any selection can do on this matte: its pixels in the region
                    oracle = plain_kept & region
                    row["ceiling_iou"] = scores(oracle, region)["iou"]
                    row["vs_ceiling_iou"] = scores(kept, oracle)["iou"]
                else:  # no-match request: should equal the plain matte
                    row["same_as_plain_iou"] = scores(kept, plain_kept)["iou"]
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(f"load after {os.getloadavg()}")
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))

    print(
        "\n| photo | hint | IoU hinted | precision | recall | IoU plain matte | ceiling "
        "| IoU vs ceiling | matched header | detections (X-Alphacdn-Hints) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        if "hinted" in row:
            s, p = row["hinted"], row["plain"]
            print(
                f"| {row['photo']} | {row['hint']} | {s['iou']:.2f} | {s['precision']:.2f} "
                f"| {s['recall']:.2f} "
                f"| {p['iou']:.2f} | {row['ceiling_iou']:.2f} | {row['vs_ceiling_iou']:.2f} "
                f"| {row['matched']} | {row['report']} |"
            )
        else:
            extra = f"same as plain: IoU {row.get('same_as_plain_iou', float('nan')):.3f}"
            print(
                f"| {row['photo']} | {row['hint']} (absent) | – | – | – | {extra} | – | – "
                f"| {row['matched']} | {row['report']} |"
            )
    ious = [r["hinted"]["iou"] for r in rows if "hinted" in r]
    if ious:
        print(
            f"\nmedian IoU hinted {statistics.median(ious):.2f}, plain "
            f"{statistics.median(r['plain']['iou'] for r in rows if 'plain' in r):.2f} "
            f"over {len(ious)} requests"
        )


if __name__ == "__main__":
    main()
