"""Fetched sources: the remote images of the `fetch` delivery type and of `l_fetch:` layers.

    get(url) ── known and checked less than ALPHACDN_FETCH_TTL ago → the cached bytes
             └─ else, once per URL in this process: a GET through `alphacdn.net` (the host on
                ALPHACDN_FETCH_DOMAINS at every hop, public addresses only, the byte cap, the
                timeout), conditional on the validators (ETag / Last-Modified) of the bytes we
                hold: 304 → the same bytes, checked now; 200 → the header read (an image, within
                the source pixel limits) and stored
    forget(url) ── the admin API's delete: the next get downloads it again

When the server of a source we hold fails (a timeout, a 5xx or 429, no connection) after the
TTL, the held bytes stand in for up to ALPHACDN_FETCH_STALE_IF_ERROR seconds past it (as HTTP's
`stale-if-error`), marked `stale` (the delivery answers a short Cache-Control and
`X-Alphacdn-Fetch: stale`); the server is tried again after `_RETRY_SECONDS` at most, so an
outage costs one timeout per URL per retry interval, not one per request. A 404 or 410 is an
answer, not a failure: it is passed on.

Two entries in the derived store (evictable like any derived file): per URL, what is known
about it (`fetched_key`: validators, when it was checked, its content's md5, format and size);
per content, the bytes (`fetched_body_key`). The md5 is the source's identity: it names the
`AssetRecord` a fetched source renders as (`public_id` `fetch:<md5>`, version 0), so a changed
remote image gets new derived keys and new mattes (mattes are keyed by content) once its TTL
is over, and two URLs with the same bytes share everything.

Remote failures map to HTTP as a CDN should answer them: a 404 (or 410) is a 404, a timeout a
504, any other failure of the remote server a 502; a host off the allow-list or an address that
is not public a 403; a file over the byte cap a 400 (the download stopped at the cap); a body
that is not an image we decode a 415.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urldefrag, urlsplit

import anyio
import anyio.to_thread

from alphacdn import engine
from alphacdn.cache import AssetRecord, DerivedStore, fetched_body_key, fetched_key
from alphacdn.mattes import content_id
from alphacdn.net import FetchError, FetchFailed, FetchTooLarge, UnsafeUrl, fetch_source
from alphacdn.settings import FETCH_DOMAINS, FETCH_MAX_BYTES, FetchSettings
from alphacdn.transform.errors import (
    BadGateway,
    CdnError,
    Forbidden,
    GatewayTimeout,
    InvalidRequest,
    NotFound,
    UnsupportedImage,
)

#: the public_id prefix of a fetched source's record (an uploaded public_id in the derived keys
#: comes with its upload version, never 0)
FETCH_PREFIX = "fetch:"
#: the invalidation tag of fetched bytes (a URL's record: `fetch/<key>`)
FETCH_TAG = "fetch"
#: tries per fetch (a 5xx or a refused connection is tried once more), and the pause between
_ATTEMPTS = 2
_BACKOFF = 0.25
#: URLs whose last check this process remembers, and for how long it trusts its memory (a
#: `forget` in another worker process is seen after this)
_MEMO_MAX = 4096
_MEMO_SECONDS = 5.0
#: while a source's server fails, its held bytes are served this long before it is tried again
#: (at most the TTL)
_RETRY_SECONDS = 30


@dataclass(frozen=True, slots=True)
class FetchedSource:
    """A remote image as it is now (within the TTL): its bytes and what its header says."""

    url: str
    body: bytes
    #: md5 hex of the bytes: the source's identity
    content: str
    format: str
    width: int
    height: int
    #: frames of an animation (1 for a still image)
    pages: int = 1
    #: held past its TTL because its server failed (stale-if-error)
    stale: bool = False

    def record(self, cloud: str) -> AssetRecord:
        """The record it renders as: keyed by content, version 0."""
        return AssetRecord(
            cloud=cloud,
            public_id=FETCH_PREFIX + self.content,
            version=0,
            format=self.format,
            width=self.width,
            height=self.height,
            bytes=len(self.body),
            etag=self.content,
            created_at="",
            meta={"fetched": self.url, "pages": self.pages},
        )


class FetchedSources:
    """Fetches, caches and revalidates remote sources (see the module docstring)."""

    def __init__(
        self,
        settings: FetchSettings,
        store: DerivedStore,
        *,
        allow_private_urls: bool,
        max_source_pixels: int,
        max_source_side: int,
    ) -> None:
        self.settings = settings
        self._store = store
        self._allow_private_urls = allow_private_urls
        self._max_pixels = max_source_pixels
        self._max_side = max_source_side
        self._locks: dict[str, anyio.Lock] = {}
        #: what this process last learnt about each URL, and when (a hit then reads no store
        #: entry for it for `_MEMO_SECONDS`); bounded, oldest dropped first
        self._memo: dict[str, tuple[Mapping[str, Any], float]] = {}
        #: conditional GETs answered 304 and full downloads, in this process (for /metrics)
        self.revalidated = 0
        self.downloaded = 0
        #: held sources served in place of a failing server (stale-if-error)
        self.stood_in = 0

    def check_allowed(self, url: str) -> None:
        """403 before any work when fetch is off or the URL's host is not on the allow-list
        (the fetcher checks every redirect again)."""
        if not self.settings.enabled:
            raise Forbidden(f"Fetch is disabled on this server ({FETCH_DOMAINS.name} is empty)")
        host = urlsplit(url).hostname or ""
        if not self.settings.allows(host):
            raise Forbidden(f"Fetch refused: host {host!r} is not in {FETCH_DOMAINS.name}")

    def _private(self, host: str) -> bool:
        return self._allow_private_urls and self.settings.allows_private(host)

    async def get(self, url: str) -> FetchedSource:
        """The source at `url`: cached and fresh, revalidated, or downloaded (once per URL in
        this process however many requests ask)."""
        url = urldefrag(url)[0]
        self.check_allowed(url)
        lock = self._locks.setdefault(url, anyio.Lock())
        try:
            async with lock:  # a request that waited finds what the first one stored
                held, meta = await anyio.to_thread.run_sync(self._held, url)
                if held is not None and self._fresh(meta):
                    return held
                return await self._refresh(url, held, meta)
        finally:
            if not lock.locked() and self._locks.get(url) is lock:
                del self._locks[url]

    def known(self, url: str) -> FetchedSource | None:
        """Blocking: what is known about `url` if it was checked within the TTL, without its
        bytes (`body` empty): enough for a derived key, so a hit reads no source."""
        url = urldefrag(url)[0]
        meta, at = self._memo.get(url, (None, 0.0))
        if meta is None or time.monotonic() - at > _MEMO_SECONDS or not self._fresh(meta):
            known = self._store.get(fetched_key(url))
            if known is None or not self._fresh(known.meta):
                return None
            meta = self._remember(url, known.meta)
        return _source(url, b"", meta, stale=self._stale(meta))

    def _remember(self, url: str, meta: Mapping[str, Any]) -> Mapping[str, Any]:
        if len(self._memo) >= _MEMO_MAX and url not in self._memo:
            del self._memo[next(iter(self._memo))]
        self._memo[url] = (meta, time.monotonic())
        return meta

    async def forget(self, url: str) -> bool:
        """Drop what is known about `url` (Cloudinary's "delete a fetched asset"): the next
        request downloads it again, unconditionally. Derived files are keyed by content, so an
        unchanged image finds its own again; other worker processes notice within
        `_MEMO_SECONDS`. True if something was known."""
        url = urldefrag(url)[0]
        self._memo.pop(url, None)
        dropped = await anyio.to_thread.run_sync(self._store.invalidate, _url_tag(url))
        return dropped > 0

    def _held(self, url: str) -> tuple[FetchedSource | None, Mapping[str, Any]]:
        """Blocking: the source we hold for `url` and what is known about it (None and {} if
        unknown, or if its bytes were evicted)."""
        known = self._store.get(fetched_key(url))
        if known is None:
            return None, {}
        body = self._store.get(fetched_body_key(str(known.meta["content"])))
        if body is None:
            return None, {}
        self._remember(url, known.meta)
        return _source(url, body.body, known.meta, stale=self._stale(meta=known.meta)), known.meta

    def _fresh(self, meta: Mapping[str, Any]) -> bool:
        """Checked within the TTL, or standing in for a failing server until its retry."""
        return not self._stale(meta) or time.time() < float(meta.get("retry_at", 0))

    def _stale(self, meta: Mapping[str, Any]) -> bool:
        return time.time() - float(meta.get("checked_at", 0)) >= self.settings.ttl_seconds

    def _stands_in(self, meta: Mapping[str, Any], exc: FetchError) -> bool:
        """Whether held bytes (checked at `meta`'s time) may answer for a server that failed
        with `exc`: a transient failure, within ALPHACDN_FETCH_STALE_IF_ERROR past the TTL."""
        if not isinstance(exc, FetchFailed) or not (exc.retryable or exc.timed_out):
            return False  # a 404/410/403, an unsafe redirect, a file too large: an answer
        expired_at = float(meta.get("checked_at", 0)) + self.settings.ttl_seconds
        return time.time() - expired_at <= self.settings.stale_if_error

    async def _refresh(
        self, url: str, held: FetchedSource | None, meta: Mapping[str, Any]
    ) -> FetchedSource:
        """Revalidate `held` (the validators in `meta`) or download, then store."""
        try:
            fetched = await fetch_source(
                url,
                max_bytes=self.settings.max_bytes,
                timeout=self.settings.timeout,
                allow_private=self._private,
                allow_host=self.settings.allows,
                etag=meta.get("etag"),
                last_modified=meta.get("last_modified"),
                attempts=_ATTEMPTS,
                backoff=_BACKOFF,
            )
        except FetchError as exc:
            if held is None or not self._stands_in(meta, exc):
                raise self._error(url, exc) from None
            self.stood_in += 1
            retry = time.time() + min(_RETRY_SECONDS, self.settings.ttl_seconds)
            await anyio.to_thread.run_sync(self._put_known, url, {**meta, "retry_at": retry})
            return replace(held, stale=True)
        now = time.time()
        if fetched.not_modified and held is not None:
            self.revalidated += 1
            checked = {k: v for k, v in meta.items() if k != "retry_at"}
            checked["checked_at"] = now
            await anyio.to_thread.run_sync(self._put_known, url, checked)
            return replace(held, stale=False)
        body = fetched.body
        info = await anyio.to_thread.run_sync(self._probe, url, body, fetched.content_type)
        self.downloaded += 1
        content = content_id(body)
        new_meta: dict[str, Any] = {
            "content": content,
            "etag": fetched.etag,
            "last_modified": fetched.last_modified,
            "checked_at": now,
            "format": info.format,
            "width": info.width,
            "height": info.height,
            "pages": info.pages,
        }

        def store() -> None:
            if held is None or held.content != content:
                self._store.put(fetched_body_key(content), body, {}, tag=FETCH_TAG)
            self._put_known(url, new_meta)

        await anyio.to_thread.run_sync(store)
        return _source(url, body, new_meta)

    def _put_known(self, url: str, meta: Mapping[str, Any]) -> None:
        self._store.put(fetched_key(url), b"", meta, tag=_url_tag(url))
        self._remember(url, meta)

    def _probe(self, url: str, body: bytes, content_type: str) -> engine.SourceInfo:
        """The header: an image we decode, within the source limits (from the header only)."""
        try:
            return engine.probe_checked(body, max_pixels=self._max_pixels, max_side=self._max_side)
        except UnsupportedImage:
            kind = content_type.split(";")[0].strip() or "no Content-Type"
            raise UnsupportedImage(
                f"Remote file is not an image we decode ({kind}, {len(body)} bytes): {url}"
            ) from None

    def _error(self, url: str, exc: FetchError) -> CdnError:
        if isinstance(exc, UnsafeUrl):
            return Forbidden(f"Fetch refused: {exc}", detail=url)
        if isinstance(exc, FetchTooLarge):
            return InvalidRequest(f"Remote file too large: {exc} ({FETCH_MAX_BYTES.name}): {url}")
        if isinstance(exc, FetchFailed):
            if exc.status in (404, 410):
                return NotFound(f"Remote resource not found (HTTP {exc.status}): {url}")
            if exc.timed_out:
                return GatewayTimeout(
                    f"Remote server did not answer in {self.settings.timeout:g} s: {url}"
                )
            if exc.status is not None:
                return BadGateway(f"Remote server answered HTTP {exc.status}: {url}")
        return BadGateway(f"Remote fetch failed ({exc}): {url}")


def _source(
    url: str, body: bytes, meta: Mapping[str, Any], *, stale: bool = False
) -> FetchedSource:
    return FetchedSource(
        url=url,
        body=body,
        content=str(meta["content"]),
        format=str(meta["format"]),
        width=int(meta["width"]),
        height=int(meta["height"]),
        pages=int(meta.get("pages", 1)),
        stale=stale,
    )


def _url_tag(url: str) -> str:
    """The tag of a URL's record (`forget` drops it by tag: every store can)."""
    return f"{FETCH_TAG}/{fetched_key(url)}"


def is_fetched(asset: AssetRecord) -> bool:
    """Whether a record stands for a fetched source (see `FetchedSource.record`)."""
    return asset.version == 0 and asset.public_id.startswith(FETCH_PREFIX)


__all__ = ["FETCH_PREFIX", "FetchedSource", "FetchedSources", "is_fetched"]
