"""Counters: atomic check-and-add across processes, never evicted; every implementation in
`cache_workers.COUNTERS` (diskcache, Redis)."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from alphacdn.cache import Counters
from tests.cache import cache_workers

SPAWN = multiprocessing.get_context("spawn")


@pytest.fixture(params=sorted(cache_workers.COUNTERS))
def impl(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name in cache_workers.NEEDS:
        request.getfixturevalue(cache_workers.NEEDS[name])  # its server (or a skip)
    return name


@pytest.fixture
def open_counters(impl: str, tmp_path: Path) -> Callable[[], Counters]:
    return lambda: cache_workers.COUNTERS[impl](str(tmp_path / "counters"))


def test_add_within_respects_the_limit_and_the_first_add(
    open_counters: Callable[[], Counters],
) -> None:
    c = open_counters()
    assert c.add_within("r", 3, limit=5) == (True, 3)
    assert c.add_within("r", 3, limit=5) == (False, 3)
    assert c.add_within("r", 2, limit=5) == (True, 5)
    # an untouched counter takes a first add beyond the limit only when asked to
    assert c.add_within("heavy", 9, limit=5) == (False, 0)
    assert c.add_within("heavy", 9, limit=5, first_always=True) == (True, 9)
    # balances start at their default and may go below zero
    assert c.add_within("credits", -2.5, default=1.0) == (True, -1.5)
    assert c.value("credits", 1.0) == -1.5 and c.value("absent", 7) == 7
    assert c.add_within("credits", 0.25, default=1.0, limit=-1.25) == (True, -1.25)
    assert c.add_within("credits", 0.25, default=1.0, limit=-1.25) == (False, -1.25)
    assert open_counters().value("credits") == -1.25  # another handle sees it


def test_expired_counters_start_again(open_counters: Callable[[], Counters]) -> None:
    c = open_counters()
    c.add_within("w", 4, expire=0.01)
    time.sleep(0.05)
    assert c.value("w") == 0
    # each write sets the expiry anew; a write without one keeps the counter for good
    c.add_within("kept", 1, expire=0.01)
    c.add_within("kept", 1)
    time.sleep(0.05)
    assert c.value("kept") == 2


def test_concurrent_processes_never_pass_the_limit(impl: str, tmp_path: Path) -> None:
    where = str(tmp_path / "counters")
    with ProcessPoolExecutor(3, mp_context=SPAWN) as pool:
        added = sum(pool.map(cache_workers.add_up_to, [impl] * 3, [where] * 3, [40] * 3, [50] * 3))
    assert added == 50 and cache_workers.COUNTERS[impl](where).value("n") == 50
