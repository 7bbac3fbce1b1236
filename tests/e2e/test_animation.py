"""Animated GIF and WebP through a real server and the official SDK: every frame kept through
resizes, crops, effects and overlays, `f_auto` → animated WebP or GIF, still formats and `pg_`
take one frame, `dl_`/`e_loop`, the upload reports `pages`, background removal uses frame 1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cloudinary.uploader
import httpx
import pytest
import pyvips

from tests.e2e.conftest import configure_sdk, delivery_url
from tests.e2e.server import Server
from tests.e2e.test_background_removal import _poll
from tests.engine.imaging import FRAME_COLOURS, animated, frames_of, png, solid

FRAMES = 5


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("anim")).start()
    configure_sdk(srv)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def uploaded(server: Server, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    folder: Path = tmp_path_factory.mktemp("anim-files")
    gif = folder / "anim.gif"
    gif.write_bytes(animated(FRAMES, 120, 90))
    webp = folder / "anim-webp.webp"
    webp.write_bytes(animated(FRAMES, 120, 90, fmt="webp"))
    logo = folder / "logo.png"
    logo.write_bytes(png(solid(20, 20, (0, 0, 0))))
    result: dict[str, object] = cloudinary.uploader.upload(str(gif), public_id="anim")
    cloudinary.uploader.upload(str(webp), public_id="anim-webp")
    cloudinary.uploader.upload(str(logo), public_id="logo")
    return result


def get(url: str, accept: str = "*/*") -> httpx.Response:
    resp = httpx.get(url, headers={"Accept": accept}, timeout=60)
    assert resp.status_code == 200, (resp.status_code, resp.headers.get("x-cld-error"))
    return resp


def near(pixel: list[float], want: tuple[int, int, int], tol: float = 24) -> bool:
    return all(abs(p - w) <= tol for p, w in zip(pixel[:3], want, strict=True))


def test_the_upload_reports_its_frames(uploaded: dict[str, object]) -> None:
    assert uploaded["format"] == "gif" and uploaded["pages"] == FRAMES
    assert (uploaded["width"], uploaded["height"]) == (120, 90)


@pytest.mark.parametrize("public_id", ["anim", "anim-webp"])
def test_a_resize_keeps_every_frame(uploaded: dict[str, object], public_id: str) -> None:
    fmt = "gif" if public_id == "anim" else "webp"
    resp = get(delivery_url(public_id, width=60, crop="scale", format=fmt))
    img = frames_of(resp.content)
    assert resp.headers["content-type"] == f"image/{fmt}"
    assert img.get("n-pages") == FRAMES and (img.width, img.get("page-height")) == (60, 45)
    for i in range(FRAMES):
        assert near(img.getpoint(40, i * 45 + 35), FRAME_COLOURS[i]), i


def test_f_auto_negotiates_an_animated_format(uploaded: dict[str, object]) -> None:
    url = delivery_url("anim", width=60, crop="scale", fetch_format="auto")
    chrome = get(url, "image/avif,image/webp,image/apng,image/*,*/*;q=0.8")
    assert chrome.headers["content-type"] == "image/webp"
    assert "accept" in chrome.headers["vary"].lower()
    assert frames_of(chrome.content).get("n-pages") == FRAMES
    old = get(url, "image/png,image/*;q=0.8")
    assert old.headers["content-type"] == "image/gif"
    assert frames_of(old.content).get("n-pages") == FRAMES


def test_overlays_and_effects_land_on_every_frame(uploaded: dict[str, object]) -> None:
    url = delivery_url(
        "anim",
        format="webp",
        transformation=[
            {"width": 100, "height": 100, "crop": "fill", "radius": 10},
            {"overlay": "logo"},
            {"flags": "layer_apply", "gravity": "north_west", "x": 5, "y": 5},
        ],
    )
    img = frames_of(get(url).content)
    assert img.get("n-pages") == FRAMES
    for i in range(FRAMES):
        assert near(img.getpoint(10, i * 100 + 10), (0, 0, 0))  # the logo
        assert near(img.getpoint(50, i * 100 + 80), FRAME_COLOURS[i])  # the frame's own colour
        assert img.getpoint(0, i * 100)[3] == 0  # the rounded corner


def test_a_still_format_or_a_page_is_one_frame(uploaded: dict[str, object]) -> None:
    jpg = pyvips.Image.new_from_buffer(get(delivery_url("anim", format="jpg")).content, "")
    assert near(jpg.getpoint(60, 70), FRAME_COLOURS[0])
    third = get(delivery_url("anim", page=3, format="png")).content
    assert near(pyvips.Image.new_from_buffer(third, "").getpoint(60, 70), FRAME_COLOURS[2])


def test_a_page_range_delay_and_loop(uploaded: dict[str, object]) -> None:
    url = delivery_url("anim", page="2-4", delay=250, effect="loop:1", format="gif")
    img = frames_of(get(url).content)
    assert img.get("n-pages") == 3 and list(img.get("delay")) == [250] * 3
    assert img.get("loop") == 2
    assert near(img.getpoint(60, 70), FRAME_COLOURS[1])


def test_a_page_past_the_end_is_a_400_naming_it(uploaded: dict[str, object]) -> None:
    resp = httpx.get(delivery_url("anim", page=9, format="gif"), timeout=30)
    assert resp.status_code == 400
    assert "pg_9" in resp.headers["x-cld-error"] and "5 frames" in resp.headers["x-cld-error"]


@pytest.mark.model
def test_background_removal_uses_the_first_frame(uploaded: dict[str, object]) -> None:
    url = delivery_url("anim", effect="background_removal", format="png")
    resp, _seen = _poll(url)
    assert resp.status_code == 200, resp.headers.get("x-cld-error")
    img = pyvips.Image.new_from_buffer(resp.content, "")
    assert (img.width, img.height) == (120, 90) and img.bands == 4
