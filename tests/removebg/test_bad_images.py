"""Bad images through `POST /v1.0/removebg` (a real uvicorn): every image error is a 400 JSON
error naming the parameter, answered before the rate limit or the credits are charged and
before the cut-out is made; a backdrop's header is held to the sources' pixel limit."""

from __future__ import annotations

import base64
import time
from typing import Any

import httpx
import pytest

from tests.engine.imaging import png_header_bomb
from tests.removebg.helpers import KEY, SLOW_KEY, FakeDeps, Listener, make_image

SOURCE = make_image()
JPEG = make_image(600, 400, fmt=".jpg")
PNG = make_image(600, 400)
SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="120" height="80">'
    b'<rect width="120" height="80" fill="red"/></svg>'
)
BAD = {
    "truncated-jpeg": JPEG[: len(JPEG) // 2],
    "truncated-png": PNG[: len(PNG) // 2],
    # a valid JPEG header and first scans, then its entropy-coded data overwritten with junk
    "corrupt-jpeg": JPEG[:700] + bytes(range(256)) * 8 + JPEG[700 + 2048 :],
    "svg": SVG,
    # a PNG signature in front of an SVG document (either reader may claim it)
    "png-svg-polyglot": b"\x89PNG\r\n\x1a\n" + SVG,
    "png-header-bomb": png_header_bomb(100_000, 100_000),
}


def post(
    client: httpx.Client, files: dict[str, bytes], data: dict[str, str] | None = None, **kw: Any
) -> httpx.Response:
    return client.post(
        "/v1.0/removebg",
        files={name: (name, body) for name, body in files.items()},
        data=data or {},
        headers={"X-Api-Key": kw.pop("key", KEY)},
        **kw,
    )


def error(response: httpx.Response) -> dict[str, str]:
    assert response.headers["content-type"] == "application/json", response.text
    [item] = response.json()["errors"]
    return dict(item)


def credits(client: httpx.Client, key: str = KEY) -> float:
    account = client.get("/v1.0/account", headers={"X-Api-Key": key}).json()
    return float(account["data"]["attributes"]["credits"]["total"])


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_source_is_400_before_anything_is_charged(
    client: httpx.Client, deps: FakeDeps, name: str
) -> None:
    before, calls = credits(client), deps.calls
    response = post(client, {"image_file": BAD[name]}, {"size": "full"})
    assert response.status_code == 400, response.text
    item = error(response)
    code = "limit_input_50mp" if name == "png-header-bomb" else "invalid_image"
    assert item["code"] == code, item
    assert "X-RateLimit-Limit" in response.headers
    assert (credits(client), deps.calls) == (before, calls)


def test_bad_b64_source_names_its_parameter(client: httpx.Client) -> None:
    body = base64.b64encode(BAD["truncated-jpeg"]).decode()
    response = post(client, {}, {"image_file_b64": body})
    assert response.status_code == 400
    assert error(response) == {
        "title": "The image in image_file_b64 could not be read: send a JPG, PNG or WebP file.",
        "code": "invalid_image",
        "detail": "parameter: image_file_b64",
    }


def test_bad_images_do_not_count_against_the_rate_limit(client: httpx.Client) -> None:
    """SLOW_KEY may process 3 megapixel-weighted images a minute: five refused 1.5 MP-sized
    files leave all of it, so a good 1.5 MP image (weight 2) still passes afterwards."""
    big_truncated = make_image(1500, 1000, fmt=".jpg")
    for _ in range(5):
        response = post(client, {"image_file": big_truncated[:4000]}, key=SLOW_KEY)
        assert response.status_code == 400 and error(response)["code"] == "invalid_image"
        assert response.headers["X-RateLimit-Remaining"] == "3"
    good = post(client, {"image_file": make_image(1500, 1000)}, key=SLOW_KEY)
    assert good.status_code == 200, good.text
    assert good.headers["X-RateLimit-Remaining"] == "1"


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_backdrop_file_is_400_naming_it(
    client: httpx.Client, deps: FakeDeps, name: str
) -> None:
    before, calls = credits(client), deps.calls
    started = time.monotonic()
    response = post(client, {"image_file": SOURCE, "bg_image_file": BAD[name]}, {"size": "full"})
    assert time.monotonic() - started < 5  # the bomb is refused from its header
    assert response.status_code == 400, response.text
    item = error(response)
    code = "limit_input_50mp" if name == "png-header-bomb" else "invalid_image"
    assert item["code"] == code, item
    assert "bg_image_file" in item["title"] + item["detail"]
    assert (credits(client), deps.calls) == (before, calls)


def test_backdrop_header_bomb_by_url_is_refused_quickly(
    client: httpx.Client, listener: Listener
) -> None:
    """69 bytes claiming 100000 × 100000 pixels: once minutes of CPU and 7 GB, now a 400."""
    listener.files["/bomb.png"] = bomb = png_header_bomb(100_000, 100_000)
    assert len(bomb) < 100
    started = time.monotonic()
    response = post(client, {"image_file": SOURCE}, {"bg_image_url": listener.url + "/bomb.png"})
    assert time.monotonic() - started < 5
    assert response.status_code == 400
    item = error(response)
    assert item["code"] == "limit_input_50mp"
    assert "bg_image_url" in item["title"] and "100000x100000" in item["title"]


def test_good_backdrop_still_composes(client: httpx.Client) -> None:
    backdrop = make_image(300, 200, fmt=".jpg", box=False)
    response = post(client, {"image_file": SOURCE, "bg_image_file": backdrop}, {"format": "png"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
