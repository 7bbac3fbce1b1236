"""`ALPHACDN_WARM_UP`: the model's session is made at startup, before any request needs it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.server import Server


@pytest.fixture
def warm(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "warm", env={"ALPHACDN_WARM_UP": "1"}).start()
    yield srv
    srv.stop()


def test_warm_up_loads_the_model_without_a_request(warm: Server) -> None:
    deadline = time.monotonic() + 60
    # the person model too: cut-outs of people are routed to it (rvm is a --for-tests model)
    while not {"u2netp", "rvm"} <= set(loaded := warm.jobs()["models_loaded"]):
        assert time.monotonic() < deadline, f"models not loaded at startup: {loaded}"
        time.sleep(0.2)
    assert warm.jobs()["model_runs"] == {}  # a warm-up is not a matte


def test_without_warm_up_nothing_is_loaded_until_needed(tmp_path: Path) -> None:
    srv = Server(tmp_path / "cold").start()
    try:
        time.sleep(1.0)
        assert srv.jobs()["models_loaded"] == []
    finally:
        srv.stop()
