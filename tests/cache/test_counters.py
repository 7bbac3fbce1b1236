"""Counters: atomic check-and-add across processes, never evicted."""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from alphacdn.cache import DiskCounters

SPAWN = multiprocessing.get_context("spawn")


def test_add_within_respects_the_limit_and_the_first_add(tmp_path: Path) -> None:
    c = DiskCounters(tmp_path)
    assert c.add_within("r", 3, limit=5) == (True, 3)
    assert c.add_within("r", 3, limit=5) == (False, 3)
    assert c.add_within("r", 2, limit=5) == (True, 5)
    # an untouched counter takes a first add beyond the limit only when asked to
    assert c.add_within("heavy", 9, limit=5) == (False, 0)
    assert c.add_within("heavy", 9, limit=5, first_always=True) == (True, 9)
    # balances start at their default and may go below zero
    assert c.add_within("credits", -2.5, default=1.0) == (True, -1.5)
    assert c.value("credits", 1.0) == -1.5 and c.value("absent", 7) == 7


def test_expired_counters_start_again(tmp_path: Path) -> None:
    c = DiskCounters(tmp_path)
    c.add_within("w", 4, expire=0.01)
    time.sleep(0.05)
    assert c.value("w") == 0


def _hammer(directory: str) -> int:
    c = DiskCounters(Path(directory))
    return sum(c.add_within("n", 1, limit=50)[0] for _ in range(40))


def test_concurrent_processes_never_pass_the_limit(tmp_path: Path) -> None:
    with ProcessPoolExecutor(3, mp_context=SPAWN) as pool:
        added = sum(pool.map(_hammer, [str(tmp_path)] * 3))
    assert added == 50 and DiskCounters(tmp_path).value("n") == 50
