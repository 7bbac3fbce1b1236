"""`ALPHACDN_MATTE_PREVIEW` (the storefront setting): the first view of a cut-out is never a 423.
A matte that would not be ready within `ALPHACDN_MATTE_WAIT` is answered at once with the small
model's preview cut-out, marked and never cached; one that would be is held and served."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
import pyvips

from tests.e2e.conftest import configure_sdk, upload_fixture
from tests.e2e.server import Server

pytestmark = pytest.mark.model


def _alpha(body: bytes) -> np.ndarray:
    image = pyvips.Image.new_from_buffer(body, "")
    assert image.bands == 4
    return np.asarray(image.numpy())[..., 3].astype(np.float32) / 255.0


def _final(url: str, deadline: float = 60.0) -> httpx.Response:
    """The real cut-out: polled (bounded) until an answer is not a preview."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        resp = httpx.get(url, timeout=30)
        if resp.status_code == 200 and "x-alphacdn-preview" not in resp.headers:
            return resp
        time.sleep(0.3)
    raise AssertionError(f"no final cut-out of {url} in {deadline} s")


@pytest.fixture(scope="module")
def previewing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {"ALPHACDN_MATTE_PREVIEW": "u2netp", "ALPHACDN_MATTE_WAIT": "0"}
    srv = Server(tmp_path_factory.mktemp("preview"), env=env).start()
    yield srv
    srv.stop()


def test_first_view_is_a_marked_uncached_preview_then_the_real_cutout(previewing: Server) -> None:
    configure_sdk(previewing)
    upload_fixture("tiger-on-backdrop.jpg", "tiger")
    url = f"{previewing.url}/demo/image/upload/e_background_removal/c_scale,w_300/v1/tiger.png"
    renders = httpx.get(previewing.url + "/metrics.json").json()["renders"]
    first = httpx.get(url, timeout=60)
    assert first.status_code == 200, first.text
    assert first.headers["x-alphacdn-preview"] == "u2netp"
    assert first.headers["cache-control"] == "no-store"
    assert first.headers["x-alphacdn-cache"] == "PREVIEW"
    preview = _alpha(first.content)
    assert 0.05 < (preview > 0.5).mean() < 0.95  # a cut-out, not an empty or full matte

    # once the matte is made, the URL's real render is made and stored without another request
    deadline = time.monotonic() + 60
    while httpx.get(previewing.url + "/metrics.json").json()["renders"] == renders:
        assert time.monotonic() < deadline, "the previewed URL was never rendered for real"
        time.sleep(0.2)
    final = _final(url)
    assert final.headers["x-alphacdn-cache"] == "HIT"
    assert "immutable" in final.headers["cache-control"]
    real = _alpha(final.content)
    assert real.shape == preview.shape  # no layout shift when the real one replaces it
    # the same subject: the masks agree on most pixels (u2netp both, refined differently)
    assert ((real > 0.5) == (preview > 0.5)).mean() > 0.9
    assert previewing.jobs()["previews"] >= 1
    again = httpx.get(url, timeout=30)
    assert again.headers["x-alphacdn-cache"] == "HIT"
    assert again.content == final.content


def test_preview_answers_the_derived_url_of_a_preview_in_flight_once(previewing: Server) -> None:
    """Two transformations of one new product share one preview run."""
    configure_sdk(previewing)
    upload_fixture("dog-bike.jpg", "dog")
    before = previewing.jobs()["previews"]
    base = f"{previewing.url}/demo/image/upload/e_background_removal"
    answers = [httpx.get(f"{base}/c_scale,w_{w}/dog.webp", timeout=60) for w in (120, 240)]
    previews = [r for r in answers if "x-alphacdn-preview" in r.headers]
    assert all(r.status_code == 200 for r in answers), [r.text for r in answers]
    assert [pyvips.Image.new_from_buffer(r.content, "").width for r in answers] == [120, 240]
    assert previewing.jobs()["previews"] - before == (1 if previews else 0)


def test_with_a_wait_long_enough_the_request_is_held_for_the_real_cutout(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    env = {"ALPHACDN_MATTE_PREVIEW": "u2netp", "ALPHACDN_MATTE_WAIT": "60"}
    srv = Server(tmp_path_factory.mktemp("held"), env=env).start()
    try:
        configure_sdk(srv)
        upload_fixture("car-house.jpg", "car")
        resp = httpx.get(f"{srv.url}/demo/image/upload/e_background_removal/car.png", timeout=90)
        assert resp.status_code == 200, resp.text
        assert "x-alphacdn-preview" not in resp.headers
        assert srv.jobs()["previews"] == 0
    finally:
        srv.stop()


def test_a_missing_preview_model_leaves_cloudinarys_423(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    env = {"ALPHACDN_MATTE_PREVIEW": "no-such-model", "ALPHACDN_MATTE_WAIT": "0"}
    srv = Server(tmp_path_factory.mktemp("nopreview"), env=env).start()
    try:
        configure_sdk(srv)
        upload_fixture("car-house.jpg", "car")
        resp = httpx.get(f"{srv.url}/demo/image/upload/e_background_removal/car.png", timeout=30)
        assert resp.status_code == 423, resp.text
        assert int(resp.headers["retry-after"]) >= 1
        assert "preview cut-outs unavailable" in srv.log()
    finally:
        srv.stop()
