"""Named-transformation store contract: every `NamedStore` (a JSON file, Redis) keeps the
admin-created table, says when it changed (`version`), and loses no update across processes;
`NamedTransformations` on top keeps serving its last table while Redis is down."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest

from alphacdn.cache import BackendUnavailable
from alphacdn.cache.named import NamedStore
from alphacdn.cache.redis_client import connect
from alphacdn.cache.redis_named import RedisNamed
from alphacdn.named import NamedTransformations
from tests.cache import cache_workers
from tests.services import RedisProcess

SPAWN = multiprocessing.get_context("spawn")


@pytest.fixture(params=sorted(cache_workers.NAMED))
def impl(request: pytest.FixtureRequest) -> str:
    if request.param in cache_workers.NEEDS:
        request.getfixturevalue(cache_workers.NEEDS[request.param])
    return str(request.param)


@pytest.fixture
def store(impl: str, tmp_path: Path) -> NamedStore:
    return cache_workers.NAMED[impl](str(tmp_path))


def test_set_delete_and_load(store: NamedStore) -> None:
    assert store.load() == {}
    empty = store.version()
    store.set("thumb", "c_fill,w_100,h_100")
    store.set("gray", "e_grayscale")
    store.set("thumb", "c_fill,w_120,h_120")
    assert store.load() == {"thumb": "c_fill,w_120,h_120", "gray": "e_grayscale"}
    changed = store.version()
    assert changed != empty
    assert store.version() == changed  # no change, same version
    assert store.delete("gray") is True
    assert store.delete("gray") is False
    assert store.version() != changed
    assert store.load() == {"thumb": "c_fill,w_120,h_120"}


def test_two_handles_see_each_others_changes(impl: str, tmp_path: Path) -> None:
    a = cache_workers.NAMED[impl](str(tmp_path))
    b = cache_workers.NAMED[impl](str(tmp_path))
    table = NamedTransformations(b, {"base": "w_10"})
    first = table.current()
    assert dict(first) == {"base": "w_10"}
    assert table.current() is first  # unchanged: the very same mapping
    a.set("thumb", "w_50")
    assert dict(table.current()) == {"base": "w_10", "thumb": "w_50"}
    a.set("base", "w_20")  # an admin entry overrides the configured one
    assert table.current()["base"] == "w_20"


def test_no_lost_update_across_processes(impl: str, tmp_path: Path) -> None:
    where = str(tmp_path)
    procs = [SPAWN.Process(target=cache_workers.set_names, args=(impl, where, w)) for w in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    table = cache_workers.NAMED[impl](where).load()
    assert table == {f"w{w}_{i}": f"w_{w * 100 + i}" for w in (1, 2) for i in range(20)}


def test_last_table_is_served_while_redis_is_down(own_redis: RedisProcess) -> None:
    store = RedisNamed(connect(own_redis.url), prefix="t:{named}:")
    store.set("thumb", "w_50")
    table = NamedTransformations(store, {})
    assert dict(table.current()) == {"thumb": "w_50"}
    own_redis.stop()
    assert dict(table.current()) == {"thumb": "w_50"}  # delivery goes on
    with pytest.raises(BackendUnavailable):
        table.set("other", "w_10")  # a change cannot be made (the admin API answers 503)
    own_redis.start()  # a fresh, empty server; the table is asked again after a pause
    table.set("other", "w_10")  # a change of this process's own shows at once
    assert dict(table.current()) == {"other": "w_10"}


def test_a_network_table_is_asked_at_most_every_recheck_seconds(impl: str, tmp_path: Path) -> None:
    a = cache_workers.NAMED[impl](str(tmp_path))
    table = NamedTransformations(cache_workers.NAMED[impl](str(tmp_path)), {}, recheck_seconds=0.3)
    assert dict(table.current()) == {}
    a.set("thumb", "w_50")  # another replica's change
    assert dict(table.current()) == {}  # not asked again yet
    time.sleep(0.35)
    assert dict(table.current()) == {"thumb": "w_50"}
