"""Bytes at rest: originals (never evicted), derived images and mattes (size-bounded), job state,
the eager allow-list.

Imports no other alphacdn room: keys are strings, bodies are bytes, metadata is plain JSON.
Everything here is synchronous; the wiring calls it through `anyio.to_thread` (except
`SingleFlight.run`, which is async and does that itself).
"""

from .derived import CacheStats, DerivedCache, DerivedStore, Entry, Kind
from .eager import EagerChains, EagerStore, MemoryEager
from .flight import Claims, SingleFlight
from .jobs import JobRecord, JobStatus, JobStore, QueueFull
from .keys import asset_tag, derived_key, matte_key
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

__all__ = [
    "AssetNotFound",
    "AssetRecord",
    "CacheStats",
    "Claims",
    "DerivedCache",
    "DerivedStore",
    "EagerChains",
    "EagerStore",
    "Entry",
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
    "matte_key",
]
