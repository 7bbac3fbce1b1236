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

The route (`routes/delivery.py`) turns a `Served` into HTTP; eager work renders through
`render()`, the same path a miss takes.

A render is stopped, or its wait for a slot dropped, when every client that asked for it in
this process has disconnected; a client that leaves while others still wait for the same key
only stops waiting itself. Workers in other processes waiting on the same key take over (the
single flight's claim is released).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import anyio
import anyio.to_thread

from alphacdn import engine, metrics
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
from alphacdn.layer_assets import NO_LAYERS, LayerAssets, resolve_layers
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
from alphacdn.transform.errors import (
    CdnError,
    InvalidRequest,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
)
from alphacdn.transform.layers import layer_public_ids
from alphacdn.transform.named import is_named_only
from alphacdn.transform.plan import Output
from alphacdn.transform.url import EXTENSIONS
from alphacdn.transform.values import Flag, Format

#: supplies the source bytes a plan starts from when it begins with background removal:
#: `(asset, removal) -> (cut-out PNG bytes, extra response headers)`; raises MatteInProgress
#: (423)
MatteSource = Callable[[AssetRecord, BackgroundRemoval], Awaitable[tuple[bytes, dict[str, str]]]]

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


def accept_class(accept: str) -> str:
    """The part of `Accept` that f_auto depends on: one cache entry per class, not per header.

    Read by the engine's own negotiation (which honours `q=0`), and the render is given the
    class's normalised header (`normalised_accept`), so the key and the bytes always agree."""
    best = engine.negotiate_format(accept, has_alpha=False)
    return {Format.AVIF: "avif", Format.WEBP: "webp"}.get(best, "plain")


def normalised_accept(accept: str) -> str:
    """The one `Accept` value that stands for this header's class."""
    return {"avif": "image/avif", "webp": "image/webp"}.get(accept_class(accept), "")


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
    """`fl_attachment`'s file name: the public_id's last part with the served extension."""
    if Flag.ATTACHMENT not in req.plan.output.flags:
        return None
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
    ) -> None:
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
    async def serve(self, path: str, accept_header: str, client: Client | None = None) -> Served:
        """The derived file for a (percent-decoded) delivery path and `Accept` header; a cold
        render counts against `client`'s slots and stops when every client waiting is gone."""
        p = self._parse(path)
        req = p.req
        if req.cloud not in self._clouds:
            raise NotFound(f"Unknown cloud name: {req.cloud}")
        accept = self._accept(accept_header)
        default_format, fmt_key = requested_format(req, accept)
        signed = self._signature(req)
        if signed is False:  # before any store: the same answer whether the asset exists or not
            raise Unauthorized(f"Invalid signature {req.signature} for {req.signed_text}")
        guarded = self._guarded(p, signed is True)

        def look() -> tuple[AssetRecord | None, Entry | None, bool]:
            # the hot path's one thread hop: everything a hit (and the access check) needs
            asset = self._originals.stat(req.cloud, req.public_id)
            if asset is None:
                return None, None, False
            allowed = not guarded or self._strict_allows(p, asset)
            if not allowed or p.layered:  # layer versions join the key: the render path's
                return asset, None, allowed
            hit = self._derived.get(key_of(asset, p.canonical, fmt_key, NO_LAYERS))
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
            return _served(hit, "HIT", cache_control, req)
        served = await self._render(
            asset, req.plan, p.canonical, fmt_key, accept, default_format, checked=True,
            client=client,
        )  # fmt: skip
        return replace(
            served, cache_control=cache_control, download_name=_download_name(req, served.extension)
        )

    def _parse(self, path: str) -> _Parsed:
        """`parse_url`, once per path: a URL without named transformations cannot change, one
        with them is parsed again when the table changed (it is re-read on change only)."""
        found = self._parsed.get(path)
        if found is not None and found.table is None:
            return found
        table = self._named.current()
        if found is not None and found.table is table:
            return found
        req = parse_url(path, named=table)
        plan = req.plan
        found = _Parsed(
            req,
            canonical(plan),
            bool(layer_public_ids(plan)),
            bool(plan.named) and is_named_only(req.transformation),
            table if plan.named else None,
        )
        if len(self._parsed) >= _PARSED_MAX:
            del self._parsed[next(iter(self._parsed))]  # the oldest
        self._parsed[path] = found
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
        """The derived file of `plan` for `asset` (no `Accept`): from cache, or rendered once."""
        return await self._render(asset, plan, canonical(plan), fmt_key, "", default_format)

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
    ) -> Served:
        """From cache, or rendered once (single flight across processes) and stored.
        `checked`: the caller already missed the cache for this plan without layers."""
        # layer assets (404 if missing) and their versions, part of the key
        layers = await resolve_layers(self._stat, asset.cloud, plan)
        key = key_of(asset, canonical_text, fmt_key, layers)
        if not (checked and not layers.versions):
            hit = await anyio.to_thread.run_sync(self._derived.get, key)
            if hit is not None:
                return _served(hit, "HIT")
        # the stored sizes against today's source limits (an original stored before a limit was
        # lowered), then what the render would cost: before a matte job or a slot
        engine.check_dimensions(
            asset.width, asset.height, max_pixels=self._max_pixels, max_side=self._max_side
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
        )

        extra: dict[str, str] = {}
        if plan.removal is not None:
            source, extra = await self._mattes(asset, plan.removal)
            render_plan = plan.after_removal()
        else:
            source = await anyio.to_thread.run_sync(
                lambda: self._originals.read(asset.cloud, asset.public_id, version=asset.version)
            )
            render_plan = plan
        load_asset = layers.loader(self._originals)

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
    "MatteSource",
    "Served",
    "accept_class",
    "key_of",
    "normalised_accept",
    "requested_format",
]
