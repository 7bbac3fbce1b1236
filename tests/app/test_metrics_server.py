"""`metrics.serve_metrics`: the metrics port of a process without the HTTP app (`alphacdn
worker --metrics-port`), with its readiness on a real redis-server that stops and comes back;
`health.Readiness` bounded in time whatever a probe does."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from alphacdn import health, metrics
from alphacdn.cache.redis_client import connect
from tests.conftest import ROOT
from tests.e2e.server import metric_sum
from tests.ports import free_port
from tests.services import RedisProcess


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    server = RedisProcess(tmp_path / "redis", free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _health(url: str) -> int:
    done = subprocess.run(
        [sys.executable, "-m", "alphacdn.cli", "health", "--url", url, "--timeout", "10"],
        capture_output=True,
        cwd=ROOT,
        timeout=60,
    )
    return done.returncode


def test_the_metrics_port_serves_metrics_and_follows_redis(own_redis: RedisProcess) -> None:
    readiness = health.Readiness([health.redis_check(connect(own_redis.url))])
    server = metrics.serve_metrics(0, gauges=metrics.AppGauges(queue_max=7), ready=readiness.check)
    base = f"http://127.0.0.1:{server.port}"
    try:
        metrics.observe_job("matte", "completed", 1.5)
        text = httpx.get(base + "/metrics").text
        assert metric_sum(text, "alphacdn_jobs_queue_limit") == 7
        assert metric_sum(text, "alphacdn_jobs_total", kind="matte", outcome="completed") >= 1
        assert metric_sum(text, "alphacdn_job_duration_seconds_count", kind="matte") >= 1
        assert httpx.get(base + "/livez").json() == {"status": "alive"}
        assert httpx.get(base + "/nothing").status_code == 404
        ready = httpx.get(base + "/readyz")
        assert ready.status_code == 200 and ready.json()["checks"] == {"redis": "ok"}
        assert _health(base + "/readyz") == 0

        own_redis.stop()
        t0 = time.monotonic()
        down = httpx.get(base + "/readyz", timeout=10)
        assert time.monotonic() - t0 < readiness.timeout + 1
        assert down.status_code == 503 and down.json()["not_ready"] == ["redis"]
        assert "Connection" in down.json()["checks"]["redis"]
        assert _health(base + "/readyz") == 1

        own_redis.start()  # the same client works again: no restart
        assert httpx.get(base + "/readyz").status_code == 200
    finally:
        server.close()


def test_readiness_is_bounded_and_names_each_failure() -> None:
    release = threading.Event()

    def stuck() -> str | None:
        release.wait(30)
        return None

    def broken() -> str | None:
        raise OSError("disk on fire")

    readiness = health.Readiness(
        [
            health.Check("stuck", stuck),
            health.Check("broken", broken),
            health.Check("fine", lambda: None),
            health.Check("full", lambda: "job queue full"),
        ],
        timeout=0.5,
    )
    t0 = time.monotonic()
    ok, body = readiness.check()
    release.set()
    assert time.monotonic() - t0 < 1.5
    assert not ok and body["not_ready"] == ["stuck", "broken", "full"]
    assert body["checks"] == {
        "stuck": "no answer within 0.5 s",
        "broken": "OSError: disk on fire",
        "fine": "ok",
        "full": "job queue full",
    }
