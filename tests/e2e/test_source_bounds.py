"""Issue 15 (rows 2 and 8) through a real server: images with an extreme aspect ratio are refused
from their header, in milliseconds, wherever they come in; a text layer without spaces wraps.

The images are the issue's own: a complete 95 KB PNG of 1 × 49,000,000 pixels (and its
49,000,000 × 1 twin), under the 50 MP area limit; decoding one took 18–77 CPU-s and gigabytes.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import cloudinary
import cloudinary.exceptions
import cloudinary.uploader
import httpx
import pytest
import pyvips

from alphacdn.cache import LocalOriginals
from alphacdn.settings import DEV_REMOVEBG_KEY
from tests.e2e.conftest import configure_sdk, delivery_url
from tests.e2e.server import Server
from tests.engine.imaging import png, png_zeros, solid
from tests.removebg.helpers import Listener

TALL = png_zeros(1, 49_000_000)
WIDE = png_zeros(49_000_000, 1)
BASE = png(solid(64, 64, (230, 230, 230)))
#: refused from the header: well under what decoding took (18 s and more), with room for load
QUICK = 3.0


def _put(root: Path, public_id: str, data: bytes) -> None:
    info = pyvips.Image.new_from_buffer(data, "")
    meta = {"format": "png", "width": info.width, "height": info.height}
    LocalOriginals(root / "originals").put("demo", public_id, data, meta)


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    files = Listener()
    files.files = {"/tall.png": TALL, "/wide.png": WIDE}
    yield files
    files.close()


@pytest.fixture(scope="module")
def bounded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Default limits; `tall` and `wide` were stored before the limit existed."""
    data = tmp_path_factory.mktemp("bounds")
    for public_id, body in (("tall", TALL), ("wide", WIDE), ("base", BASE)):
        _put(data, public_id, body)
    env = {"ALPHACDN_ALLOW_REMOTE_UPLOAD": "true", "ALPHACDN_ALLOW_PRIVATE_URLS": "true"}
    srv = Server(data, env=env).start()
    configure_sdk(srv)
    yield srv
    srv.stop()


def _timed_get(url: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = httpx.get(url, timeout=120)
    return response, time.monotonic() - started


@pytest.mark.parametrize("name", ["tall", "wide"])
@pytest.mark.parametrize("how", ["file", "remote"])
def test_upload_is_refused_quickly_naming_the_side_limit(
    bounded: Server, listener: Listener, name: str, how: str
) -> None:
    source: object = io.BytesIO(TALL if name == "tall" else WIDE)
    if how == "remote":
        source = f"{listener.url}/{name}.png"
    configure_sdk(bounded)
    started = time.monotonic()
    with pytest.raises(cloudinary.exceptions.BadRequest) as caught:
        cloudinary.uploader.upload(source, public_id=f"new-{name}-{how}")
    assert time.monotonic() - started < QUICK
    size = "1x49000000" if name == "tall" else "49000000x1"
    assert f"{size}, a side over the limit of 16384 px" in str(caught.value)


@pytest.mark.parametrize("name", ["tall", "wide"])
def test_delivery_of_a_stored_original_is_a_quick_400(bounded: Server, name: str) -> None:
    """`w_200` of it decoded for 31 s before a 400; 49,000,000 × 1 was a 500 after 18 s."""
    configure_sdk(bounded)
    for options in ({"width": 200, "crop": "scale"}, {}):
        response, took = _timed_get(delivery_url(name, format="png", **options))
        assert response.status_code == 400, response.text
        assert took < QUICK
        assert "a side over the limit of 16384 px" in response.headers["x-cld-error"]


def test_a_layer_asset_is_held_to_the_same_limit(bounded: Server) -> None:
    configure_sdk(bounded)
    for options in ({"overlay": "tall"}, {"underlay": "wide"}):
        response, took = _timed_get(delivery_url("base", format="png", **options))
        assert response.status_code == 400, response.text
        assert took < QUICK
        assert "a side over the limit of 16384 px" in response.headers["x-cld-error"]


def _removebg(srv: Server, files: dict[str, bytes]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = httpx.post(
        srv.url + "/v1.0/removebg",
        files={name: (f"{name}.png", body) for name, body in files.items()},
        data={"size": "full"},
        headers={"X-Api-Key": DEV_REMOVEBG_KEY},
        timeout=120,
    )
    return response, time.monotonic() - started


def _credits(srv: Server) -> float:
    account = httpx.get(srv.url + "/v1.0/account", headers={"X-Api-Key": DEV_REMOVEBG_KEY})
    return float(account.json()["data"]["attributes"]["credits"]["total"])


@pytest.mark.parametrize("parameter", ["image_file", "bg_image_file"])
def test_removebg_refuses_before_charging_anything(bounded: Server, parameter: str) -> None:
    """77 CPU-s and +2.5 GB for a source, no answer: now a 400 before rate or credits."""
    before = _credits(bounded)
    for bad in (TALL, WIDE):
        files = {"image_file": bad} if parameter == "image_file" else {"image_file": BASE}
        if parameter == "bg_image_file":
            files["bg_image_file"] = bad
        response, took = _removebg(bounded, files)
        assert response.status_code == 400, response.text
        assert took < QUICK
        [error] = response.json()["errors"]
        assert error["code"] == "limit_input_side", error
        assert parameter in error["title"] and "16384 px a side" in error["title"], error
        limit = response.headers["X-RateLimit-Limit"]
        assert response.headers["X-RateLimit-Remaining"] == limit  # nothing counted
    assert _credits(bounded) == before


def test_a_text_layer_without_spaces_wraps_instead_of_failing(bounded: Server) -> None:
    """`l_text:Arial_300:` + 120 × W was a 500 (a cairo surface over 32767 px wide)."""
    configure_sdk(bounded)
    overlay = {"font_family": "Arial", "font_size": 300, "text": "W" * 120}
    url = cloudinary.CloudinaryImage("base").build_url(overlay=overlay, format="png")
    assert "l_text:Arial_300:WWWW" in url
    response, _ = _timed_get(url)
    assert response.status_code == 200, response.headers.get("x-cld-error")
    image = pyvips.Image.new_from_buffer(response.content, "")
    assert 2048 < image.width <= 4096 and image.height <= 4096 * 1.1


def test_a_text_layer_too_large_to_draw_is_a_400_naming_it(bounded: Server) -> None:
    configure_sdk(bounded)
    overlay = {"font_family": "Arial", "font_size": 300, "text": "W" * 500}
    url = cloudinary.CloudinaryImage("base").build_url(overlay=overlay, format="png")
    response, took = _timed_get(url)
    assert response.status_code == 400, response.text
    assert took < QUICK
    error = response.headers["x-cld-error"]
    # refused by the size estimate before anything is drawn (the render budget's canvas limit,
    # or the text layer's own bound when the canvas limit is higher): both name the component
    assert "l_text:Arial_300:WWWW" in error, error
    assert "canvas" in error or "over the 4096x4096 px a text layer may take" in error


def test_the_side_setting_reaches_every_decode(tmp_path: Path) -> None:
    """`ALPHACDN_MAX_SOURCE_SIDE=1000`: a 1200 × 10 image is refused by upload, delivery,
    layers and the matte job (which reads the stored original), naming 1000 px."""
    data = tmp_path / "d"
    narrow = png_zeros(1200, 10)
    _put(data, "narrow", narrow)
    _put(data, "base", BASE)
    srv = Server(data, env={"ALPHACDN_MAX_SOURCE_SIDE": "1000"}).start()
    try:
        configure_sdk(srv)
        limit = "1200x10, a side over the limit of 1000 px"
        with pytest.raises(cloudinary.exceptions.BadRequest, match=limit):
            cloudinary.uploader.upload(io.BytesIO(narrow), public_id="again")
        for public_id, options in (("narrow", {}), ("base", {"overlay": "narrow"})):
            response, _ = _timed_get(delivery_url(public_id, format="png", **options))
            assert response.status_code == 400 and limit in response.headers["x-cld-error"]
        # background removal too, at once from the stored sizes (no 423, no matte job)
        url = f"{srv.url}/demo/image/upload/e_background_removal/narrow.png"
        response = httpx.get(url, timeout=60)
        assert response.status_code == 400 and limit in response.headers["x-cld-error"]
    finally:
        srv.stop()
