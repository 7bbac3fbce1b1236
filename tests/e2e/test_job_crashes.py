"""Matte jobs survive crashes: kill -9 a real server mid-matte three times. Each restart takes
the dead process's lease over at once (not after the lease), the third abandonment fails the
job as `abandoned` (not as the job's own error), and a request after the back-off runs it
again: 503 + Retry-After during the back-off, then 423, then 200 — never 422 for ever."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from alphacdn.cache import FailureKind, JobRecord, JobStatus, JobStore, LocalOriginals
from alphacdn.mattes import content_matte_key
from alphacdn.transform import BackgroundRemoval
from tests.conftest import FIXTURES
from tests.e2e.conftest import configure_sdk, upload_fixture
from tests.e2e.server import MATTE_MODEL, Server

pytestmark = pytest.mark.model

#: far longer than the test waits for a restart to take a job over: only owner liveness can
LEASE = 60


def _wait_for(
    store: JobStore, key: str, timeout: float, ok: Callable[[JobRecord], bool]
) -> JobRecord:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rec = store.get(key)
        if rec is not None and ok(rec):
            return rec
        time.sleep(0.005)
    raise AssertionError(f"job {key[:12]} not as expected in {timeout}s: {store.get(key)}")


def _running(attempt: int) -> Callable[[JobRecord], bool]:
    return lambda r: r.status is JobStatus.RUNNING and r.attempts == attempt


def test_a_matte_job_killed_three_times_runs_again_after_the_back_off(tmp_path: Path) -> None:
    env = {"ALPHACDN_JOB_LEASE_SECONDS": str(LEASE), "ALPHACDN_JOB_RETRY_SECONDS": "2"}
    srv = Server(tmp_path / "d", env=env).start()
    store = JobStore(tmp_path / "d" / "state" / "jobs")
    try:
        configure_sdk(srv)
        etag = upload_fixture("dog-bike.jpg", "crashy")["etag"]
        key = content_matte_key(etag, MATTE_MODEL, BackgroundRemoval())
        url = f"{srv.url}/demo/image/upload/e_background_removal/crashy.png"
        assert httpx.get(url).status_code == 423
        for attempt in (1, 2, 3):
            # mid-matte: claimed by this server's runner (the model loads first, then infers)
            running = _wait_for(store, key, 10, _running(attempt))
            assert running.owner is not None and running.owner.count(":") >= 2
            srv.stop(kill=True)
            started = time.monotonic()
            srv.start()
            if attempt < 3:  # taken over at once: well inside the lease
                _wait_for(store, key, 10, _running(attempt + 1))
                assert time.monotonic() - started < LEASE / 3
        failed = _wait_for(store, key, 10, lambda r: r.status is JobStatus.FAILED)
        assert failed.failure is FailureKind.ABANDONED and "3 attempts" in str(failed.error)

        during = httpx.get(url)  # inside the back-off
        assert during.status_code == 503, during.text
        assert 1 <= int(during.headers["retry-after"]) <= 2
        time.sleep(float(during.headers["retry-after"]))
        seen = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            resp = httpx.get(url, timeout=30)
            seen.append(resp.status_code)
            if resp.status_code != 423:
                break
            time.sleep(0.2)
        assert seen[0] == 423 and seen[-1] == 200, seen
        assert resp.headers["content-type"] == "image/png"
        done = store.get(key)
        assert done is not None and done.status is JobStatus.DONE and done.failure is None
    finally:
        store.close()
        srv.stop()


def test_a_job_that_fails_on_its_own_input_stays_failed(tmp_path: Path) -> None:
    """The other kind of failure: the job's own error is kept, with its reason, and answered
    as 422 on every request (no retry, however long one waits)."""
    srv = Server(tmp_path / "d", env={"ALPHACDN_JOB_RETRY_SECONDS": "1"}).start()
    store = JobStore(tmp_path / "d" / "state" / "jobs")
    try:
        # a corrupt original gets in only behind the upload API's back (disk damage, a bug)
        data = (FIXTURES / "e2e" / "dog-bike.jpg").read_bytes()
        meta = {"format": "jpg", "width": 480, "height": 360}
        record = LocalOriginals(srv.data_dir / "originals").put("demo", "broken", data[:2000], meta)
        url = f"{srv.url}/demo/image/upload/e_background_removal/broken.png"
        seen = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            resp = httpx.get(url)
            seen.append(resp.status_code)
            if resp.status_code != 423:
                break
            time.sleep(0.1)
        assert resp.status_code == 422, seen
        time.sleep(1.5)  # longer than the back-off of an abandoned job
        again = httpx.get(url)
        assert again.status_code == 422
        assert again.headers["x-cld-error"] == resp.headers["x-cld-error"]
        failed = store.get(content_matte_key(record.etag, MATTE_MODEL, BackgroundRemoval()))
        assert failed is not None and failed.failure is FailureKind.ERROR  # the reason kept
        assert failed.error and failed.error in again.headers["x-cld-error"]
    finally:
        store.close()
        srv.stop()
