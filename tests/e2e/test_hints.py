"""`e_background_removal:hints_(…)`: keep only the requested object classes (real detector +
u2netp matte through a real server)."""

from __future__ import annotations

from collections.abc import Iterator

import cloudinary.uploader
import httpx
import numpy as np
import pytest
import pyvips

from tests.conftest import FIXTURES
from tests.e2e.conftest import configure_sdk, upload_fixture
from tests.e2e.server import Server
from tests.e2e.test_background_removal import _poll
from tests.e2e.webhook import WebhookListener

pytestmark = pytest.mark.model

# Hand-drawn regions (x1, y1, x2, y2) in the fixtures' pixels, drawn by looking at the photos.
DOG_BOX = (70, 8, 170, 150)  # cat-dog.png: the bulldog, sitting
CAT_BOX = (38, 115, 210, 224)  # cat-dog.png: the tabby lying in front
CAR_BOX = (50, 100, 440, 280)  # car-house.jpg: the car


def _alpha(resp: httpx.Response) -> np.ndarray:
    img = pyvips.Image.new_from_buffer(resp.content, "")
    assert img.bands == 4
    return np.asarray(img[3].numpy()) > 127


def _box_mask(shape: tuple[int, ...], box: tuple[int, int, int, int]) -> np.ndarray:
    m = np.zeros(shape[:2], bool)
    m[box[1] : box[3], box[0] : box[2]] = True
    return m


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # notifications go to a listener on 127.0.0.1
    env = {"ALPHACDN_ALLOW_PRIVATE_URLS": "true"}
    srv = Server(tmp_path_factory.mktemp("hints"), env=env).start()
    configure_sdk(srv)
    upload_fixture("cat-dog.png", "catdog")
    upload_fixture("car-house.jpg", "car")
    yield srv
    srv.stop()


def _get(server: Server, chain: str, public_id: str) -> httpx.Response:
    resp, _ = _poll(f"{server.url}/demo/image/upload/{chain}/{public_id}.png")
    assert resp.status_code == 200, resp.text
    return resp


@pytest.mark.parametrize(
    ("hint", "box", "other"), [("cat", CAT_BOX, DOG_BOX), ("dog", DOG_BOX, CAT_BOX)]
)
def test_hint_keeps_only_that_animal(
    server: Server, hint: str, box: tuple[int, int, int, int], other: tuple[int, int, int, int]
) -> None:
    salient = _alpha(_get(server, "e_background_removal", "catdog"))
    resp = _get(server, f"e_background_removal:hints_({hint})", "catdog")
    kept = _alpha(resp)
    region = _box_mask(kept.shape, box)
    expected = salient & region  # the salient matte inside the hand-drawn region
    assert _iou(kept, expected) > 0.7
    # nothing of the other animal (outside the overlap of the two boxes) is kept
    only_other = _box_mask(kept.shape, other) & ~region
    assert (kept & only_other).sum() < 0.05 * kept.sum()
    assert f"{hint}:" in resp.headers["x-alphacdn-hints"]
    assert resp.headers["x-alphacdn-hints-matched"] == "yes"


def test_hint_car_keeps_the_car(server: Server) -> None:
    resp = _get(server, "e_background_removal:hints_(car)", "car")
    kept = _alpha(resp)
    region = _box_mask(kept.shape, CAR_BOX)
    assert (kept & region).sum() > 0.95 * kept.sum()
    assert kept.sum() > 0.15 * kept.size
    assert "car:" in resp.headers["x-alphacdn-hints"]


def test_hint_without_match_serves_full_matte_and_says_so(server: Server) -> None:
    full = _alpha(_get(server, "e_background_removal", "car"))
    resp = _get(server, "e_background_removal:hints_(airplane)", "car")
    assert resp.headers["x-alphacdn-hints-matched"].startswith("no")
    assert _iou(_alpha(resp), full) > 0.99


def test_hinted_and_plain_share_the_salient_matte(server: Server) -> None:
    for chain in (
        "e_background_removal",
        "e_background_removal:hints_(dog)",
        "e_background_removal:hints_(cat)",
        "e_background_removal:hints_(cat;dog)",
    ):
        _get(server, chain, "catdog")
    jobs = httpx.get(server.url + "/metrics.json").json()["jobs"]
    # one job per option set, but the model ran once: hinted jobs reuse the salient matte
    assert jobs["model_runs"]["demo/catdog"] == 1


def test_upload_with_a_hint_reports_what_was_kept(server: Server) -> None:
    with WebhookListener() as hook:
        result = cloudinary.uploader.upload(
            str(FIXTURES / "e2e" / "car-house.jpg"),
            public_id="car-upload",
            background_removal="cloudinary_ai:car:fine_edges",
            notification_url=hook.url,
        )
        assert result["info"]["background_removal"]["cloudinary_ai"]["status"] == "pending"
        [note] = hook.wait_for(1)
    assert "car:" in note["info_data"]["hints"] and ":kept" in note["info_data"]["hints"]
    png = httpx.get(note["url"])
    assert png.status_code == 200
    assert _alpha(png).sum() > 0.15 * _alpha(png).size
