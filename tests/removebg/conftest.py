"""Fixtures: one threaded uvicorn serving the removebg API over the fake cut-out per module."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.removebg.helpers import FakeDeps, Listener, ThreadServer, build_app


@pytest.fixture(scope="module")
def deps(tmp_path_factory: pytest.TempPathFactory) -> FakeDeps:
    return FakeDeps(tmp_path_factory.mktemp("removebg-state"))


@pytest.fixture(scope="module")
def server(deps: FakeDeps) -> Iterator[ThreadServer]:
    srv = ThreadServer(build_app(deps)).start()
    yield srv
    srv.stop()


@pytest.fixture()
def client(server: ThreadServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    srv = Listener()
    yield srv
    srv.close()
