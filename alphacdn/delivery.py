"""The delivery flow, in one direction: URL path → Plan → the one derived key → hit, or render once.

    serve(path, accept)
      parse_url (memoised per path and named-transformation table) → Plan, canonical text
      a bad signature → 401
      one thread hop: originals stat + the strict-mode access check (the eager allow-list)
      + derived get → 401 (before 404: no existence oracle) / 404 / hit
      miss: layer assets → key → stored sizes against the source limits → cost estimate (400
            over the budget) → single-flight render (matte and layers through callables;
            per-client slots, then the render threads; stopped after ALPHACDN_RENDER_TIMEOUT
            or when nobody waits for it) → derived store → Served

A `fetch` URL (`/<cloud>/image/fetch/<chain>/<remote URL>`) takes the same path from the
access check on: the allow-list (403) and, in strict mode, a signature (401, unless every
component is a named transformation), then its source from `FetchedSources` (cached for
ALPHACDN_FETCH_TTL, revalidated after) stands in for the original: an `AssetRecord` named by the
content's md5, so the derived key changes when the remote image does. Background removal on a
fetched source is made while the request waits (`Mattes.get_now`, keyed by content like every
matte), since a queued job could not read it back from the originals.

The route (`routes/delivery.py`) turns a `Served` into HTTP; eager work renders through
`render()`, the same path a miss takes.

A render is stopped, or its wait for a slot dropped, when every client that asked for it in
this process has disconnected; a client that leaves while others still wait for the same key
only stops waiting itself. Workers in other processes waiting on the same key take over (the
single flight's claim is released).
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import anyio
import anyio.to_thread

from alphacdn import engine, metrics
from alphacdn.access import SIGNED_TYPES, asset_type
from alphacdn.cache import (
    AssetRecord,
    DerivedStore,
    EagerStore,
    Entry,
    OriginalsStore,
    SingleFlight,
    UnsafePublicId,
    asset_tag,
    derived_key,
)
from alphacdn.clients import Client, ClientBusy, ClientSlots, until_gone
from alphacdn.fetched import FetchedSource, FetchedSources
from alphacdn.layer_assets import NO_LAYERS, LayerAssets, resolve_layers
from alphacdn.mattes.preview import PREVIEW_HEADER
from alphacdn.named import NamedTransformations
from alphacdn.settings import EngineSettings, HttpSettings
from alphacdn.transform import (
    BackgroundRemoval,
    DeliveryRequest,
    Plan,
    canonical,
    parse_chain,
    parse_url,
    verify_url_signature,
)
from alphacdn.transform.cost import check_cost
from alphacdn.transform.dynamic import NO_HINTS, ClientHints, client_hints, hints_read
from alphacdn.transform.errors import (
    CdnError,
    Forbidden,
    InvalidRequest,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
)
from alphacdn.transform.faces import face_steps
from alphacdn.transform.layers import layer_public_ids, layer_remote_urls
from alphacdn.transform.named import is_named_only
from alphacdn.transform.plan import Output
from alphacdn.transform.url import EXTENSIONS
from alphacdn.transform.values import Flag, Format

#: supplies the source bytes a plan starts from when it begins with background removal:
#: `(asset, removal) -> (cut-out PNG bytes, extra response headers)`; raises MatteInProgress
#: (423)
MatteSource = Callable[[AssetRecord, BackgroundRemoval], Awaitable[tuple[bytes, dict[str, str]]]]
#: the same for a source that is not an original (a fetched one): `(asset, removal, its bytes)`,
#: made while the request waits
MatteNow = Callable[
    [AssetRecord, BackgroundRemoval, bytes], Awaitable[tuple[bytes, dict[str, str]]]
]
#: waits (at most the given seconds) until the real matte of (asset, removal) is made: True,
#: or False when it was not (failed, wait over)
MatteReady = Callable[[AssetRecord, BackgroundRemoval, float], Awaitable[bool]]
#: `max-age` of an answer made from a fetched source standing in for its failing server
_FETCH_STALE_MAX_AGE = 30
#: how long the render of a previewed URL waits for its real matte in the background
_PREVIEW_FOLLOW_UP = 120.0
#: the faces of an asset's source as fractions of its upright size (`alphacdn.faces`):
#: `(asset, required, source) -> boxes`, None when not looked for (no model and not
#: `required`); `source` is the bytes when they are not the asset's original (fetched)
FaceSource = Callable[
    [AssetRecord, bool, bytes | None],
    Awaitable[list[tuple[float, float, float, float]] | None],
]

#: parsed URLs kept per process (a hit then costs a dict lookup instead of a parse)
_PARSED_MAX = 4096
#: distinct `Accept` headers kept (browsers send a handful)
_ACCEPT_MAX = 256
#: `Cache-Control` of a versioned URL, whose bytes never change
_IMMUTABLE = "public, max-age=31536000, immutable"
#: a render that lost its leader (stopped for clients gone, or refused for the leader's own
#: client) is tried again by a waiter still there, at most this often
_ATTEMPTS = 3


class ClientGone(CdnError):
    """The client disconnected before its render was done (nobody reads this answer)."""

    status = 499


@dataclass(frozen=True, slots=True)
class Served:
    """What the delivery route sends: bytes plus what the headers need."""

    body: bytes
    content_type: str
    etag: str
    extension: str
    negotiated: bool
    cache_status: str
    extra_headers: dict[str, str] = field(default_factory=dict)
    #: `Cache-Control` for this URL (a versioned URL never changes)
    cache_control: str = ""
    #: `fl_attachment`: the file name to download as, else None
    download_name: str | None = None
    #: request headers besides `Accept` the bytes depend on (client hints)
    vary: tuple[str, ...] = ()
    #: work to run after the answer is sent (a preview's follow-up render), else None
    after: Callable[[], Awaitable[None]] | None = None


@dataclass(frozen=True, slots=True)
class _Parsed:
    """A delivery URL and what the hot path derives from it once."""

    req: DeliveryRequest
    canonical: str
    #: the plan loads other assets (`l_<id>`, `u_<id>`): their versions join the key
    layered: bool
    #: every component is a named transformation (strict mode allows it)
    named_only: bool
    #: the named-transformation table the URL was parsed with; None when it uses none
    table: Mapping[str, str] | None
    #: (reads the width hint, reads the DPR hint): `w_auto`, `dpr_auto`
    hints: tuple[bool, bool] = (False, False)


def accept_class(accept: str) -> str:
    """The part of `Accept` that f_auto depends on: one cache entry per class, not per header.

    Read by the engine's own negotiation (which honours `q=0`), and the render is given the
    class's normalised header (`normalised_accept`), so the key and the bytes always agree."""
    best = engine.negotiate_format(accept, has_alpha=False)
    return {Format.AVIF: "avif", Format.WEBP: "webp"}.get(best, "plain")


def normalised_accept(accept: str) -> str:
    """The one `Accept` value that stands for this header's class. Every browser that takes
    AVIF took WebP first, so the AVIF class takes WebP too (an animation has no AVIF here:
    `f_auto` gives it animated WebP)."""
    return {"avif": "image/avif,image/webp", "webp": "image/webp"}.get(accept_class(accept), "")


def requested_format(req: DeliveryRequest, accept: str) -> tuple[Format | None, str]:
    """(default format from the extension, the format part of the cache key)."""
    ext_format = Format(req.extension) if req.extension else None
    fmt = req.plan.output.format or ext_format
    if fmt is Format.AUTO:
        return ext_format, "auto:" + accept_class(accept)
    return ext_format, fmt.value if fmt else "source"


def key_of(asset: AssetRecord, canonical_text: str, fmt_key: str, layers: LayerAssets) -> str:
    """The derived key of (asset version, canonical plan, layer versions, format): the one
    place it is built."""
    text = canonical_text + layers.key_suffix()
    return derived_key(asset.cloud, asset.public_id, asset.version, text, fmt_key)


def _served(
    entry: Entry, status: str, cache_control: str = "", req: DeliveryRequest | None = None
) -> Served:
    meta = entry.meta
    extension = str(meta["extension"])
    return Served(
        body=entry.body,
        content_type=str(meta["content_type"]),
        etag=str(meta["etag"]),
        extension=extension,
        negotiated=bool(meta["negotiated"]),
        cache_status=status,
        extra_headers=dict(meta.get("headers", {})),
        cache_control=cache_control,
        download_name=_download_name(req, extension) if req is not None else None,
    )


def _download_name(req: DeliveryRequest, extension: str) -> str | None:
    """`fl_attachment`'s file name: the public_id's last part with the served extension (a
    fetched URL's: its path's last part without its own extension)."""
    if Flag.ATTACHMENT not in req.plan.output.flags:
        return None
    if req.delivery_type == "fetch":
        name = PurePosixPath(urlsplit(req.public_id).path).stem or "image"
        return name + "." + extension
    return req.public_id.rsplit("/", 1)[-1] + "." + extension


class Delivery:
    """Owns the delivery flow: from a URL path to the derived bytes, rendered at most once."""

    def __init__(
        self,
        *,
        http: HttpSettings,
        engine_settings: EngineSettings,
        originals: OriginalsStore,
        derived: DerivedStore,
        named: NamedTransformations,
        eager: EagerStore,
        flight: SingleFlight,
        mattes: MatteSource,
        fetched: FetchedSources | None = None,
        mattes_now: MatteNow | None = None,
        matte_ready: MatteReady | None = None,
        faces: FaceSource | None = None,
    ) -> None:
        """`matte_ready`: lets the render of a URL answered with a preview cut-out be made and
        stored once the real matte is there, so the next view is a cache hit."""
        self._http = http
        #: per-client limits key on the last `X-Forwarded-For` address (behind a proxy)
        self.trust_forwarded_for = http.trust_forwarded_for
        self._clouds = frozenset(http.clouds)
        self._max_pixels = engine_settings.max_source_pixels
        self._max_side = engine_settings.max_source_side
        self._originals = originals
        self._derived = derived
        self._named = named
        self._eager = eager
        self._flight = flight
        self._mattes = mattes
        #: the `fetch` delivery type's sources (None: fetch is off, 403)
        self._fetched = fetched
        self._mattes_now = mattes_now
        self._matte_ready = matte_ready
        self._faces = faces
        self._render_limiter = anyio.CapacityLimiter(engine_settings.render_threads)
        self._budget = engine_settings.render_budget
        self._max_canvas = engine_settings.max_canvas_pixels
        self._timeout = engine_settings.render_timeout
        self._clients = ClientSlots(
            engine_settings.renders_per_client, engine_settings.render_client_queue
        )
        #: who waits, in this process, for each key being rendered
        self._wanted: dict[str, _Wanted] = {}
        self._parsed: dict[str, _Parsed] = {}
        self._accepts: dict[str, str] = {}
        #: renders done by this process (exposed in /metrics.json)
        self.renders = 0

    # ── the request side ─────────────────────────────────────────────────────────────────────
    async def serve(
        self,
        path: str,
        accept_header: str,
        client: Client | None = None,
        headers: Mapping[str, str] | None = None,
        query: str = "",
    ) -> Served:
        """The derived file for a (percent-decoded) delivery path and `Accept` header; a cold
        render counts against `client`'s slots and stops when every client waiting is gone.
        `headers` (lower-case names) give the client hints a `w_auto`/`dpr_auto` URL reads;
        `query`: the request's query string (a plain fetch URL's own)."""
        p = self._parse(path, query if "/image/fetch/" in path else "")
        req = p.req
        hints, canonical_text = NO_HINTS, p.canonical
        if p.hints != (False, False):  # `w_auto` / `dpr_auto`: the resolved values join the key
            hints = client_hints(p.hints, headers or {})
            canonical_text += hints.key()
        if req.cloud not in self._clouds:
            raise NotFound(f"Unknown cloud name: {req.cloud}")
        if req.delivery_type == "fetch":
            return await self._serve_fetch(p, accept_header, client, canonical_text, hints)
        accept = self._accept(accept_header)
        default_format, fmt_key = requested_format(req, accept)
        signed = self._signature(req)
        if signed is False:  # before any store: the same answer whether the asset exists or not
            raise Unauthorized(f"Invalid signature {req.signature} for {req.signed_text}")
        if signed is None and req.delivery_type in SIGNED_TYPES:
            raise Unauthorized(f"A {req.delivery_type} asset is delivered only with a signed URL")
        guarded = self._guarded(p, signed is True)

        def look() -> tuple[AssetRecord | None, Entry | None, bool]:
            # the hot path's one thread hop: everything a hit (and the access check) needs
            asset = self._originals.stat(req.cloud, req.public_id)
            if asset is None or asset_type(asset) != req.delivery_type:
                return None, None, False  # a private asset has no /upload/ URL, and back
            allowed = not guarded or self._strict_allows(p, asset)
            if not allowed or p.layered:  # layer versions join the key: the render path's
                return asset, None, allowed
            hit = self._derived.get(key_of(asset, canonical_text, fmt_key, NO_LAYERS))
            return asset, hit, allowed

        try:
            asset, hit, allowed = await anyio.to_thread.run_sync(look)
        except UnsafePublicId as exc:
            raise InvalidRequest(f"Invalid public_id: {exc}") from None
        # access before existence: in strict mode a transformation nobody allowed is a 401
        # whether or not the asset exists, so 401 vs 404 tells an outsider nothing. Only the
        # original as uploaded (public anyway) answers 404 for a missing asset.
        if guarded and not allowed and (asset is not None or not _plain(req)):
            raise Unauthorized(
                "Transformation not allowed: strict transformations are on "
                "(use a signed URL, a named transformation or an eager transformation)"
            )
        if asset is None:
            raise NotFound(f"Resource not found - {req.public_id}")
        cache_control = (
            _IMMUTABLE
            if req.version is not None
            else f"public, max-age={self._http.unversioned_max_age}"
        )
        if hit is not None:
            served = _served(hit, "HIT", cache_control, req)
            return served if hints is NO_HINTS else replace(served, vary=hints.vary())
        served = await self._render(
            asset, req.plan, canonical_text, fmt_key, accept, default_format, checked=True,
            client=client, hints=hints,
        )  # fmt: skip
        return replace(
            served,
            cache_control=served.cache_control or cache_control,  # a preview's is no-store
            download_name=_download_name(req, served.extension),
            vary=hints.vary(),
        )

    async def _serve_fetch(
        self,
        p: _Parsed,
        accept_header: str,
        client: Client | None,
        canonical_text: str,
        hints: ClientHints,
    ) -> Served:
        """A `fetch` URL: allow-list (403), signature and strict mode (401), the remote source
        (cached for the TTL; 404 / 504 / 502 / 415 / 400 from the remote side), then a hit or
        the same render path as an original."""
        req = p.req
        if self._fetched is None:
            raise Forbidden("Fetch is disabled on this server")
        self._fetched.check_allowed(req.public_id)
        accept = self._accept(accept_header)
        default_format, fmt_key = requested_format(req, accept)
        signed = self._signature(req)
        if signed is False:
            raise Unauthorized(f"Invalid signature {req.signature} for {req.signed_text}")
        if self._guarded(p, signed is True):  # no eager allow-list for a remote URL
            raise Unauthorized(
                "Fetch URL not allowed: strict transformations are on (sign the URL, or use "
                "only named transformations)"
            )
        fetched = self._fetched

        def answer(served: Served, source: FetchedSource) -> Served:
            """A fetched source's answer: cached for the TTL, or briefly while it stands in
            for its failing server (stale-if-error)."""
            if not source.stale:
                control = f"public, max-age={fetched.settings.ttl_seconds}"
                return replace(served, cache_control=control, vary=hints.vary())
            retry = min(_FETCH_STALE_MAX_AGE, fetched.settings.ttl_seconds)
            extra = {**served.extra_headers, "X-Alphacdn-Fetch": "stale"}
            return replace(
                served,
                cache_control=f"public, max-age={retry}",
                extra_headers=extra,
                vary=hints.vary(),
            )

        def look() -> tuple[FetchedSource | None, Entry | None]:
            # a hit needs what is known about the URL (fresh), not its bytes: one thread hop
            known = fetched.known(req.public_id)
            if known is None or p.layered:
                return known, None
            key = key_of(known.record(req.cloud), canonical_text, fmt_key, NO_LAYERS)
            return known, self._derived.get(key)

        known, hit = await anyio.to_thread.run_sync(look)
        if hit is not None and known is not None:
            return answer(_served(hit, "HIT", "", req), known)
        # (revalidated after the TTL, an unchanged source finds its derived files again)
        source = await fetched.get(req.public_id)
        asset = source.record(req.cloud)
        served = await self._render(
            asset, req.plan, canonical_text, fmt_key, accept, default_format,
            checked=known is not None, client=client, source=source.body, hints=hints,
        )  # fmt: skip
        return answer(replace(served, download_name=_download_name(req, served.extension)), source)

    def _parse(self, path: str, query: str = "") -> _Parsed:
        """`parse_url`, once per path: a URL without named transformations cannot change, one
        with them is parsed again when the table changed (it is re-read on change only)."""
        memo = f"{path}?{query}" if query else path
        found = self._parsed.get(memo)
        if found is not None and found.table is None:
            return found
        table = self._named.current()
        if found is not None and found.table is table:
            return found
        req = parse_url(path, named=table, query=query)
        plan = req.plan
        found = _Parsed(
            req,
            canonical(plan),
            bool(layer_public_ids(plan) or layer_remote_urls(plan)),
            bool(plan.named) and is_named_only(req.transformation),
            table if plan.named else None,
            hints_read(plan.components),
        )
        if len(self._parsed) >= _PARSED_MAX:
            del self._parsed[next(iter(self._parsed))]  # the oldest
        self._parsed[memo] = found
        return found

    def _accept(self, header: str) -> str:
        found = self._accepts.get(header)
        if found is None:
            if len(self._accepts) >= _ACCEPT_MAX:
                self._accepts.clear()
            found = self._accepts[header] = normalised_accept(header)
        return found

    def _signature(self, req: DeliveryRequest) -> bool | None:
        """None for an unsigned URL, else whether its signature is valid for one of our keys."""
        if req.signature is None:
            return None
        return any(
            verify_url_signature(req.signature, req.signed_text, secret)
            for secret in self._http.api_keys.values()
        )

    def _guarded(self, p: _Parsed, signed: bool) -> bool:
        """Strict mode serves unsigned only named transformations, eager ones and the original
        as uploaded: True when this URL is one that only `_strict_allows` can let through."""
        return self._http.strict_transformations and not signed and not p.named_only

    def _strict_allows(self, p: _Parsed, asset: AssetRecord) -> bool:
        """Strict mode, unsigned and not named: the original as uploaded (no transformation, no
        output parameter, no extension or the original's own), or a chain declared `eager` for
        this asset in this format (Cloudinary compares the transformation and the extension)."""
        req = p.req
        if _plain(req) and (req.extension is None or req.extension == _format_of(asset)):
            return True
        chains = self._eager.chains(asset_tag_of(asset))
        return (
            _eager_entry(p.canonical, _access_format(req.plan, req.extension, asset)) in chains
            # entries written before formats were recorded allow their chain in any format
            or p.canonical in chains
        )

    # ── eager work ───────────────────────────────────────────────────────────────────────────
    async def render(
        self, asset: AssetRecord, plan: Plan, *, fmt_key: str, default_format: Format | None
    ) -> Served:
        """The derived file of `plan` for `asset` (no `Accept`, no client hints: a `w_auto`
        chain renders its fallback, under the key a browser sending no hint asks for)."""
        hints = client_hints(hints_read(plan.components), {})
        return await self._render(
            asset, plan, canonical(plan) + hints.key(), fmt_key, "", default_format, hints=hints
        )

    async def allow_eager(self, asset: AssetRecord, chain: str, extension: str | None) -> None:
        """Allow `chain` (compared in canonical form) delivered as `extension` (None: the
        original's format) for this asset in strict mode."""
        plan = parse_chain(chain, named=self._named.current())
        entry = _eager_entry(canonical(plan), _access_format(plan, extension, asset))
        await anyio.to_thread.run_sync(self._eager.add, asset_tag_of(asset), entry)

    # ── the render path ──────────────────────────────────────────────────────────────────────
    async def _render(
        self,
        asset: AssetRecord,
        plan: Plan,
        canonical_text: str,
        fmt_key: str,
        accept: str,
        default_format: Format | None,
        *,
        checked: bool = False,
        client: Client | None = None,
        source: bytes | None = None,
        hints: ClientHints = NO_HINTS,
    ) -> Served:
        """From cache, or rendered once (single flight across processes) and stored.
        `checked`: the caller already missed the cache for this plan without layers.
        `source`: the bytes to start from when they are not the asset's original (fetched)."""
        # layer assets (404 if missing) and their versions, part of the key; remote layers
        fetch = self._fetched.get if self._fetched is not None else None
        layers = await resolve_layers(self._stat, asset.cloud, plan, fetch)
        key = key_of(asset, canonical_text, fmt_key, layers)
        if not (checked and not layers):
            hit = await anyio.to_thread.run_sync(self._derived.get, key)
            if hit is not None:
                return _served(hit, "HIT")
        # the stored sizes against today's source limits (an original stored before a limit was
        # lowered), then what the render would cost: before a matte job or a slot
        pages = int(asset.meta.get("pages", 1))  # frames of an animation (since uploads record it)
        engine.check_dimensions(
            asset.width, asset.height, pages, max_pixels=self._max_pixels, max_side=self._max_side
        )
        for width, height in layers.sizes.values():
            engine.check_dimensions(
                width, height, max_pixels=self._max_pixels, max_side=self._max_side
            )
        check_cost(
            plan,
            asset.width,
            asset.height,
            budget=self._budget,
            max_canvas=self._max_canvas,
            source_format="png" if plan.removal is not None else asset.format,
            layer_sizes=layers.sizes,
            # an animation renders each frame (a cut-out is of the first frame only)
            frames=1
            if plan.removal is not None or pages == 1
            else engine.frames_rendered(
                pages, asset.format, plan.output.format or default_format, plan.output
            ),
            hints=hints,
        )

        extra: dict[str, str] = {}
        fetched_body = source  # not an original (the `fetch` type): its own bytes
        if plan.removal is not None and source is not None:
            if self._mattes_now is None:
                raise ServiceUnavailable("Background removal of fetched images is not set up")
            source, extra = await self._mattes_now(asset, plan.removal, source)
            render_plan = plan.after_removal()
        elif plan.removal is not None:
            source, extra = await self._mattes(asset, plan.removal)
            render_plan = plan.after_removal()
        else:
            if source is None:
                source = await anyio.to_thread.run_sync(
                    lambda: self._originals.read(
                        asset.cloud, asset.public_id, version=asset.version
                    )
                )
            render_plan = plan
        load_asset = layers.loader(self._originals)
        # faces: found once per content (cached), before a slot; the render only reads them
        explicit, hint = face_steps(render_plan)
        hint = hint and plan.removal is None  # a cut-out's g_auto goes for its subject
        faces = None
        # (a fetched source's faces are found in its bytes, cached by content like an original's)
        if self._faces is not None and (explicit or hint):
            faces = await self._faces(asset, explicit, fetched_body)

        def run(stop: engine.RenderStop) -> engine.Rendered:
            # the timer kills libvips work under way; the render checks between steps too
            timer = threading.Timer(self._timeout, stop.stop, args=("timeout",))
            timer.daemon = True
            timer.start()
            t0 = time.perf_counter()
            try:
                return engine.render(
                    source,
                    render_plan,
                    accept=accept,
                    default_format=default_format,
                    max_pixels=self._max_pixels,
                    max_side=self._max_side,
                    load_asset=load_asset,
                    stop=stop,
                    hints=hints,
                    faces=faces,
                )
            finally:
                timer.cancel()
                metrics.RENDER_SECONDS.observe(time.perf_counter() - t0)

        async def pixels(wanted: _Wanted) -> engine.Rendered:
            """The render itself, in this client's slot, then one of the render threads."""
            address = client.address if client is not None else None
            slot = self._clients.slot(address) if address is not None else _nothing()
            async with slot, self._render_limiter:
                stop = engine.RenderStop(deadline=time.monotonic() + self._timeout)
                wanted.stop = stop
                if wanted.abandoned:
                    stop.stop("abandoned")
                try:
                    return await anyio.to_thread.run_sync(run, stop)
                except engine.RenderStopped as exc:
                    if exc.reason != "timeout":
                        raise
                    raise ServiceUnavailable(
                        f"Rendering took longer than {self._timeout:g} s and was stopped; "
                        "retry later",
                        retry_after=max(1, round(self._timeout / 2)),
                    ) from None

        if PREVIEW_HEADER in extra:
            # a preview cut-out (ALPHACDN_MATTE_PREVIEW): rendered for this request alone and
            # never stored; once the answer is sent, the URL's real render is made and stored
            # when its matte is ready, so the next view is a hit
            result = await pixels(_Wanted())
            removal = plan.removal
            ready = self._matte_ready

            async def follow_up() -> None:
                if ready is None or removal is None:
                    return
                if not await ready(asset, removal, _PREVIEW_FOLLOW_UP):
                    return
                with contextlib.suppress(CdnError):
                    await self._render(asset, plan, canonical_text, fmt_key, accept, default_format)

            return Served(
                body=result.body,
                content_type=result.content_type,
                etag='"preview-' + hashlib.sha256(result.body).hexdigest()[:24] + '"',
                extension=result.format.value,
                negotiated=result.negotiated,
                cache_status="PREVIEW",
                extra_headers=extra,
                cache_control="no-store",
                after=follow_up,
            )

        async def store(result: engine.Rendered) -> Entry:
            self.renders += 1
            metrics.RENDERS.inc()
            meta: dict[str, Any] = {
                "content_type": result.content_type,
                "etag": '"' + hashlib.sha256(result.body).hexdigest()[:32] + '"',
                "extension": result.format.value,
                "negotiated": result.negotiated,
                "width": result.width,
                "height": result.height,
                "headers": extra,
            }
            tag = asset_tag_of(asset)
            await anyio.to_thread.run_sync(
                lambda: self._derived.put(key, result.body, meta, tag=tag)
            )
            return Entry(result.body, meta)

        for attempt in range(_ATTEMPTS):
            try:
                return await self._wait_for(key, client, pixels, store)
            except engine.RenderStopped:
                # stopped for clients gone: we are still here, so it is wanted after all
                if attempt == _ATTEMPTS - 1:
                    raise ServiceUnavailable("Render interrupted; retry", retry_after=1) from None
            except ClientBusy as exc:
                if client is not None and exc.address == client.address:
                    raise
                # the leader's client was over its limit, not ours: lead ourselves
                if attempt == _ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    async def _wait_for(
        self,
        key: str,
        client: Client | None,
        pixels: Callable[[_Wanted], Awaitable[engine.Rendered]],
        store: Callable[[engine.Rendered], Awaitable[Entry]],
    ) -> Served:
        """The single flight of `key`, counted among the clients that want it: when this
        client leaves, it stops waiting; when the last one leaves, the render stops too."""
        wanted = self._wanted.get(key)
        if wanted is None or wanted.abandoned:
            wanted = self._wanted[key] = _Wanted()
        me = _Waiter(wanted)
        wanted.waiters += 1
        produced: list[bool] = []

        async def produce() -> Entry:
            me.leading = True
            wanted.leader = me
            result = await pixels(wanted)
            produced.append(True)
            return await store(result)

        def check() -> Entry | None:
            return self._derived.get(key)

        try:
            with anyio.CancelScope() as me.scope:
                entry = await until_gone(
                    client, lambda: self._flight.run(key, produce, check), me.leave
                )
                return _served(entry, "MISS" if produced else "HIT")
            raise ClientGone("Client closed the connection")
        except engine.RenderStopped:
            if me.gone:
                raise ClientGone("Client closed the connection") from None
            raise
        finally:
            me.leave(finished=True)
            if wanted.waiters == 0 and self._wanted.get(key) is wanted:
                del self._wanted[key]

    async def _stat(self, cloud: str, public_id: str) -> AssetRecord | None:
        try:
            return await anyio.to_thread.run_sync(self._originals.stat, cloud, public_id)
        except UnsafePublicId as exc:
            raise InvalidRequest(f"Invalid public_id: {exc}") from None


@dataclass(slots=True)
class _Wanted:
    """The clients of this process waiting for one key's render, and how to stop it."""

    waiters: int = 0
    abandoned: bool = False
    leader: _Waiter | None = None
    stop: engine.RenderStop | None = None

    def abandon(self) -> None:
        """Nobody waits any more: drop the leader's wait for a slot, or stop its render."""
        self.abandoned = True
        if self.stop is not None:
            self.stop.stop("abandoned")
        if self.leader is not None and self.leader.scope is not None:
            self.leader.scope.cancel()


@dataclass(slots=True)
class _Waiter:
    """One request waiting for a key: it leads the render, or follows the one who does."""

    wanted: _Wanted
    leading: bool = False
    counted: bool = True
    gone: bool = False
    scope: anyio.CancelScope | None = None

    def leave(self, *, finished: bool = False) -> None:
        """This request no longer waits: it finished, or its client disconnected."""
        if not self.counted:
            return
        self.counted = False
        self.gone = not finished
        self.wanted.waiters -= 1
        if finished:
            return
        if not self.leading and self.scope is not None:
            self.scope.cancel()  # a follower just stops waiting; the render goes on for others
        if self.wanted.waiters == 0:
            self.wanted.abandon()


@asynccontextmanager
async def _nothing() -> AsyncIterator[None]:
    yield


def _plain(req: DeliveryRequest) -> bool:
    """No transformation and no output parameter: at most an extension."""
    return not req.plan.components and req.plan.output == Output()


def _format_of(asset: AssetRecord) -> str:
    """The original's format as a delivery extension names it (`jpeg` → `jpg`)."""
    return EXTENSIONS.get(asset.format.lower(), asset.format.lower())


def _access_format(plan: Plan, extension: str | None, asset: AssetRecord) -> str:
    """The format a URL delivers, as strict mode compares it: `f_`, else the extension, else
    the original's (`auto` for f_auto, whatever it negotiates)."""
    if plan.output.format is not None:
        return plan.output.format.value
    return EXTENSIONS.get(extension.lower(), extension) if extension else _format_of(asset)


def _eager_entry(canonical_text: str, fmt: str) -> str:
    """An eager allow-list entry: `<canonical chain>/<format>`, as the SDK spells eager."""
    return f"{canonical_text}/{fmt}"


def asset_tag_of(asset: AssetRecord) -> str:
    """The invalidation tag of an asset's derived files and mattes."""
    return asset_tag(asset.cloud, asset.public_id)


__all__ = [
    "ClientGone",
    "Delivery",
    "FaceSource",
    "MatteNow",
    "MatteReady",
    "MatteSource",
    "Served",
    "accept_class",
    "key_of",
    "normalised_accept",
    "requested_format",
]
