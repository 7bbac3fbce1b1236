"""`ALPHACDN_MATTE_WAIT`: a delivery request for a matte in progress is held until it is ready
(an `<img>` gets the cut-out on its first load), or answers 423 when the wait is over."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
import pyvips

from alphacdn.cache import LocalOriginals
from tests.conftest import FIXTURES
from tests.e2e.conftest import configure_sdk, upload_fixture
from tests.e2e.server import Server

pytestmark = pytest.mark.model

TIGER = FIXTURES / "e2e" / "tiger-on-backdrop.jpg"


@pytest.fixture(scope="module")
def held(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("wait"), env={"ALPHACDN_MATTE_WAIT": "60"}).start()
    yield srv
    srv.stop()


def test_first_requests_are_held_and_get_the_cutout(held: Server) -> None:
    configure_sdk(held)
    upload_fixture("tiger-on-backdrop.jpg", "tiger")
    url = f"{held.url}/demo/image/upload/e_background_removal/tiger.png"
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda _: httpx.get(url, timeout=90), range(10)))
    assert [r.status_code for r in answers] == [200] * 10, [r.text for r in answers]
    png = pyvips.Image.new_from_buffer(answers[0].content, "")
    assert png.bands == 4
    alpha = np.asarray(png.numpy())[..., 3]
    assert 0.05 < (alpha > 127).mean() < 0.95  # a cut-out, not an empty or full matte
    jobs = held.jobs()
    assert jobs["model_runs"]["demo/tiger"] == 1
    assert jobs["matte_jobs"]["demo/tiger"] == 1


def test_a_failing_job_answers_its_error_to_the_held_request(held: Server) -> None:
    store = LocalOriginals(held.data_dir / "originals")
    data = TIGER.read_bytes()
    meta = {"format": "jpg", "width": 400, "height": 273}
    store.put("demo", "broken", data[: len(data) // 2], meta)
    resp = httpx.get(f"{held.url}/demo/image/upload/e_background_removal/broken.png", timeout=90)
    assert resp.status_code == 422, resp.text
    assert "failed" in resp.headers["x-cld-error"].lower()


def test_a_short_wait_still_answers_423(tmp_path: Path) -> None:
    srv = Server(tmp_path / "short", env={"ALPHACDN_MATTE_WAIT": "0.2"}).start()
    try:
        configure_sdk(srv)
        upload_fixture("car-house.jpg", "car")
        url = f"{srv.url}/demo/image/upload/e_background_removal/car.png"
        first = httpx.get(url, timeout=30)
        assert first.status_code == 423, first.text
        assert int(first.headers["retry-after"]) >= 1
    finally:
        srv.stop()
