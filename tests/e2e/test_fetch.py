"""The `fetch` delivery type and `l_fetch:` / `u_fetch:` layers through a real server, fetching
from a real origin on 127.0.0.1 (`tests.e2e.origin`), with URLs built by the official SDK.

The SSRF guard refuses loopback; these servers reach the origin the one way production can reach
a private address: `ALPHACDN_ALLOW_PRIVATE_URLS=true` *and* the address listed literally in
`ALPHACDN_FETCH_DOMAINS` (a name, even one on the list, is never trusted to resolve privately:
`localhost` is on the list here and a redirect to it is still refused).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import cloudinary
import cloudinary.api
import cloudinary.uploader
import cloudinary.utils
import httpx
import numpy as np
import pytest
import pyvips

from alphacdn.transform.remote import encode_layer_url
from tests.conftest import FIXTURES
from tests.e2e.conftest import configure_sdk, delivery_url, upload_fixture
from tests.e2e.origin import Origin
from tests.e2e.server import Server
from tests.engine.imaging import decode, mad, png, png_header_bomb, solid
from tests.ports import free_port

TTL = 2
TIMEOUT = 1.5
#: a refusal or a timeout answers within this (the timeout itself, plus room for load)
QUICK = TIMEOUT + 3.0
E2E = FIXTURES / "e2e"
DOG = (E2E / "dog-bike.jpg").read_bytes()
WOMEN = FIXTURES / "faces" / "two-women.jpg"  # 320×480, two faces side by side at mid-height
RED, BLUE = png(solid(40, 40, (255, 0, 0))), png(solid(40, 40, (0, 0, 255)))


@pytest.fixture(scope="module")
def origin() -> Iterator[Origin]:
    o = Origin()
    o.files.update(
        {
            "/img/dog.jpg": DOG,
            "/img/dog.jpg?v=1&s=2": DOG,
            "/img/red.png": RED,
            "/img/offlist.png": RED,
            "/img/strict.png": RED,
            "/img/logo.png": png(solid(20, 10, (0, 255, 0))),
            "/img/mutable.png": RED,
            "/img/lm.png": RED,
            "/img/tiger.jpg": (E2E / "tiger-on-backdrop.jpg").read_bytes(),
            "/img/bomb.png": png_header_bomb(60_000, 60_000),  # a header claiming 3.6 GP
            "/img/women.jpg": WOMEN.read_bytes(),
            "/img/outage.png": BLUE,
            "/img/removed.png": BLUE,
        }
    )
    o.validators["/img/lm.png"] = "last-modified"
    yield o
    o.close()


def _env(**extra: str) -> dict[str, str]:
    return {
        "ALPHACDN_FETCH_DOMAINS": "127.0.0.1,localhost",
        "ALPHACDN_ALLOW_PRIVATE_URLS": "true",
        "ALPHACDN_FETCH_TTL": str(TTL),
        "ALPHACDN_FETCH_TIMEOUT": str(TIMEOUT),
        "ALPHACDN_FETCH_MAX_BYTES": "2MB",
        **extra,
    }


@pytest.fixture(scope="module")
def fetching(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("fetch"), env=_env()).start()
    configure_sdk(srv)
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def _sdk(fetching: Server) -> None:
    configure_sdk(fetching)


def near(pixel: list[float], rgb: tuple[int, int, int], tolerance: float = 4) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], rgb, strict=True))


def fetch_url(remote: str, **options: Any) -> str:
    url, _ = cloudinary.utils.cloudinary_url(remote, type="fetch", **options)
    assert isinstance(url, str)
    return url


def _get(url: str, **headers: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    resp = httpx.get(url, headers=headers, timeout=60)
    return resp, time.monotonic() - started


def test_fetch_matches_the_same_transformation_of_an_upload(
    fetching: Server, origin: Origin
) -> None:
    upload_fixture("dog-bike.jpg", "dog")
    options: dict[str, Any] = {"width": 120, "height": 90, "crop": "fill", "format": "png"}
    remote = origin.url + "/img/dog.jpg"
    first, _ = _get(fetch_url(remote, **options))
    assert first.status_code == 200, first.text
    assert first.headers["content-type"] == "image/png"
    assert first.headers["x-alphacdn-cache"] == "MISS"
    assert first.headers["cache-control"] == f"public, max-age={TTL}"
    fetched = decode(first.content)
    assert (fetched.width, fetched.height) == (120, 90)
    uploaded = decode(httpx.get(delivery_url("dog", **options)).content)
    assert mad(fetched, uploaded) < 0.5
    again, _ = _get(fetch_url(remote, **options))
    assert again.headers["x-alphacdn-cache"] == "HIT" and again.content == first.content
    assert origin.hits["/img/dog.jpg"] == 1  # one download for both requests


def test_f_auto_plain_urls_and_the_cloudinaryimage_builder(
    fetching: Server, origin: Origin
) -> None:
    remote = origin.url + "/img/dog.jpg"
    url = fetch_url(remote, width=64, crop="scale", fetch_format="auto")
    webp = httpx.get(url, headers={"accept": "image/webp,*/*"})
    assert webp.headers["content-type"] == "image/webp" and webp.headers["vary"] == "Accept"
    avif = httpx.get(url, headers={"accept": "image/avif,image/webp"})
    assert avif.headers["content-type"] == "image/avif"
    plain = httpx.get(url, headers={"accept": "*/*"})
    assert plain.headers["content-type"] == "image/jpeg"
    built = cloudinary.CloudinaryImage(remote).build_url(type="fetch", width=64, crop="scale")
    assert decode(httpx.get(built).content).width == 64
    head = httpx.head(built)
    assert head.status_code == 200 and int(head.headers["content-length"]) > 0
    download = httpx.get(fetch_url(remote, width=30, crop="scale", flags="attachment"))
    assert download.headers["content-disposition"] == 'attachment; filename="dog.jpg"'
    # a plain, unescaped remote URL whose query string reaches the server as a query string
    plain_url = f"{fetching.url}/demo/image/fetch/w_50/{origin.url}/img/dog.jpg?v=1&s=2"
    resp = httpx.get(plain_url)
    assert resp.status_code == 200, resp.text
    assert decode(resp.content).width == 50
    assert origin.hits["/img/dog.jpg?v=1&s=2"] == 1


def test_concurrent_requests_download_once(fetching: Server, origin: Origin) -> None:
    origin.files["/img/crowd.png"] = RED
    urls = [fetch_url(origin.url + "/img/crowd.png", width=w, crop="scale") for w in range(8, 16)]
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda u: httpx.get(u, timeout=60).status_code, urls))
    assert statuses == [200] * 8
    assert origin.hits["/img/crowd.png"] == 1


def test_two_workers_download_at_most_once_each_and_refresh_on_delete(
    tmp_path_factory: pytest.TempPathFactory, origin: Origin
) -> None:
    origin.files["/img/workers.png"] = BLUE
    env = _env(ALPHACDN_FETCH_TTL="600")  # every check within the TTL: no revalidation
    srv = Server(tmp_path_factory.mktemp("fetch-workers"), env=env, workers=2).start()
    try:
        configure_sdk(srv)
        remote = origin.url + "/img/workers.png"
        urls = [fetch_url(remote, width=w, crop="scale", format="png") for w in range(8, 24)]
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda u: httpx.get(u, timeout=60), urls))
        assert [a.status_code for a in answers] == [200] * len(urls)
        assert all(near(decode(a.content)(0, 0), (0, 0, 255)) for a in answers)
        assert 1 <= origin.hits["/img/workers.png"] <= 2
        # refreshed before its TTL (600 s) by deleting the fetched URL, as Cloudinary's API does
        origin.files["/img/workers.png"] = RED
        assert near(decode(httpx.get(urls[0]).content)(0, 0), (0, 0, 255))  # still held
        result = cloudinary.api.delete_resources([remote], type="fetch")
        assert result["deleted"] == {remote: "deleted"}
        started = time.monotonic()  # every worker sees it within its 5 s memory
        while time.monotonic() - started < 8:
            answers = [httpx.get(u) for u in urls[:4]]
            if all(near(decode(a.content)(0, 0), (255, 0, 0)) for a in answers):
                break
            time.sleep(0.5)
        assert all(near(decode(a.content)(0, 0), (255, 0, 0)) for a in answers)
        again = cloudinary.api.delete_resources([remote + "?never"], type="fetch")
        assert again["deleted"] == {remote + "?never": "not_found"}
    finally:
        srv.stop()


def test_a_changed_remote_image_is_served_after_the_ttl(fetching: Server, origin: Origin) -> None:
    remote = origin.url + "/img/mutable.png"
    url = fetch_url(remote, width=20, crop="scale", format="png")
    origin.files["/img/mutable.png"] = RED
    first = httpx.get(url)
    assert decode(first.content)(5, 5)[:3] == [255, 0, 0]
    origin.files["/img/mutable.png"] = BLUE
    within = httpx.get(url)  # inside the TTL: the source we hold
    assert within.headers["etag"] == first.headers["etag"]
    time.sleep(TTL + 0.5)
    after = httpx.get(url)  # revalidated: changed, so a new derived file
    assert after.headers["x-alphacdn-cache"] == "MISS"
    assert decode(after.content)(5, 5)[:3] == [0, 0, 255]
    time.sleep(TTL + 0.5)
    unchanged = httpx.get(url)  # revalidated: 304, the derived file we have
    assert unchanged.headers["x-alphacdn-cache"] == "HIT"
    assert unchanged.headers["etag"] == after.headers["etag"]
    assert origin.not_modified["/img/mutable.png"] == 1
    assert origin.hits["/img/mutable.png"] == 3
    fetches = httpx.get(fetching.url + "/metrics.json").json()["fetches"]
    assert fetches["revalidated"] >= 1


def test_a_failing_server_after_the_ttl_gets_the_held_image_marked_stale(
    fetching: Server, origin: Origin
) -> None:
    remote, removed = origin.url + "/img/outage.png", origin.url + "/img/removed.png"
    for url in (remote, removed):
        first, _ = _get(fetch_url(url, width=20, format="png"))
        assert first.status_code == 200 and "x-alphacdn-fetch" not in first.headers
    time.sleep(TTL + 0.5)
    origin.failing["/img/outage.png"] = 503
    origin.failing["/img/removed.png"] = 404
    try:
        hits = origin.hits["/img/outage.png"]
        # a new transformation and the one already made: both from the bytes we hold
        for options in ({"width": 30, "format": "png"}, {"width": 20, "format": "png"}):
            resp, took = _get(fetch_url(remote, **options))
            assert resp.status_code == 200, resp.headers.get("x-cld-error")
            assert resp.headers["x-alphacdn-fetch"] == "stale"
            assert resp.headers["cache-control"] == f"public, max-age={TTL}"  # min(30 s, TTL)
            assert decode(resp.content).width == options["width"] and took < QUICK
        # tried once (and once more: the fetcher's retry of a 5xx), then not per request
        assert origin.hits["/img/outage.png"] - hits <= 2
        assert httpx.get(fetching.url + "/metrics.json").json()["fetches"]["stale"] >= 1
        gone, _ = _get(fetch_url(removed, width=30, format="png"))  # a 404 is an answer
        assert gone.status_code == 404, gone.text
        time.sleep(TTL + 0.5)  # the retry interval is over; the server is back
        del origin.failing["/img/outage.png"]
        back, _ = _get(fetch_url(remote, width=40, format="png"))
        assert back.status_code == 200 and "x-alphacdn-fetch" not in back.headers
        assert back.headers["cache-control"] == f"public, max-age={TTL}"
    finally:
        origin.failing.clear()


def test_stale_if_error_zero_answers_the_failure(
    tmp_path_factory: pytest.TempPathFactory, origin: Origin
) -> None:
    srv = Server(
        tmp_path_factory.mktemp("fetch-nostale"), env=_env(ALPHACDN_FETCH_STALE_IF_ERROR="0")
    ).start()
    try:
        configure_sdk(srv)
        url = origin.url + "/img/outage.png?strict"
        origin.files["/img/outage.png?strict"] = BLUE
        assert _get(fetch_url(url, width=20, format="png"))[0].status_code == 200
        time.sleep(TTL + 0.5)
        origin.failing["/img/outage.png?strict"] = 503
        resp, _ = _get(fetch_url(url, width=20, format="png"))
        assert resp.status_code == 502, resp.text
    finally:
        origin.failing.clear()
        srv.stop()


def test_an_animated_fetched_source_keeps_its_frames(fetching: Server, origin: Origin) -> None:
    origin.files["/img/anim.gif"] = (E2E / "anim.gif").read_bytes()
    resp = httpx.get(fetch_url(origin.url + "/img/anim.gif", width=32, crop="scale", format="webp"))
    assert resp.status_code == 200, resp.text
    out = pyvips.Image.new_from_buffer(resp.content, "", n=-1)
    assert out.get("n-pages") > 1 and out.width == 32


def test_last_modified_revalidates_too(fetching: Server, origin: Origin) -> None:
    url = fetch_url(origin.url + "/img/lm.png", width=10, crop="scale", format="png")
    assert httpx.get(url).status_code == 200
    time.sleep(TTL + 0.5)
    assert httpx.get(url).status_code == 200
    assert origin.not_modified["/img/lm.png"] == 1


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/missing.png", 404, "Remote resource not found (HTTP 404)"),
        ("/slow.png", 504, "did not answer in 1.5 s"),
        ("/trickle.png", 504, "did not answer in 1.5 s"),
        ("/error.png", 502, "answered HTTP 500"),
        ("/forbidden.png", 502, "answered HTTP 403"),
        ("/page.html", 415, "not an image we decode (text/html"),
        ("/img/bomb.png", 400, "source image is 60000x60000 (3600.0 MP), over the limit"),
        ("/huge-declared.png", 400, "larger than 2097152 bytes"),
        ("/huge-chunked.png", 400, "larger than 2097152 bytes"),
        ("/redirect-name/img/red.png", 403, "'localhost' resolves to a non-public address"),
        ("/redirect-metadata.png", 403, "'169.254.169.254' is not an allowed fetch domain"),
    ],
)
def test_remote_failures_are_clear_and_fast(
    fetching: Server, origin: Origin, path: str, status: int, words: str
) -> None:
    resp, took = _get(fetch_url(origin.url + path, width=10, crop="scale"))
    assert resp.status_code == status, resp.text
    assert words in resp.headers["x-cld-error"], resp.headers["x-cld-error"]
    assert took < QUICK


def test_a_remote_server_that_is_down_is_a_502(fetching: Server) -> None:
    resp, took = _get(fetch_url(f"http://127.0.0.1:{free_port()}/x.png"))
    assert resp.status_code == 502 and "ConnectError" in resp.headers["x-cld-error"]
    assert took < QUICK


def test_a_huge_remote_file_does_not_grow_the_server(fetching: Server, origin: Origin) -> None:
    assert fetching.proc is not None

    def rss() -> int:
        status = Path(f"/proc/{fetching.proc.pid}/status").read_text()  # type: ignore[union-attr]
        return int(next(x for x in status.splitlines() if x.startswith("VmRSS")).split()[1])

    httpx.get(fetch_url(origin.url + "/huge-chunked.png"))  # warm: imports, buffers
    before = rss()
    for n in range(5):
        resp = httpx.get(fetch_url(origin.url + f"/huge-chunked.png?n={n}"))
        assert resp.status_code == 400
    assert rss() - before < 40_000  # KB: five 2 MB caps, not gigabytes


def test_redirects_on_the_allow_list_are_followed(fetching: Server, origin: Origin) -> None:
    resp = httpx.get(fetch_url(origin.url + "/redirect-to/img/red.png", format="png"))
    assert resp.status_code == 200 and decode(resp.content)(1, 1)[:3] == [255, 0, 0]


def test_hosts_off_the_list_and_bad_urls(fetching: Server, origin: Origin) -> None:
    other = f"http://127.0.0.2:{origin.port}/img/offlist.png"
    resp = httpx.get(fetch_url(other))
    assert resp.status_code == 403
    assert "'127.0.0.2' is not in ALPHACDN_FETCH_DOMAINS" in resp.headers["x-cld-error"]
    assert origin.hits["/img/offlist.png"] == 0
    for path, words in (
        ("/demo/image/fetch/w_5/ftp://x/y.png", "only http and https"),
        ("/demo/image/fetch/w_5/dog.jpg", "Invalid fetch URL"),
        ("/demo/image/fetch/w_nope/http://127.0.0.1/y.png", "w_nope"),
    ):
        bad = httpx.get(fetching.url + path)
        assert bad.status_code == 400 and words in bad.headers["x-cld-error"], bad.text


def test_layers_on_fetched_images_and_fetched_layers(fetching: Server, origin: Origin) -> None:
    upload_fixture("dog-bike.jpg", "dog")
    logo = origin.url + "/img/logo.png"
    # an uploaded image with a fetched overlay (the SDK's `fetch:` layer), bottom-right
    url = delivery_url(
        "dog", width=200, crop="scale", format="png",
        transformation=[{"overlay": "fetch:" + logo, "gravity": "south_east"}],
    )  # fmt: skip
    assert "l_fetch:" + encode_layer_url(logo) in url
    resp = httpx.get(url)
    assert resp.status_code == 200, resp.text
    img = decode(resp.content)
    assert near(img(img.width - 3, img.height - 3), (0, 255, 0))
    # a fetched image with an uploaded overlay and a fetched underlay
    upload_fixture("tiger-cutout.png", "tiger-cutout")
    url = fetch_url(
        origin.url + "/img/red.png", format="png",
        transformation=[{"underlay": {"url": logo}, "width": 80, "height": 80, "crop": "scale"},
                        {"overlay": "tiger-cutout", "width": 10, "gravity": "north_west"}],
    )  # fmt: skip
    resp = httpx.get(url)
    assert resp.status_code == 200, resp.text
    img = decode(resp.content)
    assert (img.width, img.height) == (80, 80)
    assert near(img(20, 40), (255, 0, 0))  # the fetched red base covers the green underlay
    # a missing remote layer is the remote's 404
    gone = delivery_url("dog", overlay="fetch:" + origin.url + "/img/none.png")
    resp = httpx.get(gone)
    assert resp.status_code == 404 and "/img/none.png" in resp.headers["x-cld-error"]
    bad = httpx.get(f"{fetching.url}/demo/image/upload/l_fetch:%%%/dog.png")
    assert bad.status_code == 400 and "l_fetch" in bad.headers["x-cld-error"]


@pytest.mark.model
@pytest.mark.model
def test_face_steps_on_a_fetched_image_find_its_faces(fetching: Server, origin: Origin) -> None:
    remote = origin.url + "/img/women.jpg"
    thumb: dict[str, Any] = {"crop": "thumb", "gravity": "face", "width": 80, "height": 80}
    resp, _ = _get(fetch_url(remote, flags="getinfo", **thumb))
    assert resp.status_code == 200, resp.headers.get("x-cld-error")
    found = json.loads(resp.content)
    assert len(found["faces"]) == 2 and found["g_auto"][0]["by"] == "face"
    # the same pixels as the same URL of the uploaded file (not the no-face fallback, north)
    cloudinary.uploader.upload(str(WOMEN), public_id="women-fetch")
    fetched, _ = _get(fetch_url(remote, format="png", **thumb))
    uploaded = httpx.get(delivery_url("women-fetch", format="png", **thumb), timeout=60)
    assert fetched.status_code == uploaded.status_code == 200
    assert mad(decode(fetched.content), decode(uploaded.content)) < 1.0
    north = {**thumb, "crop": "fill", "gravity": "north", "format": "png"}
    fallback = httpx.get(delivery_url("women-fetch", **north), timeout=60)
    assert mad(decode(fetched.content), decode(fallback.content)) > 5.0
    pixelated, _ = _get(fetch_url(remote, effect="pixelate_faces", format="png"))
    assert mad(decode(pixelated.content), decode(WOMEN.read_bytes())) > 0.5


def test_background_removal_of_a_fetched_image_is_keyed_by_content(
    fetching: Server, origin: Origin
) -> None:
    """Made while the request waits (no 423 for a fetched source), then shared by content: the
    same bytes uploaded find their matte already made."""
    remote = origin.url + "/img/tiger.jpg"
    resp = httpx.get(fetch_url(remote, effect="background_removal", format="png"), timeout=120)
    assert resp.status_code == 200, resp.text
    cut = decode(resp.content)
    assert cut.bands == 4
    alpha = np.asarray(cut[3].numpy())
    assert 0.05 < float((alpha > 127).mean()) < 0.9  # a subject, not all or nothing
    upload_fixture("tiger-on-backdrop.jpg", "tiger-same-bytes")
    uploaded = httpx.get(
        delivery_url("tiger-same-bytes", effect="background_removal", format="png")
    )
    assert uploaded.status_code == 200  # not 423: the matte of these bytes exists
    assert mad(decode(uploaded.content), cut) < 0.5
    jobs = httpx.get(fetching.url + "/metrics.json").json()["jobs"]
    assert sum(jobs["model_runs"].values()) == 1


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = _env(ALPHACDN_STRICT_TRANSFORMATIONS="true", ALPHACDN_FETCH_DOMAINS="127.0.0.1")
    srv = Server(tmp_path_factory.mktemp("fetch-strict"), env=env).start()
    yield srv
    srv.stop()


def test_strict_mode_serves_signed_fetch_urls_only(strict: Server, origin: Origin) -> None:
    configure_sdk(strict)
    remote = origin.url + "/img/strict.png"
    unsigned = httpx.get(fetch_url(remote, width=10, crop="scale"))
    assert unsigned.status_code == 401 and "strict" in unsigned.headers["x-cld-error"]
    assert httpx.get(fetch_url(remote)).status_code == 401  # the remote original too
    signed = fetch_url(remote, width=10, crop="scale", sign_url=True)
    resp = httpx.get(signed)
    assert resp.status_code == 200, resp.text
    tampered = signed.replace("w_10", "w_11")
    assert httpx.get(tampered).status_code == 401
    assert origin.hits["/img/strict.png"] == 1  # refusals fetch nothing


def test_fetch_is_off_without_domains(
    tmp_path_factory: pytest.TempPathFactory, origin: Origin
) -> None:
    srv = Server(tmp_path_factory.mktemp("fetch-off")).start()
    try:
        configure_sdk(srv)
        resp = httpx.get(fetch_url(origin.url + "/img/red.png"))
        assert resp.status_code == 403
        assert "ALPHACDN_FETCH_DOMAINS is empty" in resp.headers["x-cld-error"]
        upload_fixture("dog-bike.jpg", "dog")
        layer = httpx.get(delivery_url("dog", overlay="fetch:" + origin.url + "/img/red.png"))
        assert layer.status_code == 403, layer.text
        assert "ALPHACDN_FETCH_DOMAINS is empty" in layer.headers["x-cld-error"]
    finally:
        srv.stop()
