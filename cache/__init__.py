"""Bytes at rest: originals (never evicted), derived images and mattes (size-bounded), the job
queue (`JobQueue`, embedded as `JobStore`) and job blobs (`BlobFolder`), both never evicted, and
the eager allow-list. Their Redis implementations (`redis_*.py`) and the S3 stores (`s3_*.py`)
are imported from their modules; a store whose service is down raises `BackendUnavailable`.

Imports no other alphacdn room: keys are strings, bodies are bytes, metadata is plain JSON.
Everything here is synchronous; the wiring calls it through `anyio.to_thread` (except
`SingleFlight.run`, which is async and does that itself).
"""

from .backend import BackendUnavailable
from .blobs import BlobFolder, Blobs
from .counters import Counters, DiskCounters
from .derived import CacheStats, DerivedCache, DerivedStore, Entry, Kind
from .eager import EagerChains, EagerStore, MemoryEager
from .flight import Claims, ClaimStore, SingleFlight
from .jobs import JobStore
from .keys import asset_tag, derived_key, fetched_body_key, fetched_key, matte_key
from .local import LocalOriginals
from .memory import MemoryDerived, MemoryOriginals
from .originals import (
    AssetNotFound,
    AssetRecord,
    OriginalsStore,
    UnsafePublicId,
    check_cloud,
    check_public_id,
)
from .owners import new_owner, owner_is_dead
from .queue import FailureKind, JobQueue, JobRecord, JobStatus, QueueFull

__all__ = [
    "AssetNotFound",
    "AssetRecord",
    "BackendUnavailable",
    "BlobFolder",
    "Blobs",
    "CacheStats",
    "ClaimStore",
    "Claims",
    "Counters",
    "DerivedCache",
    "DerivedStore",
    "DiskCounters",
    "EagerChains",
    "EagerStore",
    "Entry",
    "FailureKind",
    "JobQueue",
    "JobRecord",
    "JobStatus",
    "JobStore",
    "Kind",
    "LocalOriginals",
    "MemoryDerived",
    "MemoryEager",
    "MemoryOriginals",
    "OriginalsStore",
    "QueueFull",
    "SingleFlight",
    "UnsafePublicId",
    "asset_tag",
    "check_cloud",
    "check_public_id",
    "derived_key",
    "fetched_body_key",
    "fetched_key",
    "matte_key",
    "new_owner",
    "owner_is_dead",
]
