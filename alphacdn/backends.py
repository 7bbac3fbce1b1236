"""Which engines hold the server's state, chosen from the settings in one place.

    store URL (ALPHACDN_STORE_URL)     file://… (default: the data dir)   s3://bucket[/prefix]
      originals                        LocalOriginals                     S3Originals
      derived files + mattes           DerivedCache (size-bounded)        S3Derived (lifecycle)
      task files (/v2/tasks)           BlobFolder under state/            S3Blobs

    ALPHACDN_REDIS_URL                 unset: diskcache under state/      redis://…
      job queue (mattes, eager, upload removal, tasks)   JobStore         RedisJobQueue
      single-flight claims (renders, mattes)             Claims           RedisClaims
      remove.bg rate windows, free calls, credits        DiskCounters     RedisCounters
      eager allow-list                                   EagerChains      RedisEager
      named transformations (admin API)                  FileNamed        RedisNamed

Every store of either column passes the same contract tests (tests/cache/). A fleet (several
hosts) needs both an s3:// store and Redis; one host may use either alone (its processes share
the data dir). The embedded default (no variable set) is exactly the one-host server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from alphacdn.cache import (
    BackendUnavailable,
    BlobFolder,
    Blobs,
    Claims,
    ClaimStore,
    Counters,
    DerivedCache,
    DerivedStore,
    DiskCounters,
    EagerChains,
    EagerStore,
    JobQueue,
    JobStore,
    LocalOriginals,
    OriginalsStore,
)
from alphacdn.cache.named import FileNamed, NamedStore
from alphacdn.settings import Settings

__all__ = ["Backends", "open_backends"]

log = logging.getLogger("alphacdn")


@dataclass
class Backends:
    """The stores one process works with (see the module docstring for which is which)."""

    originals: OriginalsStore
    derived: DerivedStore
    task_blobs: Blobs
    jobs: JobQueue
    render_claims: ClaimStore
    matte_claims: ClaimStore
    counters: Counters
    eager: EagerStore
    named: NamedStore
    #: admin-made upload presets (`alphacdn.presets`), name → the preset's JSON text
    presets: NamedStore
    #: "file" or "s3", and "diskcache" or "redis" (for the startup log)
    store_kind: str
    state_kind: str
    #: what `prepare` runs before the server answers: create the bucket if missing, or sweep
    #: files a crash left half-written in the local derived cache
    at_start: list[Callable[[], object]] = field(default_factory=list, repr=False)
    #: (name, a cheap call that raises while that backend is down), for `/readyz`
    probes: list[tuple[str, Callable[[], object]]] = field(default_factory=list, repr=False)

    def prepare(self) -> None:
        """Blocking, at startup. A backend that is down is logged, not fatal: requests that
        need it answer 503 until it is back."""
        for step in self.at_start:
            try:
                step()
            except BackendUnavailable as exc:
                log.warning("%s; requests that need it answer 503 until it is back", exc)

    def describe(self) -> str:
        """One line for the startup log."""
        return f"store: {self.store_kind}, shared state: {self.state_kind}"


def open_backends(settings: Settings) -> Backends:
    """The stores the settings ask for (nothing is contacted yet: a backend that is down makes
    requests that need it answer 503, it does not stop the server from starting)."""
    c = settings.cache
    f = settings.fleet
    state = c.state_dir
    store_url = f.store_url or ""
    originals: OriginalsStore
    derived: DerivedStore
    blobs: Blobs
    at_start: list[Callable[[], object]]
    if urlsplit(store_url).scheme == "s3":
        from alphacdn.cache.s3_blobs import S3Blobs
        from alphacdn.cache.s3_bucket import S3Bucket, make_client, parse_store_url
        from alphacdn.cache.s3_derived import S3Derived
        from alphacdn.cache.s3_originals import S3Originals

        name, prefix = parse_store_url(store_url)
        bucket = S3Bucket(make_client(f.s3_endpoint_url), name, prefix)
        originals, derived = S3Originals(bucket), S3Derived(bucket)
        blobs = S3Blobs(bucket, "tasks")
        store_kind, at_start = "s3", [bucket.ensure]
        probes: list[tuple[str, Callable[[], object]]] = [("s3", lambda: bucket.get("readyz"))]
    else:  # file:///folder, or the data dir
        root = Path(unquote(urlsplit(store_url).path)) if store_url else c.root
        local = DerivedCache(root / "derived", size_limit=c.size_limit_bytes)
        originals, derived = LocalOriginals(root / "originals"), local
        blobs = BlobFolder(state / "removebg" / "tasks")
        store_kind, at_start = "file", [local.repair]
        probes = []
    if f.redis_url:
        from alphacdn.cache.redis_claims import RedisClaims
        from alphacdn.cache.redis_client import connect
        from alphacdn.cache.redis_counters import RedisCounters
        from alphacdn.cache.redis_eager import RedisEager
        from alphacdn.cache.redis_named import RedisNamed
        from alphacdn.cache.redis_queue import RedisJobQueue

        client = connect(f.redis_url)
        return Backends(
            originals,
            derived,
            blobs,
            jobs=RedisJobQueue(client),
            render_claims=RedisClaims(client),
            matte_claims=RedisClaims(client, prefix="alphacdn:{matte-claims}:"),
            counters=RedisCounters(client),
            eager=RedisEager(client),
            named=RedisNamed(client),
            presets=RedisNamed(client, prefix="alphacdn:{presets}:"),
            store_kind=store_kind,
            state_kind="redis",
            at_start=at_start,
            probes=[*probes, ("redis", client.ping)],
        )
    return Backends(
        originals,
        derived,
        blobs,
        jobs=JobStore(state / "jobs"),
        render_claims=Claims(state / "flight"),
        matte_claims=Claims(state / "matte-flight"),
        counters=DiskCounters(state / "removebg" / "removebg-limits"),
        eager=EagerChains(state / "eager"),
        named=FileNamed(state / "named.json"),
        presets=FileNamed(state / "upload_presets.json"),
        store_kind=store_kind,
        state_kind="diskcache",
        at_start=at_start,
        probes=probes,
    )
