"""The reference nginx config (deploy/nginx/alphacdn.conf) in front of two alphacdn replicas.

Real processes on loopback: Debian's nginx (`scripts/services/nginx.sh` installs it when
missing) and two `alphacdn serve` sharing one data dir (the embedded stores are
multi-process safe). nginx answers `X-Edge-Cache` ($upstream_cache_status) and, rendered with
NGINX_DEBUG_HEADERS=1, `X-Edge-Upstream` (the replica(s) a request went to).
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cloudinary
import cloudinary.api
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alphacdn.delivery import accept_class
from tests.conftest import ROOT
from tests.e2e.conftest import configure_sdk_at, upload_fixture
from tests.e2e.server import Server
from tests.ports import free_port

NGINX = ROOT / "scripts" / "services" / "nginx.sh"
#: nginx.sh's exit status when nginx is missing and cannot be installed
CANNOT_INSTALL = 3
#: the content type f_auto answers for each class of Accept (the fixture is an opaque JPEG)
CLASS_TYPE = {"avif": "image/avif", "webp": "image/webp", "plain": "image/jpeg"}


@dataclass
class Edge:
    """nginx on `port` in front of `replicas`."""

    state: Path
    port: int
    replicas: list[Server]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _start_nginx(state: Path, port: int, replicas: list[Server]) -> None:
    upstreams = [f"127.0.0.1:{r.port}" for r in replicas]
    proc = subprocess.run(
        ["bash", str(NGINX), "start", str(state), str(port), *upstreams],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "NGINX_DEBUG_HEADERS": "1"},
    )
    if proc.returncode == CANNOT_INSTALL:
        pytest.skip(f"nginx is not installed and cannot be: {proc.stderr.strip()[-500:]}")
    if proc.returncode != 0:
        pytest.fail(f"nginx.sh start failed ({proc.returncode}):\n{proc.stderr[-3000:]}")


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    data = tmp_path_factory.mktemp("edge-data")
    # one matte job at a time in the shared queue: a second asset's removal is a 503
    env = {"ALPHACDN_QUEUE_MAX": "1"}
    replicas = [Server(data, env, port=free_port()), Server(data, env, port=free_port())]
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(Server.start, replicas))
    edge = Edge(tmp_path_factory.mktemp("edge-nginx"), free_port(), replicas)
    try:
        _start_nginx(edge.state, edge.port, replicas)
        # uploads go through nginx too (proxy_request_buffering off, client_max_body_size)
        configure_sdk_at(edge.url)
        upload_fixture("car-house.jpg", "car")
        upload_fixture("dog-bike.jpg", "dog")
        upload_fixture("cat-street.jpg", "cat")
        yield edge
    finally:
        subprocess.run(["bash", str(NGINX), "stop", str(edge.state)], timeout=60)
        for replica in replicas:
            replica.stop()


def _get(edge: Edge, path: str, accept: str) -> httpx.Response:
    return httpx.get(edge.url + path, headers={"Accept": accept}, timeout=60)


def test_f_auto_is_cached_once_per_format_class(edge: Edge) -> None:
    path = "/demo/image/upload/c_fill,w_160,h_120/f_auto,q_auto/car"
    first = {
        "avif": _get(edge, path, "image/avif,image/webp,image/apng,*/*;q=0.8"),
        "webp": _get(edge, path, "image/webp,*/*"),
        "plain": _get(edge, path, "image/png,image/*;q=0.8,*/*;q=0.5"),
    }
    for cls, resp in first.items():
        assert resp.status_code == 200, resp.text
        assert resp.headers["content-type"] == CLASS_TYPE[cls]
        assert resp.headers["x-edge-cache"] == "MISS"
        assert resp.headers["vary"] == "Accept"  # browsers and outer caches still see it
    assert len({r.headers["etag"] for r in first.values()}) == 3
    # other Accept strings of the same classes (and a query string) are hits on those entries
    again = {
        "avif": _get(edge, path + "?_a=BAMAK+ZW0", "image/AVIF;q=0.9"),
        "webp": _get(edge, path, "text/html,image/avif;q=0,image/webp;q=0.5"),
        "plain": _get(edge, path, ""),
    }
    for cls, resp in again.items():
        assert resp.headers["x-edge-cache"] == "HIT"
        assert resp.headers["content-type"] == CLASS_TYPE[cls]
        assert resp.headers["etag"] == first[cls].headers["etag"]
        assert resp.content == first[cls].content


def test_a_url_without_f_auto_is_one_entry_for_every_accept(edge: Edge) -> None:
    path = "/demo/image/upload/c_fill,w_100,h_100/car.webp"
    statuses = [
        _get(edge, path, accept).headers["x-edge-cache"]
        for accept in ("image/avif,image/webp,*/*", "image/webp,*/*", "*/*")
    ]
    assert statuses == ["MISS", "HIT", "HIT"]


def test_f_auto_inside_a_named_transformation_never_crosses_formats(edge: Edge) -> None:
    """No `f_auto` in the URL, `Vary: Accept` in the answer: nginx keys the entry on the raw
    Accept itself (fewer hits than the class, never the wrong format)."""
    cloudinary.api.create_transformation("edge_auto", "c_fill,w_72,h_72/f_auto")
    path = "/demo/image/upload/t_edge_auto/car"
    seen = []
    for accept in ("image/avif,*/*", "image/webp,*/*", "image/webp,*/*", "*/*", "image/avif,*/*"):
        resp = _get(edge, path, accept)
        assert resp.status_code == 200, resp.text
        assert resp.headers["vary"] == "Accept"
        seen.append((resp.headers["content-type"], resp.headers["x-edge-cache"]))
    types = [t for t, _ in seen]
    assert types == ["image/avif", "image/webp", "image/webp", "image/jpeg", "image/avif"]
    assert seen[1][1] == "MISS" and seen[2][1] == "HIT"


_MEDIA = st.sampled_from(
    ["image/avif", "image/webp", "IMAGE/AVIF", "Image/WebP", "image/avifs", "image/webp2",
     "image/*", "*/*", "text/html", "image/png", "application/xml", "image/apng", "avif"]
)  # fmt: skip
_PARAM = st.sampled_from(
    ["q=0", "q=0.0", "q=0.000", "q=1", "q=1.0", "q=0.5", "q=.5", "q=0.001", "q=abc", "q=",
     "q=-1", "q=-0", "q=+0.3", "q=1e-2", "q=0e3", "Q=0", "Q=0.8", "q= 0", "q= 0.7", "q = 0",
     "level=1", "x=q=0", "q=inf", "q=nan", "q=1.5.3", "q=00.10"]
)  # fmt: skip
_SPACE = st.sampled_from(["", " ", "  "])


@st.composite
def _accept_headers(draw: st.DrawFn) -> str:
    items = []
    for _ in range(draw(st.integers(0, 4))):
        parts = [draw(_MEDIA), *draw(st.lists(_PARAM, max_size=3))]
        items.append(";".join(draw(_SPACE) + p + draw(_SPACE) for p in parts))
    return ",".join(items).strip()


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    """One keep-alive client (a new one per request costs more than an nginx hit)."""
    with httpx.Client(timeout=60) as client:
        yield client


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(accept=_accept_headers())
def test_nginx_picks_the_format_the_engine_would(
    edge: Edge, http: httpx.Client, accept: str
) -> None:
    # three misses for this URL in the whole run at most, one per class: then all hits
    resp = http.get(
        edge.url + "/demo/image/upload/c_fill,w_64,h_64/f_auto/car", headers={"Accept": accept}
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == CLASS_TYPE[accept_class(accept)], accept


def test_errors_are_not_cached(edge: Edge) -> None:
    path = "/demo/image/upload/w_100/no-such-asset.jpg"
    for _ in range(2):
        resp = _get(edge, path, "*/*")
        assert resp.status_code == 404
        assert resp.headers["cache-control"] == "no-store"
        assert resp.headers["x-edge-cache"] == "MISS"


@pytest.mark.model
def test_423_is_never_cached(edge: Edge) -> None:
    path = "/demo/image/upload/e_background_removal/c_fit,w_200/car.png"
    seen: list[tuple[int, str]] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        resp = _get(edge, path, "*/*")
        seen.append((resp.status_code, resp.headers["x-edge-cache"]))
        if resp.status_code != 423:
            break
        assert resp.headers["cache-control"] == "no-store"
        time.sleep(0.1)
    assert seen[0] == (423, "MISS")
    # every 423 went to a replica: a cached one would have come back as a HIT until it expired
    assert {cache for status, cache in seen if status == 423} == {"MISS"}
    assert seen[-1] == (200, "MISS")
    resp = _get(edge, path, "*/*")
    assert (resp.status_code, resp.headers["x-edge-cache"]) == (200, "HIT")


@pytest.mark.model
def test_a_503_is_not_retried_and_takes_no_replica_out(edge: Edge) -> None:
    """The app's 503 is the same on every replica (here: the shared matte queue is full). nginx
    passes it on instead of retrying it: a retried 503 would count as a failure of each
    replica, and nginx would answer 502 (`no live upstreams`) to everything for a while."""
    queued = _get(edge, "/demo/image/upload/e_background_removal/dog.png", "*/*")
    full = _get(edge, "/demo/image/upload/e_background_removal/cat.png", "*/*")
    assert queued.status_code == 423, queued.text
    assert full.status_code == 503, full.text
    assert "retry-after" in full.headers
    assert ", " not in full.headers["x-edge-upstream"]  # one replica asked, not both
    # each a new nginx key, a store hit at whichever replica gets it
    statuses = [
        _get(edge, f"/demo/image/upload/c_fill,w_90,h_60/v{500 + i}/car.jpg", "*/*").status_code
        for i in range(6)
    ]
    assert statuses == [200] * 6


def test_kill_9_of_a_replica_loses_no_request(edge: Edge) -> None:
    """Every request misses nginx (its own version segment: a new cache key) and is a store hit
    at whichever replica gets it; one replica is SIGKILLed a third of the way through."""
    base = "/demo/image/upload/c_fill,w_90,h_60"
    assert _get(edge, f"{base}/car.jpg", "*/*").status_code == 200  # rendered once
    total, threads, kill_after = 240, 4, 80
    victim, survivor = (f"127.0.0.1:{r.port}" for r in edge.replicas)
    results: list[tuple[int, int, str, str]] = []  # (index, status, X-Edge-Cache, upstream)
    lock = threading.Lock()
    counter = iter(range(total))
    killed_at: list[int] = []
    deadline = time.monotonic() + 90

    def client() -> None:
        with httpx.Client(timeout=30) as http:
            while time.monotonic() < deadline:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                resp = http.get(f"{edge.url}{base}/v{1000 + i}/car.jpg")
                with lock:
                    results.append(
                        (i, resp.status_code, resp.headers.get("x-edge-cache", ""),
                         resp.headers.get("x-edge-upstream", ""))
                    )  # fmt: skip
                    if len(results) == kill_after:
                        edge.replicas[0].stop(kill=True)
                        killed_at.append(i)

    try:
        with ThreadPoolExecutor(threads) as pool:
            for f in [pool.submit(client) for _ in range(threads)]:
                f.result()
    finally:
        edge.replicas[0].start()  # same port: later tests find the pair again
    assert len(results) == total, "the loop ran out of time"
    assert [s for _, s, _, _ in results if s != 200] == []
    assert {c for _, _, c, _ in results} == {"MISS"}
    before = {u for i, _, _, u in results if i < kill_after - threads}
    assert {victim, survivor} <= before  # both replicas served before the kill
    # some request found the victim dead and went on to the survivor within the same request
    assert f"{victim}, {survivor}" in {u for _, _, _, u in results}
