"""Derived images and mattes in an S3-compatible bucket (`DerivedStore`), shared by every replica.

Layout under the bucket's prefix::

    derived/obj/<key>            one derived image: its body, with its metadata on the object
    derived/tag/<tag>#<key>      empty marker: the per-tag listing that `invalidate` reads
    matte/obj/<key>              one matte, written once
    matte/tag/<tag>#<key>
    <kind>/meta/<key>#<ref>      an entry's meta when it is too long for user metadata

One entry is one object: the body, S3's `Content-Type` from `meta["content_type"]`, and the whole
`meta` (ETag, headers, size …) as compact JSON in the user metadata `x-amz-meta-alphacdn`, so a
hit is one GET. S3 shows an object whole or not at all, so no reader ever sees half an entry.
A meta longer than S3's 2 KB of user metadata (a matte of a busy picture carries every
detection the route and hints were decided on) goes to a sidecar object named by its hash,
written before the entry's object, which then holds only that name (`x-amz-meta-alphacdn-ref`):
such a hit costs two GETs, and a reader never finds the object without its sidecar. A sidecar
of a lost race or of an invalidated entry is never read again and expires with its kind.

Invalidation by tag: `get` knows only the key, so objects are addressed by key, and the listing
per tag is a zero-byte marker written just before the object (a crash in between leaves a marker
without object, which `invalidate` and `repair` treat as nothing). `invalidate(tag)` lists the
prefix `<kind>/tag/<tag>#` (`#` never occurs in a tag's public_id, so no other tag shares it) and
deletes objects and markers a thousand per request. A render therefore costs one body PUT plus
one empty PUT; passing the tag to `get` would let the object live under the tag's prefix and
drop the marker.

A matte is written once: `put_matte` is a conditional put (`If-None-Match: *`); a second writer
of the same key (same asset version, model and options, hence the same matte) keeps the first.

Lifetime: nothing here evicts. The bucket's lifecycle rule expires `derived/` after
`derived_days` (a re-render costs one render) and `matte/` after `matte_days` (a model run);
`set_lifetime` installs both rules, and markers expire with their objects.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from .derived import CacheStats, Entry, Kind
from .s3_bucket import Conflict, S3Bucket

__all__ = ["S3Derived"]

_KINDS: tuple[Kind, ...] = ("derived", "matte")
#: user metadata field holding the entry's meta (sent as the header x-amz-meta-alphacdn)
_META = "alphacdn"
#: user metadata field naming the sidecar that holds a long meta (`_sidecar`)
_META_REF = "alphacdn-ref"
#: AWS allows 2 KB of user metadata per object; keep below it on every server
_MAX_META_BYTES = 2000
#: the longest meta a sidecar takes (an entry with more is not stored)
_MAX_SIDECAR_BYTES = 1024 * 1024


def _obj(kind: Kind, key: str) -> str:
    return f"{kind}/obj/{key}"


def _sidecar(kind: Kind, key: str, ref: str) -> str:
    return f"{kind}/meta/{key}#{ref}"


def _tags(kind: Kind, tag: str) -> str:
    if not tag or "#" in tag:  # `#` ends the tag in a marker name (asset tags never hold one)
        raise ValueError(f"invalid tag: {tag!r}")
    return f"{kind}/tag/{tag}#"


class S3Derived:
    """The scaled `DerivedStore`: one object per entry in an S3 bucket, bounded by age."""

    def __init__(
        self,
        bucket: S3Bucket,
        *,
        max_entry_bytes: int = 64 * 1024 * 1024,
        derived_days: int = 30,
        matte_days: int = 90,
    ) -> None:
        """Bodies above `max_entry_bytes` are not stored; lifetimes are for `set_lifetime`."""
        self._bucket = bucket
        self._max_entry = max_entry_bytes
        self._days: dict[Kind, int] = {"derived": derived_days, "matte": matte_days}

    def set_lifetime(self) -> None:
        """Install the bucket lifecycle rules that expire derived files and mattes by age."""
        self._bucket.expire({f"{kind}/": days for kind, days in self._days.items()})

    def _get(self, kind: Kind, key: str) -> Entry | None:
        found = self._bucket.get(_obj(kind, _checked(key)))
        if found is None:
            return None
        text = found.metadata.get(_META)
        ref = found.metadata.get(_META_REF)
        if text is None and ref is not None:
            sidecar = self._bucket.get(_sidecar(kind, key, ref))
            text = sidecar.body.decode("utf-8", "replace") if sidecar is not None else None
        try:
            meta = json.loads(text) if text is not None else None
        except ValueError:
            meta = None
        if not isinstance(meta, dict):
            return None  # not written by this store
        return Entry(body=found.body, meta=MappingProxyType(meta))

    def _put(
        self, kind: Kind, key: str, body: bytes, meta: Mapping[str, Any], tag: str, once: bool
    ) -> bool:
        # ASCII only (HTTP header value); non-ASCII text travels as JSON \u escapes
        encoded = json.dumps(dict(meta), separators=(",", ":"), ensure_ascii=True)
        if len(body) > self._max_entry or len(encoded) > _MAX_SIDECAR_BYTES:
            return False
        metadata = {_META: encoded}
        if len(encoded) > _MAX_META_BYTES:  # before the object: no reader finds one without it
            ref = hashlib.sha256(encoded.encode()).hexdigest()[:16]
            self._bucket.put(_sidecar(kind, _checked(key), ref), encoded.encode())
            metadata = {_META_REF: ref}
        self._bucket.put(_tags(kind, tag) + _checked(key), b"")
        content_type = meta.get("content_type")
        # a Conflict: written once already, by another worker or replica, and that one stays
        with contextlib.suppress(Conflict):
            self._bucket.put(
                _obj(kind, key),
                body,
                content_type=content_type if isinstance(content_type, str) else None,
                metadata=metadata,
                if_absent=once,
            )
        return True

    def get(self, key: str) -> Entry | None:
        """The derived entry, or None."""
        return self._get("derived", key)

    def put(self, key: str, body: bytes, meta: Mapping[str, Any], *, tag: str) -> bool:
        """Store a derived entry atomically, grouped by `tag`; False if too large to store."""
        return self._put("derived", key, body, meta, tag, once=False)

    def get_matte(self, key: str) -> Entry | None:
        """The matte entry, or None."""
        return self._get("matte", key)

    def put_matte(self, key: str, body: bytes, meta: Mapping[str, Any], *, tag: str) -> bool:
        """Store a matte once (a later put of the same key keeps the first); False if too large."""
        return self._put("matte", key, body, meta, tag, once=True)

    def max_matte_bytes(self) -> int | None:
        """The largest matte body `put_matte` accepts."""
        return self._max_entry

    def invalidate(self, tag: str) -> int:
        """Drop every derived entry and matte with this tag; return how many."""
        dropped = 0
        for kind in _KINDS:
            prefix = _tags(kind, tag)
            keys = [m.key[len(prefix) :] for m in self._bucket.objects(prefix)]
            # a longer tag that merely starts with `tag#` leaves a `#` in the rest: not ours
            keys = [k for k in keys if "#" not in k]
            self._bucket.delete([*(_obj(kind, k) for k in keys), *(prefix + k for k in keys)])
            dropped += len(keys)
        return dropped

    def stats(self) -> dict[Kind, CacheStats]:
        """Bytes and count of stored objects per namespace (lists the whole bucket prefix)."""
        out: dict[Kind, CacheStats] = {}
        for kind in _KINDS:
            sizes = [o.size for o in self._bucket.objects(f"{kind}/obj/")]
            out[kind] = CacheStats(volume=sum(sizes), count=len(sizes), size_limit=0)
        return out

    def volume(self) -> int:
        """Bytes stored in both namespaces (lists the whole bucket prefix)."""
        return sum(s.volume for s in self.stats().values())

    def repair(self) -> int:
        """Delete markers whose object is gone (expired, or a crash between the two puts)."""
        found = 0
        for kind in _KINDS:
            live = {
                o.key.removeprefix(f"{kind}/obj/") for o in self._bucket.objects(f"{kind}/obj/")
            }
            base = f"{kind}/tag/"
            orphans = [
                m.key for m in self._bucket.objects(base) if m.key.rpartition("#")[2] not in live
            ]
            self._bucket.delete(orphans)
            found += len(orphans)
        return found


def _checked(key: str) -> str:
    """`key` if it can follow a tag in a marker name (keys are sha256 hex in practice)."""
    if not key or "#" in key or "/" in key:
        raise ValueError(f"invalid cache key: {key!r}")
    return key
