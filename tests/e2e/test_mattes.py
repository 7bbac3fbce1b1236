"""One owner of a matte, through a real server: the remove.bg API, delivery jobs and concurrent
callers share one model run per content, and the queue bound applies to the API too."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import cloudinary.uploader
import httpx
import pytest
import pyvips

from alphacdn.cache import JobStore
from alphacdn.mattes import content_matte_key
from alphacdn.settings import DEV_REMOVEBG_KEY
from alphacdn.transform import BackgroundRemoval
from tests.conftest import FIXTURES
from tests.e2e.conftest import configure_sdk
from tests.e2e.server import MATTE_MODEL, Server
from tests.e2e.test_background_removal import _poll

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # two inference slots: without the single flight, identical requests would run twice
    srv = Server(tmp_path_factory.mktemp("mattes"), env={"ALPHACDN_JOB_CONCURRENCY": "2"}).start()
    configure_sdk(srv)
    yield srv
    srv.stop()


def _removebg(server: Server, data: bytes, **fields: str) -> httpx.Response:
    return httpx.post(
        server.url + "/v1.0/removebg",
        files={"image_file": ("image.jpg", data, "image/jpeg")},
        data=fields,
        headers={"X-Api-Key": DEV_REMOVEBG_KEY},
        timeout=180,
    )


def _runs(server: Server) -> int:
    return sum(server.jobs()["model_runs"].values())


def _photo(name: str, scale: float = 1.0) -> bytes:
    image = pyvips.Image.new_from_file(str(FIXTURES / "e2e" / name))
    return bytes((image.resize(scale) if scale != 1.0 else image).jpegsave_buffer(Q=90))


def test_concurrent_identical_removebg_requests_run_the_model_once(server: Server) -> None:
    data = (FIXTURES / "e2e" / "dog-bike.jpg").read_bytes()
    before = _runs(server)
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: _removebg(server, data), range(6)))
    assert [a.status_code for a in answers] == [200] * 6, [a.text for a in answers]
    assert len({a.content for a in answers}) == 1
    assert _runs(server) == before + 1


def test_removebg_types_share_the_salient_matte(server: Server) -> None:
    """`type=person` is a hinted matte of the same content: the model runs once for both."""
    data = (FIXTURES / "e2e" / "cat-street.jpg").read_bytes()
    before = _runs(server)
    with ThreadPoolExecutor(4) as pool:
        types = ["auto", "person", "auto", "person"]
        answers = list(pool.map(lambda t: _removebg(server, data, type=t), types))
    assert [a.status_code for a in answers] == [200] * 4, [a.text for a in answers]
    assert _runs(server) == before + 1


def test_removebg_waits_for_the_delivery_job_of_the_same_image(server: Server) -> None:
    """A remove.bg request for an image whose matte a delivery job is making gets that job's
    matte: one model run, one job."""
    data = _photo("car-house.jpg", 1.75)  # ≈2 MP: a job that runs long enough to meet
    up: dict[str, Any] = cloudinary.uploader.upload(io.BytesIO(data), public_id="meet")
    url = f"{server.url}/demo/image/upload/e_background_removal/meet.png"
    before = _runs(server)
    assert httpx.get(url).status_code == 423
    store = JobStore(server.data_dir / "state" / "jobs")
    try:
        key = content_matte_key(up["etag"], MATTE_MODEL, BackgroundRemoval())
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # until the server's runner has claimed the job
            record = store.get(key)
            if record is not None and record.status != "queued":
                break
            time.sleep(0.005)
    finally:
        store.close()
    api = _removebg(server, data, size="full", format="png")
    assert api.status_code == 200, api.text
    resp, _ = _poll(url)
    assert resp.status_code == 200, resp.text
    jobs = server.jobs()
    assert sum(jobs["model_runs"].values()) == before + 1
    assert jobs["matte_jobs"]["demo/meet"] == 1
    # the API's cut-out is the delivery's matte
    api_alpha = pyvips.Image.new_from_buffer(api.content, "")[3]
    cdn_alpha = pyvips.Image.new_from_buffer(resp.content, "")[3]
    assert (api_alpha.width, api_alpha.height) == (cdn_alpha.width, cdn_alpha.height)
    assert (api_alpha - cdn_alpha).abs().max() <= 1


def test_the_queue_bound_applies_to_the_api(tmp_path: Path) -> None:
    """With one inference slot and ALPHACDN_QUEUE_MAX=1, one run waits for the slot and further
    distinct images are refused (503 with Retry-After), as delivery jobs are past the bound."""
    srv = Server(
        tmp_path / "d", env={"ALPHACDN_QUEUE_MAX": "1", "ALPHACDN_JOB_CONCURRENCY": "1"}
    ).start()
    try:
        # distinct contents (no flight to share), big enough that a run outlasts the arrivals
        images = [_photo("car-house.jpg", 2.5 + i / 10) for i in range(5)]
        with ThreadPoolExecutor(5) as pool:
            answers = list(pool.map(lambda d: _removebg(srv, d, size="full"), images))
        statuses = [a.status_code for a in answers]
        assert set(statuses) <= {200, 503} and 200 in statuses and 503 in statuses, statuses
        refused = next(a for a in answers if a.status_code == 503)
        assert refused.json()["errors"][0]["code"] == "service_unavailable"
        assert "queue is full" in refused.json()["errors"][0]["title"]
        assert int(refused.headers["retry-after"]) >= 1
    finally:
        srv.stop()
