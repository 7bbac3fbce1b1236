"""The small leaks: `/metrics` and `/metrics.json` off the public path, URLs never built from
the `Host` header, `X-Content-Type-Options: nosniff` on every response. Through a real uvicorn
on loopback; an outside client is a loopback proxy's `X-Forwarded-For` (uvicorn trusts it from
127.0.0.1)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import cloudinary.utils
import httpx
import pytest

from alphacdn.settings import DEV_API_KEY, DEV_API_SECRET
from tests.conftest import FIXTURES
from tests.e2e.server import Server

TOKEN = "metrics-token-for-tests"
OUTSIDE = {"X-Forwarded-For": "203.0.113.7"}
EVIL = "evil.example"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("leaks"), env={"ALPHACDN_METRICS_TOKEN": TOKEN}).start()
    yield srv
    srv.stop()


def _upload(base: str, public_id: str, *, host: str, **extra: str) -> httpx.Response:
    params = cloudinary.utils.sign_request(
        {"public_id": public_id, "timestamp": int(time.time()), **extra},
        {"api_key": DEV_API_KEY, "api_secret": DEV_API_SECRET},
    )
    image = (FIXTURES / "e2e" / "dog-bike.jpg").read_bytes()
    return httpx.post(
        f"{base}/v1_1/demo/image/upload",
        data=params,
        files={"file": ("dog.jpg", image, "image/jpeg")},
        headers={"Host": host},
        timeout=30,
    )


@pytest.mark.parametrize(
    ("path", "says"), [("/metrics", "alphacdn_http_requests_total"), ("/metrics.json", "renders")]
)
def test_metrics_are_for_loopback_and_the_token_holder(
    server: Server, path: str, says: str
) -> None:
    url = server.url + path
    assert httpx.get(url).status_code == 200  # a loopback client
    outside = httpx.get(url, headers=OUTSIDE)
    assert outside.status_code == 401 and outside.headers["www-authenticate"] == "Bearer"
    wrong = httpx.get(url, headers={**OUTSIDE, "Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    held = httpx.get(url, headers={**OUTSIDE, "Authorization": f"Bearer {TOKEN}"})
    assert held.status_code == 200 and says in held.text


def test_metrics_without_a_token_are_not_there_for_outsiders(tmp_path: Path) -> None:
    srv = Server(tmp_path).start()
    try:
        for path in ("/metrics", "/metrics.json"):
            assert httpx.get(srv.url + path).status_code == 200
            outside = httpx.get(srv.url + path, headers=OUTSIDE)
            assert outside.status_code == 404  # as any unknown path: nothing says it exists
            token = httpx.get(srv.url + path, headers={**OUTSIDE, "Authorization": "Bearer x"})
            assert token.status_code == 404
        # readiness answers everyone, with the details for loopback only
        assert httpx.get(srv.url + "/readyz").json()["checks"]["store"] == "ok"
        assert "checks" not in httpx.get(srv.url + "/readyz", headers=OUTSIDE).json()
    finally:
        srv.stop()


def test_upload_urls_ignore_the_host_header(server: Server) -> None:
    resp = _upload(server.url, "hosted", host=EVIL, eager="w_20")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    for url in (body["url"], body["secure_url"], body["eager"][0]["url"]):
        assert url.startswith(server.url + "/demo/image/upload/"), url
    got = httpx.get(
        f"{server.url}/v1_1/demo/resources/image/upload/hosted",
        auth=(DEV_API_KEY, DEV_API_SECRET),
        headers={"Host": EVIL},
    )
    assert got.status_code == 200 and got.json()["secure_url"].startswith(server.url + "/")
    # the delivery URL the server wrote is one it serves
    assert httpx.get(body["secure_url"]).status_code == 200


def test_a_configured_public_url_is_used(tmp_path: Path) -> None:
    srv = Server(tmp_path, env={"ALPHACDN_PUBLIC_URL": "https://cdn.example.com/"}).start()
    try:
        body = _upload(srv.url, "public", host=EVIL).json()
        assert body["secure_url"].startswith("https://cdn.example.com/demo/image/upload/v")
        doc = httpx.get(srv.url + "/openapi.json", headers={"Host": EVIL}).json()
        assert EVIL not in str(doc)
    finally:
        srv.stop()


def test_every_response_says_nosniff(server: Server) -> None:
    _upload(server.url, "sniff", host=f"127.0.0.1:{server.port}")
    base = server.url + "/demo/image/upload/"
    hit = httpx.get(base + "w_30/sniff.jpg")
    answers = [
        hit,
        httpx.get(base + "w_30/sniff.jpg", headers={"If-None-Match": hit.headers["etag"]}),
        httpx.get(base + "w_abc/sniff.jpg"),  # 400
        httpx.get(base + "s--AAAAAAAA--/w_30/sniff.jpg"),  # 401
        httpx.get(base + "w_30/missing.jpg"),  # 404
        httpx.post(base + "sniff.jpg"),  # 405
        httpx.get(server.url + "/health"),
        httpx.get(server.url + "/metrics", headers=OUTSIDE),
        _upload(server.url, "sniff2", host=f"127.0.0.1:{server.port}"),
    ]
    statuses = [r.status_code for r in answers]
    assert statuses == [200, 304, 400, 401, 404, 405, 200, 401, 200]
    for resp in answers:
        assert resp.headers.get("x-content-type-options") == "nosniff", resp.status_code
