"""The originals store: uploaded assets addressed by `(cloud, public_id)`, never evicted.

`OriginalsStore` is the protocol the wiring codes against; `cache/local.py` is the embedded
default (a folder), `cache/memory.py` the in-memory fake, and an S3-compatible store can follow.
This module also owns what every implementation must agree on: the record, the errors, the
public_id safety check and the version rule.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Protocol
from urllib.parse import unquote

__all__ = [
    "AssetNotFound",
    "AssetRecord",
    "OriginalsStore",
    "UnsafePublicId",
    "check_cloud",
    "check_public_id",
    "decode_cursor",
    "encode_cursor",
    "list_page",
    "list_start",
    "make_record",
    "next_version",
]

#: Longest public_id we accept, in UTF-8 bytes (Cloudinary allows 255 characters per segment).
MAX_PUBLIC_ID_BYTES = 1024
#: One path segment must fit a file name (255 bytes on common filesystems) after our suffixes.
_MAX_SEGMENT_BYTES = 200
_CLOUD_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
#: NUL and other control characters, backslash, and `#` (reserved by the local layout).
_FORMAT_RE = re.compile(r"[a-z0-9]{1,16}")
#: keys of `put(meta=…)` that become record fields rather than open metadata
_RECORD_KEYS = frozenset({"format", "width", "height", "tags"})
_FORBIDDEN_RE = re.compile(r"[\x00-\x1f\x7f\\#]")


class UnsafePublicId(ValueError):
    """A public_id (or cloud name) that could escape the store root or is malformed."""


class AssetNotFound(LookupError):
    """No such asset (or no such version of it)."""


def _empty_meta() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class AssetRecord:
    """What the store knows about one stored version of an original."""

    cloud: str
    public_id: str
    #: Cloudinary-like: unix seconds of the upload, strictly increasing per asset
    version: int
    format: str
    width: int
    height: int
    bytes: int
    #: md5 hex of the bytes, as Cloudinary reports it
    etag: str
    #: ISO 8601 UTC, e.g. `2024-05-01T12:00:00Z`
    created_at: str
    tags: tuple[str, ...] = ()
    #: open metadata (background-removal info, confidence, …); JSON-serialisable values
    meta: Mapping[str, Any] = field(default_factory=_empty_meta)

    def to_json(self) -> dict[str, Any]:
        """Plain dict for a JSON sidecar."""
        return {
            "cloud": self.cloud,
            "public_id": self.public_id,
            "version": self.version,
            "format": self.format,
            "width": self.width,
            "height": self.height,
            "bytes": self.bytes,
            "etag": self.etag,
            "created_at": self.created_at,
            "tags": list(self.tags),
            "meta": dict(self.meta),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> AssetRecord:
        """Inverse of `to_json`."""
        return cls(
            cloud=str(d["cloud"]),
            public_id=str(d["public_id"]),
            version=int(d["version"]),
            format=str(d["format"]),
            width=int(d["width"]),
            height=int(d["height"]),
            bytes=int(d["bytes"]),
            etag=str(d["etag"]),
            created_at=str(d["created_at"]),
            tags=tuple(str(t) for t in d.get("tags", ())),
            meta=MappingProxyType(dict(d.get("meta", {}))),
        )


def encode_cursor(public_id: str) -> str:
    """Opaque list cursor pointing after `public_id`."""
    return base64.urlsafe_b64encode(public_id.encode("utf-8")).decode("ascii")


def decode_cursor(cursor: str) -> str:
    """Inverse of `encode_cursor`; raise ValueError on junk."""
    try:
        return base64.urlsafe_b64decode(cursor.encode("ascii")).decode("utf-8")
    except (binascii.Error, UnicodeError) as exc:
        raise ValueError(f"invalid cursor: {cursor!r}") from exc


def list_start(max_results: int, next_cursor: str | None) -> str | None:
    """Check `list`'s arguments; the public_id the page starts after (None: the first page)."""
    if max_results < 1:
        raise ValueError("max_results must be >= 1")
    return decode_cursor(next_cursor) if next_cursor else None


def list_page(
    ids: Iterable[str], stat: Callable[[str], AssetRecord | None], max_results: int
) -> tuple[list[AssetRecord], str | None]:
    """One page of `list`: the current records of `ids` (in public_id order, deleted ones
    skipped) up to `max_results`, and the cursor after the last one if any id is left."""
    page: list[AssetRecord] = []
    it = iter(ids)
    for public_id in it:
        rec = stat(public_id)
        if rec is None:
            continue  # deleted (the tombstone keeps only the last version)
        page.append(rec)
        if len(page) == max_results:
            more = next(it, None) is not None
            return page, encode_cursor(public_id) if more else None
    return page, None


class OriginalsStore(Protocol):
    """Originals addressed by `(cloud, public_id)`; every method is synchronous and thread-safe."""

    def put(
        self,
        cloud: str,
        public_id: str,
        data: bytes,
        meta: Mapping[str, Any],
        *,
        backup: bool = False,
    ) -> AssetRecord:
        """Store `data` atomically as a new version; keep the previous one if `backup`.

        `meta` holds `format`, `width`, `height` and optionally `tags`; other keys land in
        `AssetRecord.meta`. Raise UnsafePublicId for an unsafe id, ValueError for bad meta.
        """
        ...

    def stat(self, cloud: str, public_id: str) -> AssetRecord | None:
        """The current record, or None."""
        ...

    def read(self, cloud: str, public_id: str, *, version: int | None = None) -> bytes:
        """Bytes of the current (or the given current/backup) version; raise AssetNotFound."""
        ...

    def delete(self, cloud: str, public_id: str) -> bool:
        """Remove the asset and its backups; False if it did not exist."""
        ...

    def backups(self, cloud: str, public_id: str) -> list[AssetRecord]:
        """Records of the kept backup versions, oldest first."""
        ...

    def list(
        self,
        cloud: str,
        *,
        prefix: str = "",
        max_results: int = 10,
        next_cursor: str | None = None,
    ) -> tuple[list[AssetRecord], str | None]:
        """Current records ordered by public_id, a page at a time; cursor None = last page."""
        ...


def check_cloud(cloud: str) -> str:
    """Return `cloud` if it is a plain cloud name, else raise UnsafePublicId."""
    if not _CLOUD_RE.fullmatch(cloud):
        raise UnsafePublicId(f"invalid cloud name: {cloud!r}")
    return cloud


def _decoded_forms(public_id: str) -> list[str]:
    # The id reaches us from URLs and form fields, and some layer (a proxy, the ASGI server, an
    # S3 gateway, a later `unquote` in our own code) may percent-decode it once more before it
    # becomes a path. `%2e%2e` is harmless text here but `..` one decode later, so check every
    # form down to the fully decoded one, not just the string as given (thumbor's file loader
    # does the same).
    forms = [public_id]
    for _ in range(4):
        decoded = unquote(forms[-1], errors="strict")
        if decoded == forms[-1]:
            break
        forms.append(decoded)
    return forms


def check_public_id(public_id: str) -> list[str]:
    """Return the `/`-separated segments of a safe public_id, else raise UnsafePublicId."""
    if not public_id:
        raise UnsafePublicId("empty public_id")
    if len(public_id.encode("utf-8", "surrogatepass")) > MAX_PUBLIC_ID_BYTES:
        raise UnsafePublicId("public_id too long")
    try:
        forms = _decoded_forms(public_id)
    except UnicodeDecodeError:
        raise UnsafePublicId(
            f"public_id is not valid percent-encoded UTF-8: {public_id!r}"
        ) from None
    for form in forms:
        if _FORBIDDEN_RE.search(form):
            raise UnsafePublicId(f"public_id contains a forbidden character: {public_id!r}")
        if form.startswith("/"):
            raise UnsafePublicId(f"public_id must be relative: {public_id!r}")
        for segment in form.split("/"):
            if segment in ("", ".", ".."):
                raise UnsafePublicId(f"public_id has an empty, '.' or '..' segment: {public_id!r}")
    segments = public_id.split("/")
    if any(len(s.encode("utf-8", "surrogatepass")) > _MAX_SEGMENT_BYTES for s in segments):
        raise UnsafePublicId("public_id segment too long")
    return segments


def next_version(last_version: int, now: float | None = None) -> int:
    """Unix seconds of `now`, but always greater than `last_version` (same-second re-uploads)."""
    return max(int(time.time() if now is None else now), last_version + 1)


def make_record(
    cloud: str, public_id: str, data: bytes, meta: Mapping[str, Any], *, version: int
) -> AssetRecord:
    """Build the record of `data` stored as `version` (etag = md5 hex, created_at = now UTC).

    `meta` must hold `format` (str), `width` and `height` (int) and may hold `tags` (list of
    str); every other key is kept in `AssetRecord.meta`. Raise ValueError if one is missing.
    """
    try:
        fmt = str(meta["format"]).lower()
        width, height = int(meta["width"]), int(meta["height"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"meta needs format, width and height: {exc}") from None
    if not _FORMAT_RE.fullmatch(fmt):
        raise ValueError(f"invalid format: {fmt!r}")
    tags = meta.get("tags") or ()
    if isinstance(tags, str):
        tags = [t for t in tags.split(",") if t]
    created = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return AssetRecord(
        cloud=cloud,
        public_id=public_id,
        version=version,
        format=fmt,
        width=width,
        height=height,
        bytes=len(data),
        etag=hashlib.md5(data, usedforsecurity=False).hexdigest(),
        created_at=created,
        tags=tuple(str(t) for t in tags),
        meta=MappingProxyType({k: v for k, v in meta.items() if k not in _RECORD_KEYS}),
    )
