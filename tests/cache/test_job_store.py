"""`JobStore` (the diskcache `JobQueue`) specifics; the behaviour is in test_queue_contract."""

from __future__ import annotations

from pathlib import Path

import diskcache

from alphacdn.cache import JobStore


def test_job_state_is_never_evicted(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs")
    store.submit("a", "task", {"x": 1})
    store.close()
    # diskcache's default policy would drop records once the directory passes 1 GB; the
    # policy is persisted with the cache, so a plain second opener sees what the store chose
    with diskcache.Cache(str(tmp_path / "jobs")) as raw:
        assert raw.eviction_policy == "none"
