"""What operators see (issue 13, item 6): Prometheus `/metrics` from every worker process,
`/livez` and `/readyz`, `alphacdn health`, request ids and JSON logs. Through real `alphacdn
serve` processes on loopback; metric texts are read with prometheus-client's own parser."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cloudinary.utils
import httpx
import pytest

from alphacdn.settings import DEV_API_KEY, DEV_API_SECRET
from tests.conftest import ROOT
from tests.e2e.conftest import configure_sdk, upload_fixture
from tests.e2e.server import Server, metric_sum
from tests.ports import free_port

DELIVERY = "/{cloud}/image/{rest:path}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(
        tmp_path_factory.mktemp("observe"), env={"ALPHACDN_LOG_FORMAT": "json"}, log_level="info"
    ).start()
    configure_sdk(srv)
    upload_fixture("dog-bike.jpg", "observed-dog")
    yield srv
    srv.stop()


def _health(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ALPHACDN_")}
    return subprocess.run(
        [sys.executable, "-m", "alphacdn.cli", "health", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**clean, **(env or {})},
        timeout=60,
    )


def test_metrics_count_requests_by_route_template_cache_and_renders(server: Server) -> None:
    url = f"{server.url}/demo/image/upload/c_fill,w_64,h_48/observed-dog.webp"
    text = httpx.get(server.url + "/metrics").text
    before = {
        "hit": metric_sum(text, "alphacdn_delivery_cache_total", result="hit"),
        "miss": metric_sum(text, "alphacdn_delivery_cache_total", result="miss"),
        "renders": metric_sum(text, "alphacdn_renders_total"),
        "ok": metric_sum(text, "alphacdn_http_requests_total", route=DELIVERY, status="200"),
        "timed": metric_sum(
            text, "alphacdn_http_request_duration_seconds_count", route=DELIVERY, status="200"
        ),
    }
    first, second = httpx.get(url), httpx.get(url)
    assert [first.headers["x-alphacdn-cache"], second.headers["x-alphacdn-cache"]] == [
        "MISS",
        "HIT",
    ]
    assert httpx.get(server.url + "/no/such/thing").status_code == 404
    assert httpx.request("PROPFIND", server.url + "/health").status_code == 405
    text = httpx.get(server.url + "/metrics").text
    assert metric_sum(text, "alphacdn_delivery_cache_total", result="hit") == before["hit"] + 1
    assert metric_sum(text, "alphacdn_delivery_cache_total", result="miss") == before["miss"] + 1
    assert metric_sum(text, "alphacdn_renders_total") == before["renders"] + 1
    assert metric_sum(text, "alphacdn_render_duration_seconds_count") >= 1
    ok = metric_sum(text, "alphacdn_http_requests_total", route=DELIVERY, status="200")
    assert ok == before["ok"] + 2
    timed = metric_sum(
        text, "alphacdn_http_request_duration_seconds_count", route=DELIVERY, status="200"
    )
    assert timed == before["timed"] + 2
    assert metric_sum(text, "alphacdn_http_requests_total", route="unmatched", status="404") >= 1
    assert metric_sum(text, "alphacdn_http_requests_total", method="other", status="405") >= 1
    # labels are templates: no path, public_id or method a client made up
    assert "observed-dog" not in text and "/no/such" not in text and "PROPFIND" not in text
    # the series an operator alerts on exist from the start, and the values read at scrape time
    assert "alphacdn_model_runs_total" in text and 'model="u2netp"' in text
    assert metric_sum(text, "alphacdn_jobs_queued") == 0
    assert metric_sum(text, "alphacdn_jobs_queue_limit") == 64
    assert metric_sum(text, "alphacdn_derived_cache_bytes") > 0
    assert metric_sum(text, "alphacdn_processes") == 1


def test_request_ids_are_echoed_and_in_the_json_logs(server: Server) -> None:
    given = httpx.get(server.url + "/health", headers={"X-Request-Id": "order-42.retry:1"})
    assert given.headers["x-request-id"] == "order-42.retry:1"
    made = [httpx.get(server.url + "/livez").headers["x-request-id"] for _ in range(2)]
    assert made[0] != made[1] and all(made)
    insane = httpx.get(server.url + "/livez", headers={"X-Request-Id": "a b<script>" + "x" * 200})
    assert insane.headers["x-request-id"] not in ("", "a b<script>" + "x" * 200)
    assert " " not in insane.headers["x-request-id"]
    # a request whose handling logs more than its access line (a JPEG header and nothing else:
    # libvips warns while the upload is checked)
    params = cloudinary.utils.sign_request(
        {"public_id": "broken", "timestamp": int(time.time())},
        {"api_key": DEV_API_KEY, "api_secret": DEV_API_SECRET},
    )
    bad = httpx.post(
        server.url + "/v1_1/demo/image/upload",
        data=params,
        files={"file": ("broken.jpg", b"\xff\xd8\xff\xe0" + bytes(64), "image/jpeg")},
        headers={"X-Request-Id": "broken-upload-7"},
    )
    assert bad.status_code == 400 and bad.headers["x-request-id"] == "broken-upload-7"
    deadline = time.monotonic() + 10
    while True:
        lines = [json.loads(line) for line in server.log().splitlines() if line.strip()]
        by_id = {rec.get("request_id"): rec for rec in lines if rec["logger"] == "uvicorn.access"}
        if {"order-42.retry:1", made[1], "broken-upload-7"} <= by_id.keys():
            break
        assert time.monotonic() < deadline, server.log()[-3000:]
        time.sleep(0.1)
    access = by_id["order-42.retry:1"]
    assert access["path"] == "/health" and access["status"] == 200 and access["method"] == "GET"
    assert access["level"] == "info" and access["ts"].endswith("Z")
    assert by_id[made[1]]["path"] == "/livez"
    warned = [r for r in lines if r.get("request_id") == "broken-upload-7" and r is not by_id[
        "broken-upload-7"]]  # fmt: skip
    assert warned and all(r["level"] == "warning" for r in warned), warned
    # every line is one JSON object; lines outside a request carry no id
    assert any(rec["logger"] == "uvicorn.error" and "request_id" not in rec for rec in lines)


def test_readyz_livez_and_the_health_command(server: Server) -> None:
    assert httpx.get(server.url + "/livez").json() == {"status": "alive"}
    ready = httpx.get(server.url + "/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "not_ready": [],
        "checks": {"store": "ok", "model": "ok", "queue": "ok"},
    }
    port = {"ALPHACDN_PORT": str(server.port)}
    done = _health(env=port)
    assert done.returncode == 0 and '"ready"' in done.stdout
    assert _health("--url", server.url + "/livez").returncode == 0
    nobody = _health("--timeout", "2", env={"ALPHACDN_PORT": str(free_port())})
    assert nobody.returncode == 1 and "refused" in nobody.stderr.lower()


def test_readyz_says_503_and_why_without_the_model(tmp_path: Path) -> None:
    srv = Server(tmp_path, env={"ALPHACDN_MODELS_DIR": str(tmp_path / "no-models")}).start()
    try:
        assert httpx.get(srv.url + "/livez").status_code == 200  # alive, not ready
        answer = httpx.get(srv.url + "/readyz")
        assert answer.status_code == 503
        body = answer.json()
        assert body["status"] == "not ready" and body["not_ready"] == ["model"]
        assert "fetch-models" in body["checks"]["model"] and body["checks"]["store"] == "ok"
        health = _health(env={"ALPHACDN_PORT": str(srv.port)})
        assert health.returncode == 1 and "model" in health.stderr
    finally:
        srv.stop()


def test_two_worker_processes_report_as_one(tmp_path: Path) -> None:
    """`--workers 2`: one scrape counts both processes' requests; a worker killed -9 keeps its
    counts, and leaves the live-process gauge when uvicorn has replaced it."""
    srv = Server(tmp_path, workers=2).start()
    try:
        pids: set[int] = set()
        deadline = time.monotonic() + 30
        while len(pids) < 2:  # fresh connections until both processes have answered
            assert time.monotonic() < deadline
            pids.add(httpx.get(srv.url + "/metrics.json").json()["pid"])
        assert srv.metric("alphacdn_processes") == 2
        before = srv.metric("alphacdn_http_requests_total", route="/livez")
        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(lambda _: httpx.get(srv.url + "/livez").status_code, range(40)))
        assert codes == [200] * 40
        deadline = time.monotonic() + 10  # the other process writes its tally every second
        while srv.metric("alphacdn_http_requests_total", route="/livez") != before + 40:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        counted = before + 40
        victim = min(pids)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while True:  # uvicorn starts a new worker; the dead one's live gauge is swept
            try:
                text = httpx.get(srv.url + "/metrics", timeout=5).text
                if metric_sum(text, "alphacdn_processes") == 2 and not any(
                    f"_{victim}.db" in p.name and "live" in p.name
                    for p in (tmp_path / "metrics").rglob("*.db")
                ):
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, srv.log()[-3000:]
            time.sleep(0.3)
        # the dead worker's counts still count (the scrapes since are on /metrics)
        assert metric_sum(text, "alphacdn_http_requests_total", route="/livez") == counted
    finally:
        srv.stop()
    # the run's metrics directory goes with the server
    assert list((tmp_path / "metrics").iterdir()) == []
