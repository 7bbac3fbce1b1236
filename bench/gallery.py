"""The React gallery's first view in a real headless Chromium, and what its images cost.

    .venv/bin/python bench/gallery.py [--model isnet] [--rounds 2] [--photos DIR]

Needs `scripts/gallery.sh build` (Debian chromium, the example's npm packages). Per round and
per server policy, a fresh alphacdn on loopback (new data dir: nothing cached, no matte), seeded
by `examples/react-gallery/scripts/seed.mjs`, then `test/gallery.mjs` in a fresh browser:

  cold   the first visitor after the upload: every matte still to make;
  warm   a second visitor (new browser, empty browser cache) once every matte is made.

Policies (ALPHACDN_* of the server):

  preview  ALPHACDN_MATTE_PREVIEW=u2netp, ALPHACDN_MATTE_WAIT=3 (the storefront setting)
  held     ALPHACDN_MATTE_WAIT=60 (hold every request until its matte is made)
  423      Cloudinary's default: 423 + Retry-After, the page's retry helper (clients/js)

Figures (ms from navigation start, the page's own clock): first cut-out shown, every image
shown (loaded, not a placeholder; a preview counts as shown), and for `preview` when every
matte was ready on the server (the real cut-outs a reload would show; /metrics polled). Bytes
(resource timing, alphacdn sends Timing-Allow-Origin): what the page's final images cost with
f_auto,q_auto and the responsive widths, against the originals as uploaded and the full-size PNG
cut-outs a site without an image CDN would host.

The products are the example's generated 480 px photos (~19 KB); `--photos DIR` uploads six
photos of DIR (e.g. ../shared/data/photos) under the products' names instead.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.ports import free_port  # noqa: E402

EXAMPLE = ROOT / "examples" / "react-gallery"
MODELS = Path(os.environ.get("ALPHACDN_TEST_MODELS_DIR", ROOT / "data" / "models"))
PRODUCTS = ("mug", "bottle", "vase", "lamp", "ball", "giftbox")
POLICIES: dict[str, dict[str, str]] = {
    "preview": {"ALPHACDN_MATTE_PREVIEW": "u2netp", "ALPHACDN_MATTE_WAIT": "3"},
    "held": {"ALPHACDN_MATTE_WAIT": "60"},
    "423": {},
}


def start_server(
    data_dir: Path, model: str, env: dict[str, str]
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    settings = {
        "ALPHACDN_DATA_DIR": str(data_dir),
        "ALPHACDN_MODELS_DIR": str(MODELS),
        "ALPHACDN_MODEL": model,
        **env,
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "alphacdn.cli",
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env={**os.environ, **settings},
        cwd=ROOT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    raise RuntimeError("alphacdn did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def seed(base: str, photos: Path | None, work: Path) -> None:
    products = EXAMPLE / "products"
    if photos is not None:  # the seed script uploads products/*.jpg: point it at a copy
        copy = work / "example"
        shutil.copytree(EXAMPLE, copy, symlinks=True, ignore=shutil.ignore_patterns("dist"))
        chosen = sorted(photos.glob("*.jpg"))[: len(PRODUCTS)]
        for name, src in zip(PRODUCTS, chosen, strict=True):
            shutil.copy(src, copy / "products" / f"{name}.jpg")
        products = copy / "products"
    subprocess.run(
        ["node", str(products.parent / "scripts" / "seed.mjs"), "--server", base],
        check=True,
        capture_output=True,
        timeout=120,
    )


def drive(base: str, app_port: int, out: Path) -> dict[str, Any]:
    cmd = [
        "node",
        "test/gallery.mjs",
        "--server",
        base,
        "--app-port",
        str(app_port),
        "--out",
        str(out),
        "--timeout",
        "300",
    ]
    run = subprocess.run(cmd, cwd=EXAMPLE, capture_output=True, text=True, timeout=400)
    if run.returncode != 0:
        raise RuntimeError(run.stderr[-2000:])
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def mattes_done(base: str) -> int:
    jobs = httpx.get(base + "/metrics.json", timeout=5).json()["jobs"]["matte_jobs"]
    return sum(1 for tag in jobs if tag.rsplit("/", 1)[-1] in PRODUCTS)


def view(base: str, app_port: int, out: Path, *, watch_mattes: bool) -> dict[str, Any]:
    """One first view; with `watch_mattes`, also when every matte was ready (ms after the
    navigation started, measured here by polling /metrics every 100 ms)."""
    ready: list[float] = []
    stop_watch = threading.Event()
    t0 = time.monotonic()

    def watch() -> None:
        deadline = t0 + 600
        while not stop_watch.is_set() and time.monotonic() < deadline:
            if mattes_done(base) >= len(PRODUCTS):
                ready.append((time.monotonic() - t0) * 1000)
                return
            time.sleep(0.1)

    watcher = threading.Thread(target=watch, daemon=True)
    if watch_mattes:
        watcher.start()
    result = drive(base, app_port, out)
    if watch_mattes:
        watcher.join(timeout=600)
    stop_watch.set()
    first = result["steps"]["firstView"]
    responses = result["responses"]
    finals = [i for i in first["images"]]
    return {
        "first_cutout_ms": first["firstCutoutMs"],
        "all_shown_ms": first["allFinalMs"],
        "mattes_ready_ms": ready[0] if ready else None,
        "previews": sum(1 for r in responses if r["preview"]),
        "locked_423": sum(1 for r in responses if r["status"] == 423),
        "errors": sum(1 for r in responses if r["status"] >= 400 and r["status"] != 423),
        "bytes": first["bytes"],
        "images": finals,
    }


def image_bytes(base: str, result_images: list[dict[str, Any]]) -> dict[str, int]:
    """The page's final images (f_auto,q_auto, responsive) vs the originals and full-size PNG
    cut-outs, fetched here with Chromium's Accept."""
    accept = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
    sizes = {"page_originals": 0, "page_cutouts": 0, "source_originals": 0, "source_png_cutouts": 0}
    with httpx.Client(timeout=60, headers={"Accept": accept}) as client:
        for img in result_images:
            body = client.get(img["src"]).content
            sizes["page_" + ("cutouts" if img["kind"] == "cutout" else "originals")] += len(body)
        for name in PRODUCTS:
            sizes["source_originals"] += len(
                client.get(f"{base}/demo/image/upload/v1/products/{name}.jpg").content
            )
            sizes["source_png_cutouts"] += len(
                client.get(
                    f"{base}/demo/image/upload/e_background_removal/v1/products/{name}.png"
                ).content
            )
    return sizes


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="isnet", help="the server's ALPHACDN_MODEL")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--policies", default=",".join(POLICIES))
    ap.add_argument("--photos", type=Path, help="upload six photos of this dir as the products")
    ap.add_argument("--json", type=Path, help="write every figure here")
    args = ap.parse_args()
    if not (EXAMPLE / "node_modules" / "puppeteer-core").exists():
        print("run scripts/gallery.sh build first (chromium, the example's npm packages)")
        return 1
    subprocess.run(["node", "scripts/build.mjs"], cwd=EXAMPLE, check=True, capture_output=True)
    load = os.getloadavg()
    print(f"model {args.model}, load average {load[0]:.1f} at start, {os.cpu_count()} cores")
    figures: dict[str, list[dict[str, Any]]] = {}
    sizes: dict[str, int] = {}
    app_port = free_port()
    for rnd in range(args.rounds):
        for policy in args.policies.split(","):
            env = {"ALPHACDN_CORS_ORIGINS": f"http://127.0.0.1:{app_port}", **POLICIES[policy]}
            with tempfile.TemporaryDirectory(prefix="gallery-bench-") as tmp:
                work = Path(tmp)
                proc, base = start_server(work / "data", args.model, env)
                try:
                    seed(base, args.photos, work)
                    cold = view(base, app_port, work / "cold.json", watch_mattes=True)
                    # wait for every matte (bounded), then a new visitor
                    deadline = time.monotonic() + 600
                    while mattes_done(base) < len(PRODUCTS) and time.monotonic() < deadline:
                        time.sleep(0.5)
                    warm = view(base, app_port, work / "warm.json", watch_mattes=False)
                    if not sizes:
                        sizes = image_bytes(base, warm["images"])
                finally:
                    stop(proc)
            for kind, v in (("cold", cold), ("warm", warm)):
                v.pop("images")
                figures.setdefault(f"{policy}/{kind}", []).append(v)
                print(
                    f"round {rnd + 1} {policy:>7} {kind}: first cut-out "
                    f"{_ms(v['first_cutout_ms'])}, every image shown {_ms(v['all_shown_ms'])}, "
                    f"mattes ready {_ms(v['mattes_ready_ms'])}, previews {v['previews']}, "
                    f"423s {v['locked_423']}, errors {v['errors']}, "
                    f"transfer {v['bytes']['transfer'] / 1024:.0f} KiB in {v['bytes']['n']}"
                )
    print("\nmedians over rounds (ms):")
    print(
        "| policy | view | first cut-out | every image shown | every matte ready | previews "
        "| 423s |"
    )
    print("|---|---|---|---|---|---|---|")
    for key, runs in figures.items():
        policy, kind = key.split("/")

        def med(field: str, runs: list[dict[str, Any]] = runs) -> str:
            values = [r[field] for r in runs if r[field] is not None]
            return _ms(statistics.median(values)) if values else "—"

        previews = statistics.median(r["previews"] for r in runs)
        locked = statistics.median(r["locked_423"] for r in runs)
        print(
            f"| {policy} | {kind} | {med('first_cutout_ms')} | {med('all_shown_ms')} | "
            f"{med('mattes_ready_ms')} | {previews:g} | {locked:g} |"
        )
    page = sizes["page_originals"] + sizes["page_cutouts"]
    sources = sizes["source_originals"] + sizes["source_png_cutouts"]
    print(
        f"\nbytes, 6 products (12 images at the page's responsive width, f_auto,q_auto as "
        f"Chromium negotiates): originals {sizes['page_originals'] / 1024:.1f} KiB vs "
        f"{sizes['source_originals'] / 1024:.1f} KiB as uploaded "
        f"({sizes['page_originals'] / sizes['source_originals']:.2f}×); cut-outs on their "
        f"backdrop {sizes['page_cutouts'] / 1024:.1f} KiB vs full-size PNG cut-outs "
        f"{sizes['source_png_cutouts'] / 1024:.1f} KiB "
        f"({sizes['page_cutouts'] / sizes['source_png_cutouts']:.2f}×); page total "
        f"{page / 1024:.1f} KiB vs {sources / 1024:.1f} KiB ({page / sources:.2f}×)"
    )
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    if args.json:
        args.json.write_text(json.dumps({"figures": figures, "bytes": sizes}, indent=1))
    return 0


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value / 1000:.1f} s"


if __name__ == "__main__":
    sys.exit(main())
