# ruff: noqa: E501  (markdown tables and URLs are long lines)
"""Regenerate `docs/compositing.md` and its pictures from a running alphacdn server.

    alphacdn serve --port 8000 &          # any server; ALPHACDN_MODEL picks the matting model
    python docs/make_compositing_page.py --url http://127.0.0.1:8000

It uploads the publishable test photos (see `tests/fixtures/SOURCES.md`) and a generated
backdrop through the upload API (dev credentials unless given), requests every example URL
(waiting out the 423 of the first background removal), saves what the server answers under
`docs/compositing/` and writes the page with the exact URLs.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pyvips

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "e2e"
OUT = ROOT / "docs" / "compositing"
PAGE = ROOT / "docs" / "compositing.md"
#: (public_id, fixture, licence) — only photos whose licence allows publishing
PHOTOS = [
    ("dog", "dog-bike.jpg", "public domain (pjreddie/darknet)"),
    ("tiger", "tiger-on-backdrop.jpg", "MIT (danielgatis/rembg) on a generated backdrop"),
]


@dataclass(frozen=True)
class Example:
    title: str
    public_id: str
    chain: str
    note: str
    ext: str = "png"


EXAMPLES = [
    Example("Cut-out", "dog", "e_background_removal/c_scale,w_360",
            "The matte, computed once per asset and reused by every chain below."),
    Example("The brief's chain", "dog", "e_background_removal:hints_(dog);fineedges_y/e_grayscale",
            "Only the dog (the bicycle is background), fine edges, grayscale on the subject only."),
    Example("New backdrop with a grounded shadow", "dog",
            "e_background_removal:hints_(dog)/e_trim/e_dropshadow/c_scale,h_210/u_backdrop/"
            "c_fill,h_300,w_420/fl_layer_apply,g_south,y_24", "Trim to the subject, cast a soft "
            "shadow, then put a generated backdrop under it (`u_` … `fl_layer_apply`).", "jpg"),
    Example("Cloudinary's underlay example", "dog",
            "e_background_removal:hints_(dog)/c_scale,w_600/u_backdrop/c_fill,h_800,w_1200/"
            "fl_layer_apply,g_center/f_auto/q_auto",
            "Documented combination; `f_auto` answers WebP to this page's generator.", "webp"),
    Example("Light blue, trimmed", "dog", "e_background_removal/b_lightblue,c_pad,w_1.0/e_trim",
            "Documented combination: the pad colour fills the removed background, then trim."),
    Example("Light from the front left", "tiger",
            "e_background_removal/e_dropshadow:azimuth_220;elevation_40;spread_20",
            "`e_dropshadow`: the silhouette cast behind the subject, darker where it touches."),
    Example("Offset shadow", "tiger", "e_background_removal/co_rgb:203040,e_shadow:50,x_12,y_12",
            "`e_shadow`: Cloudinary's blurred copy of the alpha; the canvas grows to hold it."),
    Example("Matte only", "tiger", "e_background_removal/e_mask:alpha",
            "`e_mask:alpha`: the alpha as a grayscale image (white = subject)."),
    Example("Tighter, softer edge", "tiger",
            "e_background_removal/e_mask:shrink_2;feather_3/b_rgb:1d3557",
            "`e_mask:shrink_2;feather_3` on a navy backdrop (`b_`)."),
    Example("Text overlay", "tiger", "e_background_removal/b_rgb:1d3557/"
            "l_text:DejaVu Sans_26_bold:White tiger,co_white,g_south,y_12",
            "`l_text:<font>_<size>[_bold]:<text>` with `co_`, placed with `g_` and `y_`.", "jpg"),
    Example("Subject-aware square crop", "dog", "e_background_removal/c_fill,g_auto,w_220,h_220",
            "`g_auto` centres on the subject box when the image has a matte."),
    Example("Default shadow", "tiger", "e_background_removal/e_shadow/b_white",
            "`e_shadow` with its defaults: 40 % gray, offset 5 % of the longest side to the "
            "bottom right, blurred by 1.5 %.", "jpg"),
    Example("Outline", "tiger", "e_background_removal/co_white,e_outline:6:100/b_rgb:1d3557",
            "`e_outline[:mode][:width][:blur]` follows the matte; `co_` colours it.", "jpg"),
    Example("Wrapped caption, per-corner radius", "dog",
            "c_fill,h_300,w_420/r_40:0/l_text:DejaVu Sans_24_bold_center_line_spacing_4:"
            "A good dog on a very good bike,c_fit,w_220,co_white,g_south_east,x_16,y_16",
            "`c_fit,w_220` on a text layer wraps it at 220 px; `r_40:0` rounds the top-left and "
            "bottom-right corners only."),
    Example("Multiply blend", "dog", "c_fill,h_300,w_420/l_backdrop,w_420,h_300,c_fill,"
            "e_multiply", "`e_multiply` on an overlay darkens the base by the overlay's colours "
            "(also `e_screen`, `e_overlay`, `e_mask`, `e_anti_removal`, `fl_tiled`, "
            "`fl_cutter`).", "jpg"),
]  # fmt: skip


SYNTAX = """
## URL syntax

| what | syntax | notes |
|---|---|---|
| underlay / overlay | `u_<id>` / `l_<id>`, folders with `:` (`l_shop:logo`) | the layer's own params (`w_ h_ c_ e_ o_ a_ r_ b_ …`) sit in the same component |
| close a layer | `…/fl_layer_apply[,g_<gravity>][,x_][,y_][,fl_no_overflow]` | components between the opener and it transform the layer; without it the layer closes on its own component, whose `g_ x_ y_` place it |
| blend modes | `e_multiply` `e_screen` `e_overlay` (colours blend), `e_mask` / `fl_cutter` (the base kept only where the overlay is opaque), `e_anti_removal[:<1-100>]` (the watermark slightly warped and speckled, a fixed pattern) | in the opener or the `fl_layer_apply` component; overlays only; the canvas stays the base's |
| tiles | `fl_tiled` | the overlay repeats over the whole base from its placement |
| placement | `g_` anchor, `x_`/`y_` inwards (pixels, or `0.1` = 10 % of the base) | the canvas grows to hold the layer unless `fl_no_overflow` |
| sizes relative to the base | `fl_relative` on the opener (`l_logo,w_0.2,fl_relative`) | |
| text | `l_text:<font>_<size>[_bold][_italic][_left\\|center\\|right\\|justify][_letter_spacing_<n>][_line_spacing_<n>]:<text>`, `co_` colour | `,` `/` `%` escaped `%2C` `%2F` `%25` (the SDK does it); ≤ 500 characters, size ≤ 300 |
| text box | `c_fit,w_<n>[,h_<n>]` on the text layer; `fl_text_no_trim` | wraps at n px instead of scaling the text (`h_` cuts what is taller); no_trim keeps the lines' full height |
| backdrop colour | `b_<color>` / `b_rgb:RRGGBB[AA]`; with `c_pad` it also fills the removed background | `b_auto[:border\\|predominant]` picks a pad colour |
| shadow | `e_shadow[:<0-100>]`, `co_`, `x_`, `y_` | default 40 % gray, offset 5 % of the longest side (at least 4 px) to the bottom right, blurred by 1.5 % of it |
| outline | `e_outline[:outer\\|inner\\|fill\\|inner_fill][:<1-100>][:<0-2000>]`, `co_` | width default 5 px, black; `outer`/`fill` grow the canvas; `fill` modes put the colour behind the whole shape |
| rounded corners | `r_<px>`, `r_max`, `r_<tl>:<tr>[:<br>[:<bl>]]` | per corner in CSS order (2 values: tl=br, tr=bl; 3: bl=tr); radii too large for a side shrink together |
| drop shadow | `e_dropshadow[:azimuth_<0-360>;elevation_<0-90>;spread_<0-100>]` | defaults 215 / 45 / 50; needs transparency (else 400) |
| mask controls | `e_mask:[shrink_<n>][;expand_<n>][;feather_<n>][;invert][;alpha]` (n = 1–100 px) | order: shrink → expand → feather → invert; `alpha` delivers the matte |
| subject-aware crops | `c_fill`/`c_thumb`/`c_crop` with `g_auto` | centred on the subject box when the image is transparent |
| trim | `e_trim` | transparent borders when the corner is transparent |

Limits: layers nest 3 deep, 8 per chain; a missing layer asset is a 404 naming it; a stray
`fl_layer_apply`, deeper nesting or a longer text is a 400 naming the component.
"""


def backdrop() -> bytes:
    """A soft studio backdrop: a pale wall fading into a warm floor."""
    xy = pyvips.Image.xyz(1200, 800)
    t = xy[1] / 800
    wall = (t * -40 + 235).bandjoin([t * -30 + 236, t * -10 + 240])
    floor = ((t - 0.62) * -60 + 205).bandjoin([(t - 0.62) * -70 + 196, (t - 0.62) * -80 + 184])
    img = (t > 0.62).ifthenelse(floor, wall).gaussblur(6).cast("uchar")
    return bytes(img.copy(interpretation="srgb").jpegsave_buffer(Q=90))


def upload(client: httpx.Client, url: str, key: str, secret: str, pid: str, data: bytes) -> None:
    from alphacdn.transform import api_sign_request

    params = {"public_id": pid, "timestamp": str(int(time.time()))}
    form = {**params, "api_key": key, "signature": api_sign_request(params, secret)}
    resp = client.post(f"{url}/v1_1/demo/image/upload", data=form, files={"file": data})
    resp.raise_for_status()


def fetch(client: httpx.Client, url: str, timeout: float = 180) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        resp = client.get(url, headers={"accept": "image/webp,*/*"})
        if resp.status_code != 423 or time.monotonic() > deadline:
            resp.raise_for_status()
            return resp
        time.sleep(0.5)


def main() -> None:
    from alphacdn.settings import DEV_API_KEY, DEV_API_SECRET

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default="http://127.0.0.1:8000")
    ap.add_argument("--api-key", default=DEV_API_KEY)
    ap.add_argument("--api-secret", default=DEV_API_SECRET)
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    with httpx.Client(timeout=120) as client:
        for pid, name, _ in PHOTOS:
            upload(
                client, args.url, args.api_key, args.api_secret, pid, (FIXTURES / name).read_bytes()
            )
        upload(client, args.url, args.api_key, args.api_secret, "backdrop", backdrop())
        rows = []
        for i, ex in enumerate(EXAMPLES, 1):
            path = f"/demo/image/upload/{ex.chain}/{ex.public_id}.{ex.ext}"
            if "f_auto" in ex.chain:
                path = path.rsplit(".", 1)[0]
            resp = fetch(client, args.url + path)
            ext = resp.headers["content-type"].split("/")[1].replace("jpeg", "jpg")
            file = OUT / f"{i:02d}-{ex.public_id}.{ext}"
            file.write_bytes(resp.content)
            rows.append((ex, path, file.name))
        for pid, _name, _ in PHOTOS:
            (OUT / f"original-{pid}.jpg").write_bytes(fetch(client, f"{args.url}/demo/image/"
                                                                     f"upload/c_scale,w_360/{pid}.jpg").content)  # fmt: skip
    PAGE.write_text(render_page(rows))
    print(f"wrote {PAGE} and {len(rows)} pictures in {OUT}")


def render_page(rows: list[tuple[Example, str, str]]) -> str:
    lines = [
        "# Compositing after background removal",
        "",
        "Every picture on this page was produced by alphacdn itself from the URL shown under it",
        "(regenerate: `python docs/make_compositing_page.py --url <server>`; the matting model was",
        "the server's, `u2netp` for the committed pictures). Photos: "
        + "; ".join(f"`{pid}` = `{name}`, {lic}" for pid, name, lic in PHOTOS)
        + ".",
        "",
        "| original `dog` | original `tiger` |",
        "|---|---|",
        "| ![dog](compositing/original-dog.jpg) | ![tiger](compositing/original-tiger.jpg) |",
        "",
    ]
    for ex, path, name in rows:
        lines += [
            f"## {ex.title}",
            "",
            ex.note,
            "",
            f"`{path}`",
            "",
            f"![{ex.title}](compositing/{name})",
            "",
        ]
    return "\n".join(lines) + SYNTAX


if __name__ == "__main__":
    main()
