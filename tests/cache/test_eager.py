"""Eager allow-list contract: every `EagerStore` keeps chains per asset tag, without duplicates."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from alphacdn.cache import EagerChains, EagerStore, MemoryEager

SPAWN = multiprocessing.get_context("spawn")


@pytest.fixture(params=["diskcache", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> EagerStore:
    if request.param == "memory":
        return MemoryEager()
    return EagerChains(tmp_path / "eager")


def test_chains_are_kept_per_tag_as_a_set(store: EagerStore) -> None:
    assert store.chains("demo/a") == frozenset()
    store.add("demo/a", "c_fill,h_300,w_400")
    store.add("demo/a", "e_grayscale")
    store.add("demo/a", "c_fill,h_300,w_400")
    store.add("demo/b", "e_sepia")
    assert store.chains("demo/a") == {"c_fill,h_300,w_400", "e_grayscale"}
    assert store.chains("demo/b") == {"e_sepia"}
    assert store.chains("other/a") == frozenset()


def _add_many(directory: str, worker: int) -> None:
    store = EagerChains(Path(directory))
    for i in range(20):
        store.add("demo/a", f"w_{worker * 100 + i}")


def test_diskcache_store_is_shared_by_processes_without_lost_updates(tmp_path: Path) -> None:
    procs = [SPAWN.Process(target=_add_many, args=(str(tmp_path / "eager"), w)) for w in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    chains = EagerChains(tmp_path / "eager").chains("demo/a")
    assert chains == {f"w_{w * 100 + i}" for w in (1, 2) for i in range(20)}
