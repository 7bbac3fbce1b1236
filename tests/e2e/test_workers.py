"""Two worker processes behind one port share the cache, single-flight, matte jobs and tasks."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from alphacdn.settings import DEV_REMOVEBG_KEY
from tests.conftest import FIXTURES
from tests.e2e.conftest import configure_sdk, upload_fixture
from tests.e2e.server import Server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("workers"), workers=2).start()
    configure_sdk(srv)
    upload_fixture("car-house.jpg", "car")
    yield srv
    srv.stop()


def _burst(url: str, n: int = 24) -> list[httpx.Response]:
    with ThreadPoolExecutor(n) as pool:
        # fresh connections, so requests spread over both worker processes
        return list(pool.map(lambda _: httpx.get(url, timeout=60), range(n)))


def test_cold_burst_renders_once_across_workers(server: Server) -> None:
    url = f"{server.url}/demo/image/upload/c_fill,w_333,h_222/e_sepia/car.webp"
    responses = _burst(url)
    assert [r.status_code for r in responses] == [200] * len(responses)
    misses = [r for r in responses if r.headers["x-alphacdn-cache"] == "MISS"]
    assert len(misses) == 1
    assert len({r.headers["etag"] for r in responses}) == 1


@pytest.mark.model
def test_matte_burst_starts_one_job_across_workers(server: Server) -> None:
    url = f"{server.url}/demo/image/upload/e_background_removal/car.png"
    statuses = [r.status_code for r in _burst(url)]
    assert set(statuses) <= {200, 423}
    for _ in range(400):
        if httpx.get(url).status_code != 423:
            break
        time.sleep(0.2)
    assert httpx.get(url).status_code == 200
    assert _model_runs(server) == 1  # one model run in total, whichever worker did it


def _model_runs(server: Server) -> int:
    """Model runs of both worker processes together: what one `/metrics` scrape says (every
    process counts in the run's metrics dir), checked against the per-process JSON."""
    per_worker: dict[int, int] = {}
    for _ in range(40):  # /metrics.json is per process: sample until both workers answered
        m = httpx.get(server.url + "/metrics.json").json()
        per_worker[m["pid"]] = sum(m["jobs"]["model_runs"].values())
        if len(per_worker) == 2:
            break
    assert len(per_worker) == 2
    total = server.metric("alphacdn_model_runs_total", model="u2netp")
    assert total == sum(per_worker.values())
    return int(total)


@pytest.mark.model
def test_identical_removebg_burst_runs_the_model_once_across_workers(server: Server) -> None:
    data = (FIXTURES / "e2e" / "tiger-on-backdrop.jpg").read_bytes()
    before = _model_runs(server)

    def post(_: int) -> httpx.Response:  # a fresh connection each: both workers answer
        return httpx.post(
            server.url + "/v1.0/removebg",
            files={"image_file": ("tiger.jpg", data, "image/jpeg")},
            headers={"X-Api-Key": DEV_REMOVEBG_KEY},
            timeout=180,
        )

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(post, range(8)))
    assert [a.status_code for a in answers] == [200] * 8, [a.text for a in answers]
    assert _model_runs(server) == before + 1


@pytest.mark.model
def test_tasks_run_on_the_shared_job_queue(server: Server) -> None:
    """`/v2/tasks` tasks are jobs on the one queue: whichever worker claims one, every worker
    answers its status and serves its result."""
    image = (FIXTURES / "e2e" / "dog-bike.jpg").read_bytes()
    auth = {"X-Api-Key": DEV_REMOVEBG_KEY}
    ids = []
    for _ in range(3):
        created = httpx.post(
            server.url + "/v2/tasks/create",
            data={"tool": "background_removal", "size": "preview", "format": "png"},
            files={"image": ("dog.jpg", image, "image/jpeg")},
            headers=auth,
            timeout=60,
        )
        assert created.status_code == 200, created.text
        ids.append(created.json()["task"]["_id"])
    deadline = time.monotonic() + 120
    pending = set(ids)
    while pending:
        assert time.monotonic() < deadline, f"tasks {pending} never finished"
        for task_id in list(pending):
            task = httpx.get(f"{server.url}/v2/tasks/{task_id}", headers=auth).json()["task"]
            if task["status"] in ("completed", "failed"):
                assert task["status"] == "completed", task
                for _ in range(4):  # fresh connections: more than one worker serves the file
                    result = httpx.get(task["result"][0]["output"][0]["url"], timeout=30)
                    assert result.status_code == 200 and result.content[:4] == b"\x89PNG"
                pending.discard(task_id)
        time.sleep(0.2)
