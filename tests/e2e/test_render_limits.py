"""Every render has a bounded cost, through a real server: plans over the budget are refused
from their sizes, a render over `ALPHACDN_RENDER_TIMEOUT` is stopped (503) and the server goes
on, a client cannot hold every render slot (429), and a render nobody waits for any more stops.

Clients are told apart by their source address: each binds its own loopback address
(127.0.0.2, 127.0.0.3, …), as different machines would."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import pyvips

from tests.conftest import FIXTURES
from tests.e2e.conftest import configure_sdk
from tests.e2e.server import Server

#: a render of this costs ~50 CPU-s here (RGBA blurs in float): the slow work of these tests,
#: always stopped long before it would finish
SLOW = "w_2000,e_blur:2000"
#: what lets SLOW through the cost estimate in the servers that need it to run
NO_BUDGET = "100000000"


def client(address: str, timeout: float = 30.0) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=timeout)


def _png(width: int, height: int) -> bytes:
    """A real photo with an alpha band (the tiger cut-out), at `width` x `height`."""
    image = pyvips.Image.new_from_file(str(FIXTURES / "e2e" / "tiger-cutout.png"))
    scaled = image.thumbnail_image(width, height=height, size="force")
    return bytes(scaled.pngsave_buffer())


@pytest.fixture(scope="module")
def assets() -> dict[str, bytes]:
    return {"photo": _png(480, 360), "base": _png(64, 64), "x": _png(64, 64)}


def _start(tmp: Path, assets: dict[str, bytes], **env: str) -> Server:
    import cloudinary.uploader

    srv = Server(tmp, env=env).start()
    configure_sdk(srv)
    for public_id, data in assets.items():
        cloudinary.uploader.upload(data, public_id=public_id)
    return srv


@pytest.fixture(scope="module")
def default_server(
    tmp_path_factory: pytest.TempPathFactory, assets: dict[str, bytes]
) -> Iterator[Server]:
    srv = _start(tmp_path_factory.mktemp("budget"), assets)
    yield srv
    srv.stop()


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("w_3000,e_blur:2000/photo.png", "e_blur:2000"),
        ("w_3000,e_blur:2000/photo.jpg", "e_blur:2000"),
        ("l_x,fl_relative,w_99.0/base.png", "w_99.0"),
    ],
)
def test_the_issues_hostile_urls_are_refused_fast_naming_the_component(
    default_server: Server, path: str, named: str
) -> None:
    t0 = time.monotonic()
    resp = httpx.get(f"{default_server.url}/demo/image/upload/{path}", timeout=30)
    elapsed = time.monotonic() - t0
    assert resp.status_code == 400, resp.text
    assert named in resp.headers["x-cld-error"]
    assert "budget" in resp.text or "canvas" in resp.text
    assert elapsed < 1.0, elapsed


def test_ordinary_urls_still_render(default_server: Server) -> None:
    for path in ("w_400,e_blur:300/photo.jpg", "w_1200/photo.png", "l_x,w_0.5,fl_relative/base"):
        resp = httpx.get(f"{default_server.url}/demo/image/upload/{path}", timeout=30)
        assert resp.status_code == 200, (path, resp.text)


def test_a_render_over_the_timeout_is_stopped_and_the_server_goes_on(
    tmp_path: Path, assets: dict[str, bytes]
) -> None:
    srv = _start(
        tmp_path / "d", assets, ALPHACDN_RENDER_TIMEOUT="0.5", ALPHACDN_RENDER_BUDGET=NO_BUDGET
    )
    try:
        for n in range(3):  # more than the two render threads: each one was given back
            t0 = time.monotonic()
            resp = httpx.get(f"{srv.url}/demo/image/upload/{SLOW},o_{90 + n}/photo.png", timeout=60)
            elapsed = time.monotonic() - t0
            assert resp.status_code == 503, resp.text
            assert int(resp.headers["retry-after"]) >= 1
            assert "0.5 s" in resp.headers["x-cld-error"]
            assert elapsed < 10, elapsed  # stopped, not run for its ~50 CPU-s
        ok = httpx.get(f"{srv.url}/demo/image/upload/w_100/photo.png", timeout=30)
        assert ok.status_code == 200
    finally:
        srv.stop()


def _hang_up_after(srv: Server, address: str, path: str, seconds: float) -> threading.Thread:
    """A client that asks for `path` and disconnects after `seconds` (a read timeout)."""

    def run() -> None:
        with client(address, timeout=seconds) as c, pytest.raises(httpx.ReadTimeout):
            c.get(f"{srv.url}/demo/image/upload/{path}")

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_one_client_cannot_hold_every_render_slot_and_gone_clients_free_theirs(
    tmp_path: Path, assets: dict[str, bytes]
) -> None:
    srv = _start(
        tmp_path / "d",
        assets,
        ALPHACDN_RENDER_BUDGET=NO_BUDGET,
        ALPHACDN_RENDER_TIMEOUT="60",
        ALPHACDN_RENDERS_PER_CLIENT="1",
        ALPHACDN_RENDER_CLIENT_QUEUE="0",
    )
    try:
        hostile = _hang_up_after(srv, "127.0.0.2", f"{SLOW}/photo.png", 4.0)
        time.sleep(1.0)  # its render holds the client's one slot
        with client("127.0.0.2") as same:
            t0 = time.monotonic()
            refused = same.get(f"{srv.url}/demo/image/upload/{SLOW},o_99/photo.png")
            assert refused.status_code == 429, refused.text
            assert int(refused.headers["retry-after"]) >= 1
            assert time.monotonic() - t0 < 1.0
        with client("127.0.0.3") as other:  # another client is served meanwhile
            t0 = time.monotonic()
            served = other.get(f"{srv.url}/demo/image/upload/w_200,e_sepia/photo.png")
            assert served.status_code == 200, served.text
            assert time.monotonic() - t0 < 5.0
        hostile.join(timeout=30)
        # the hostile client hung up: its render (~50 CPU-s, 60 s allowed) was stopped and its
        # slot given back, so the same address is served again within a few seconds
        with client("127.0.0.2") as same:
            deadline = time.monotonic() + 8
            while True:
                resp = same.get(f"{srv.url}/demo/image/upload/w_150/photo.png")
                if resp.status_code == 200 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert resp.status_code == 200, resp.text
    finally:
        srv.stop()


def test_a_render_others_still_wait_for_goes_on_when_its_first_client_leaves(
    tmp_path: Path, assets: dict[str, bytes]
) -> None:
    srv = _start(tmp_path / "d", assets, ALPHACDN_RENDER_BUDGET=NO_BUDGET)
    try:
        # 2.6 s on a fast day of the 2-core CI machine (w_900,e_blur:1200 took 0.55 s there and
        # answered before the first client left): long enough for it to leave while it runs
        path = "w_1300,e_blur:1500/photo.png"
        first = _hang_up_after(srv, "127.0.0.2", path, 0.6)
        time.sleep(0.25)  # the first client leads the render
        with client("127.0.0.3", timeout=60) as second:
            resp = second.get(f"{srv.url}/demo/image/upload/{path}")
        first.join(timeout=30)
        assert resp.status_code == 200, resp.text
        # the first client's render was finished for the second, not stopped and made again
        assert resp.headers["x-alphacdn-cache"] == "HIT"
    finally:
        srv.stop()
