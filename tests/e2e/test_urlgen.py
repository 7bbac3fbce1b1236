"""Every URL `@cloudinary/url-gen` and the `@cloudinary/html` plugins emit (the committed list in
`tests/fixtures/urlgen/urls.tsv`, made by its `gen.mjs`) answers 200 with a sensible image from
a real server, for an asset uploaded with the official SDK; client hints drive `w_auto` /
`dpr_auto` with `Accept-CH`, `Vary` and a key per resolved value."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import pyvips

from tests.conftest import FIXTURES
from tests.e2e.conftest import configure_sdk, upload_fixture
from tests.e2e.server import Server
from tests.e2e.test_background_removal import _poll

URLS = [
    tuple(line.split("\t"))
    for line in (FIXTURES / "urlgen" / "urls.tsv").read_text().splitlines()
    if line.strip()
]
#: the source: dog-bike.jpg, 480 × 360
SOURCE = (480, 360)
#: labels whose size is known: (width, height)
SIZES = {
    "placeholder:vectorize": SOURCE,
    "placeholder:predominant-color": SOURCE,
    "raw:predominant-color-legacy": SOURCE,
    "accessibility:darkmode": SOURCE,
    'responsive:"default"': (640, 480),
    "responsive:200": (800, 600),
    "raw:g_auto:subject": (400, 300),
    "raw:g_auto:classic": (300, 300),
    "raw:w_auto:step:fallback": (400, 300),  # no hint: the fallback
    "raw:conditional": (400, 300),  # 480 > 400: the first branch
    "url-gen:c_auto": (400, 400),
    "url-gen:c_auto:g_auto": (400, 400),
    "url-gen:w_auto": SOURCE,  # no hint: the image as it is
    "url-gen:cutout-card": (400, 400),  # the shadow makes room inside the card
    "url-gen:underlay:relative": SOURCE,  # `w_1,h_1` under fl_relative: the whole base
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("urlgen")).start()
    configure_sdk(srv)
    upload_fixture("dog-bike.jpg", "sample")
    yield srv
    srv.stop()


def _image(resp: httpx.Response) -> pyvips.Image:
    if resp.headers["content-type"] == "image/svg+xml":
        assert resp.content.lstrip().startswith(b"<svg")
        return pyvips.Image.svgload_buffer(resp.content)
    return pyvips.Image.new_from_buffer(resp.content, "")


def _case(label: str) -> object:
    marks = [pytest.mark.model] if "background_removal" in dict(URLS)[label] else []
    return pytest.param(label, id=label, marks=marks)


@pytest.mark.parametrize("label", [_case(label) for label, _ in URLS])
def test_every_sdk_url_answers_an_image(server: Server, label: str) -> None:
    path = dict(URLS)[label]
    resp, _ = _poll(server.url + path, timeout=120, accept="image/avif,image/webp,*/*")
    assert resp.status_code == 200, (path, resp.headers.get("x-cld-error"), resp.text[:200])
    assert resp.headers["content-type"].startswith("image/")
    image = _image(resp)
    assert image.width > 0 and image.height > 0
    if label in SIZES:
        assert (image.width, image.height) == SIZES[label], path
    if "vectorize" in label:
        assert resp.headers["content-type"] == "image/svg+xml"
        assert len(resp.content) < 2_000_000
    if label.startswith("placeholder:") and label != "placeholder:vectorize":
        # a placeholder is far lighter than the image it stands for
        full = httpx.get(f"{server.url}/demo/image/upload/f_auto/sample",
                         headers={"accept": "image/avif,image/webp"})  # fmt: skip
        assert len(resp.content) < len(full.content)


def test_client_hints_size_w_auto_and_dpr_auto(server: Server) -> None:
    url = f"{server.url}/demo/image/upload/c_scale,w_auto:100:200/dpr_auto/sample.png"
    plain = httpx.get(url)
    assert plain.status_code == 200
    assert "sec-ch-width" in plain.headers["accept-ch"].lower()
    vary = plain.headers["vary"].lower()
    assert "sec-ch-width" in vary and "sec-ch-dpr" in vary
    assert _image(plain).width == 200  # no hint: the fallback
    hinted = httpx.get(url, headers={"Sec-CH-Width": "333", "Sec-CH-DPR": "2"})
    assert _image(hinted).width == 400  # 333 rounded up to the step; the width counts the DPR
    legacy = httpx.get(url, headers={"Width": "333"})
    assert _image(legacy).width == 400
    assert legacy.headers["x-alphacdn-cache"] == "HIT"  # the same resolved values: one entry
    dpr_only = httpx.get(url, headers={"DPR": "2"})
    assert _image(dpr_only).width == 400  # the fallback at DPR 2
    other = httpx.get(url, headers={"Sec-CH-Width": "701"})
    assert _image(other).width == 800
    still = httpx.get(url)
    assert _image(still).width == 200 and still.headers["x-alphacdn-cache"] == "HIT"
    static = httpx.get(f"{server.url}/demo/image/upload/w_100/sample.png")
    assert "sec-ch" not in static.headers.get("vary", "").lower()


def test_an_eager_w_auto_chain_is_the_no_hint_answer(server: Server) -> None:
    result = upload_fixture(
        "dog-bike.jpg", "eager-auto", eager=[{"raw_transformation": "c_scale,w_auto:100:200"}]
    )
    assert [e["status"] for e in result["eager"]] in (["processed"], [None]), result["eager"]
    resp = httpx.get(f"{server.url}/demo/image/upload/c_scale,w_auto:100:200/eager-auto.jpg")
    assert resp.status_code == 200 and _image(resp).width == 200
    assert resp.headers["x-alphacdn-cache"] == "HIT"  # rendered at upload, under this key
