"""Eager allow-list contract: every `EagerStore` keeps chains per asset tag, without duplicates;
the shared ones (`cache_workers.EAGER`: diskcache, Redis) lose no update across processes."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from alphacdn.cache import EagerStore, MemoryEager
from tests.cache import cache_workers

SPAWN = multiprocessing.get_context("spawn")


def _server_of(request: pytest.FixtureRequest, name: str) -> str:
    if name in cache_workers.NEEDS:
        request.getfixturevalue(cache_workers.NEEDS[name])  # its server (or a skip)
    return name


@pytest.fixture(params=sorted(cache_workers.EAGER))
def shared(request: pytest.FixtureRequest) -> str:
    return _server_of(request, request.param)


@pytest.fixture(params=["memory", *sorted(cache_workers.EAGER)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> EagerStore:
    if request.param == "memory":
        return MemoryEager()
    impl = _server_of(request, request.param)
    return cache_workers.EAGER[impl](str(tmp_path / "eager"))


def test_chains_are_kept_per_tag_as_a_set(store: EagerStore) -> None:
    assert store.chains("demo/a") == frozenset()
    store.add("demo/a", "c_fill,h_300,w_400")
    store.add("demo/a", "e_grayscale")
    store.add("demo/a", "c_fill,h_300,w_400")
    store.add("demo/b", "e_sepia")
    assert store.chains("demo/a") == {"c_fill,h_300,w_400", "e_grayscale"}
    assert store.chains("demo/b") == {"e_sepia"}
    assert store.chains("other/a") == frozenset()


def test_shared_store_is_shared_by_processes_without_lost_updates(
    shared: str, tmp_path: Path
) -> None:
    where = str(tmp_path / "eager")
    add = cache_workers.add_chains
    procs = [SPAWN.Process(target=add, args=(shared, where, w)) for w in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    chains = cache_workers.EAGER[shared](where).chains("demo/a")
    assert chains == {f"w_{w * 100 + i}" for w in (1, 2) for i in range(20)}
