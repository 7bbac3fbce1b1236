"""Issue 6: added latency of a hinted removal vs a plain removal, in the same run, through a server.

    bench/serve.sh 8810 /tmp/bench-hints            # isnet (default model)
    .venv/bin/python bench/hints_latency.py [--server http://127.0.0.1:8810] [--rounds 3] \
        [--hint dog]

Mattes are keyed by content, so every measurement uses fresh bytes: each photo is re-encoded with
pyvips at a quality no other round uses (JPEG q 80..95, distinct md5), uploaded with the real SDK,
and then timed from the first GET to the 200 (423 polled every 0.1 s; the poll interval bounds the
resolution). Per round and photo:

- `plain`   : `e_background_removal/<A>.png` on fresh asset A (model + refine + encode)
- `hinted`  : `e_background_removal:hints_(dog)/<B>.png` on fresh asset B (model + detector +
  selection)
- `hinted_after_plain`: `e_background_removal:hints_(dog)/<A>.png` (the salient matte of A exists:
  detector + selection + encode only)
- `plain_again`: `e_background_removal/<A>.png` once more (cache hit: the floor of a request)

The order of plain/hinted alternates between rounds so drift of the shared machine's load does
not favour one. Prints medians and the load average.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import cloudinary
import cloudinary.uploader
import pyvips
import requests

PHOTOS = Path(os.environ.get("BENCH_PHOTOS", "/work/shared/data/photos"))
API_KEY, API_SECRET = "123456789012345", "alphacdn-dev-secret"
DEFAULT_PHOTOS = ("dog-bike.jpg", "cat-dog-couch.jpg", "dog-golden-snow.jpg")


def timed(server: str, path: str) -> tuple[float, requests.Response]:
    t0 = time.perf_counter()
    while True:
        r = requests.get(server + path, timeout=300)
        if r.status_code != 423:
            return time.perf_counter() - t0, r
        time.sleep(0.1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", default="http://127.0.0.1:8810")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--hint", default="dog")
    ap.add_argument("--photos", nargs="*", default=list(DEFAULT_PHOTOS))
    ap.add_argument("--json")
    a = ap.parse_args()
    cloudinary.reset_config()
    cloudinary.config(
        cloud_name="demo",
        api_key=API_KEY,
        api_secret=API_SECRET,
        upload_prefix=a.server,
        secure=False,
    )
    run = int(time.time())
    rows = []
    seen: set[str] = set()
    load0 = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="hints-lat-"))
    for rnd in range(a.rounds):
        for pi, name in enumerate(a.photos):
            im = pyvips.Image.new_from_file(str(PHOTOS / name)).autorot()
            ids = {}
            for which, q in (("A", 95 - 2 * rnd), ("B", 94 - 2 * rnd)):
                data = im.jpegsave_buffer(Q=q, strip=True)
                md5 = hashlib.md5(data).hexdigest()
                assert md5 not in seen, "bytes not fresh"
                seen.add(md5)
                f = tmp / f"{which}.jpg"
                f.write_bytes(data)
                pid = f"lat{run}-{rnd}-{Path(name).stem}-{which}"
                cloudinary.uploader.upload(str(f), public_id=pid)
                ids[which] = pid
            plain_url = f"/demo/image/upload/e_background_removal/{ids['A']}.png"
            hint_b = f"/demo/image/upload/e_background_removal:hints_({a.hint})/{ids['B']}.png"
            hint_a = f"/demo/image/upload/e_background_removal:hints_({a.hint})/{ids['A']}.png"
            row = {"round": rnd, "photo": name, "load": os.getloadavg()[0]}
            order = [("plain", plain_url), ("hinted", hint_b)]
            if (rnd + pi) % 2:
                order.reverse()
            for label, url in [*order, ("hinted_after_plain", hint_a), ("plain_again", plain_url)]:
                t, r = timed(a.server, url)
                assert r.status_code == 200, (label, r.status_code, r.text[:200])
                row[label] = round(t, 3)
                if label.startswith("hinted"):
                    row[label + "_matched"] = r.headers.get("X-Alphacdn-Hints-Matched")
            rows.append(row)
            print(json.dumps(row), flush=True)
    load1 = os.getloadavg()
    print(
        f"\nload before {tuple(round(x, 2) for x in load0)}, "
        f"after {tuple(round(x, 2) for x in load1)}"
    )
    print("\n| case | median s | min s | max s | n |\n|---|---|---|---|---|")
    for label in ("plain", "hinted", "hinted_after_plain", "plain_again"):
        v = [r[label] for r in rows]
        print(f"| {label} | {statistics.median(v):.2f} | {min(v):.2f} | {max(v):.2f} | {len(v)} |")
    added = [r["hinted"] - r["plain"] for r in rows]
    extra = [r["hinted_after_plain"] - r["plain_again"] for r in rows]
    print(
        f"\nmedian (hinted − plain) per photo-round: {statistics.median(added):+.2f} s; "
        f"median (hinted_after_plain − cache hit): {statistics.median(extra):+.2f} s"
    )
    for name in a.photos:
        sub = [r for r in rows if r["photo"] == name]
        print(
            f"- {name}: plain {statistics.median(r['plain'] for r in sub):.2f}, hinted "
            f"{statistics.median(r['hinted'] for r in sub):.2f}, hinted after plain "
            f"{statistics.median(r['hinted_after_plain'] for r in sub):.2f}"
        )
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
