"""The remove.bg-style API on the real engine and model, sharing mattes with the CDN."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import numpy as np
import pytest
import pyvips

from alphacdn.settings import DEV_REMOVEBG_KEY
from tests.conftest import FIXTURES
from tests.e2e.conftest import configure_sdk, upload_fixture
from tests.e2e.server import Server

pytestmark = pytest.mark.model

TIGER = FIXTURES / "e2e" / "tiger-on-backdrop.jpg"
TIGER_ALPHA = FIXTURES / "e2e" / "tiger-on-backdrop.alpha.png"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("rb")).start()
    configure_sdk(srv)
    yield srv
    srv.stop()


def _model_runs(server: Server) -> int:
    runs = httpx.get(server.url + "/metrics.json").json()["jobs"]["model_runs"]
    return sum(runs.values())


def test_removebg_then_cdn_share_one_matte(server: Server) -> None:
    resp = httpx.post(
        server.url + "/v1.0/removebg",
        files={"image_file": ("tiger.jpg", TIGER.read_bytes(), "image/jpeg")},
        data={"size": "full", "format": "png"},
        headers={"X-Api-Key": DEV_REMOVEBG_KEY},
        timeout=120,
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "image/png"
    assert (resp.headers["x-width"], resp.headers["x-height"]) == ("400", "273")
    assert resp.headers["x-type"] in {"animal", "product", "person", "car", "transportation"}
    assert "x-ratelimit-remaining" in resp.headers
    img = pyvips.Image.new_from_buffer(resp.content, "")
    truth = np.asarray(pyvips.Image.new_from_file(str(TIGER_ALPHA)).numpy()) > 127
    alpha = np.asarray(img[3].numpy()) > 127
    assert (alpha & truth).sum() / (alpha | truth).sum() > 0.8
    runs = _model_runs(server)
    assert runs == 1
    # the same bytes through the CDN: ready at once, no second model run
    upload_fixture("tiger-on-backdrop.jpg", "tiger")
    cdn = httpx.get(f"{server.url}/demo/image/upload/e_background_removal/tiger.png")
    assert cdn.status_code == 200
    # and through the API again
    again = httpx.post(
        server.url + "/v1.0/removebg",
        files={"image_file": ("tiger.jpg", TIGER.read_bytes(), "image/jpeg")},
        data={"channels": "alpha"},
        headers={"X-Api-Key": DEV_REMOVEBG_KEY},
        timeout=120,
    )
    assert again.status_code == 200
    assert _model_runs(server) == 1


def test_removebg_errors_are_json(server: Server) -> None:
    resp = httpx.post(
        server.url + "/v1.0/removebg",
        data={"size": "full"},
        headers={"X-Api-Key": DEV_REMOVEBG_KEY},
    )
    assert resp.status_code == 400
    assert resp.json()["errors"][0]["title"]
    assert httpx.post(server.url + "/v1.0/removebg").status_code == 403
    junk = httpx.post(
        server.url + "/v1.0/removebg",
        headers={"X-Api-Key": DEV_REMOVEBG_KEY},
        files={"image_file": ("x.jpg", b"not an image", "image/jpeg")},
    )
    assert junk.status_code == 400
    assert httpx.get(server.url + "/openapi.json").json()["openapi"].startswith("3")
