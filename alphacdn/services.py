"""The app's backends and the one path from a Plan to served bytes.

`Services` is built once by `create_app(settings)` and hung on `app.state.services`. It owns the
originals store, the derived cache, named transformations, the render limiter and (once the
matte runner is attached) background removal. Routes stay thin: they parse and call in here.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.to_thread
import diskcache
from starlette.requests import Request
from starlette.routing import BaseRoute

from alphacdn import engine
from alphacdn.cache import (
    AssetRecord,
    Claims,
    DerivedCache,
    Entry,
    LocalOriginals,
    SingleFlight,
    UnsafePublicId,
    asset_tag,
    derived_key,
)
from alphacdn.layer_assets import resolve_layers
from alphacdn.named import NamedTransformations
from alphacdn.settings import Settings
from alphacdn.transform import BackgroundRemoval, DeliveryRequest, Plan, canonical, parse_chain
from alphacdn.transform.errors import InvalidRequest, ServiceUnavailable
from alphacdn.transform.layers import layer_public_ids
from alphacdn.transform.values import Format

log = logging.getLogger("alphacdn")

#: runs after an upload is stored (eager, background_removal, notification_url …) and returns
#: fields to merge into the upload response: `(request, record, params) -> dict`
UploadHook = Callable[[Request, AssetRecord, dict[str, Any]], Awaitable[dict[str, Any]]]

#: supplies the source bytes a plan starts from when it begins with background removal:
#: `(asset, removal) -> (cut-out PNG bytes, extra response headers)`; raises MatteInProgress (423)
MatteSource = Callable[[AssetRecord, BackgroundRemoval], Awaitable[tuple[bytes, dict[str, str]]]]


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


def _served(entry: Entry, status: str) -> Served:
    meta = entry.meta
    return Served(
        body=entry.body,
        content_type=str(meta["content_type"]),
        etag=str(meta["etag"]),
        extension=str(meta["extension"]),
        negotiated=bool(meta["negotiated"]),
        cache_status=status,
        extra_headers=dict(meta.get("headers", {})),
    )


class Services:
    """Backends + the render path. One per app (per worker process)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        c = settings.cache
        self.originals = LocalOriginals(c.originals_dir)
        self.derived = DerivedCache(c.derived_dir, size_limit=c.size_limit_bytes)
        self.named = NamedTransformations(
            c.state_dir / "named.json", settings.engine.named_transformations
        )
        self.flight = SingleFlight(Claims(c.state_dir / "flight"))
        self.render_limiter = anyio.CapacityLimiter(settings.engine.render_threads)
        self.matte_source: MatteSource | None = None
        #: chains declared eager at upload, per asset: allowed in strict mode (shared by workers)
        self.eager_chains = diskcache.Index(str(c.state_dir / "eager"))
        self.upload_hooks: list[UploadHook] = []
        #: routes contributed by attached surfaces (the remove.bg-style API …)
        self.extra_routes: list[BaseRoute] = []
        #: async context managers entered for the app's lifetime (job runners …)
        self.startup: list[Callable[[], contextlib.AbstractAsyncContextManager[Any]]] = []
        self.renders = 0
        #: the matte runner (and its job runner), attached by create_app
        self.mattes: Any = None

    # ── lookups ──────────────────────────────────────────────────────────────────────────────
    async def stat(self, cloud: str, public_id: str) -> AssetRecord | None:
        """The asset's record, None if absent; 400 for a public_id that could escape the store."""
        try:
            return await anyio.to_thread.run_sync(self.originals.stat, cloud, public_id)
        except UnsafePublicId as exc:
            raise InvalidRequest(f"Invalid public_id: {exc}") from None

    async def lookup(
        self, cloud: str, public_id: str, plan: Plan, canonical_text: str, fmt_key: str
    ) -> tuple[AssetRecord | None, Served | None]:
        """The asset and, when cached, its derived file: one thread hop for the hot path."""

        def both() -> tuple[AssetRecord | None, Entry | None]:
            asset = self.originals.stat(cloud, public_id)
            if asset is None or layer_public_ids(plan):  # layer versions join the key later
                return asset, None
            key = derived_key(asset.cloud, asset.public_id, asset.version, canonical_text, fmt_key)
            return asset, self.derived.get(key)

        try:
            asset, hit = await anyio.to_thread.run_sync(both)
        except UnsafePublicId as exc:
            raise InvalidRequest(f"Invalid public_id: {exc}") from None
        return asset, (_served(hit, "HIT") if hit is not None else None)

    def named_only(self, req: DeliveryRequest) -> bool:
        """True when every component of the URL is a named transformation (`t_…`)."""
        return all(
            seg.startswith("t_") and "," not in seg for seg in req.transformation.split("/") if seg
        )

    def is_eager(self, req: DeliveryRequest) -> bool:
        """True when this URL's chain was declared as an eager transformation of the asset."""
        chains = self.eager_chains.get(asset_tag(req.cloud, req.public_id), ())
        return canonical(req.plan) in chains

    async def remember_eager(self, asset: AssetRecord, chain: str) -> None:
        """Allow `chain` (compared in canonical form) for this asset in strict mode."""
        tag = asset_tag(asset.cloud, asset.public_id)
        canonical_chain = canonical(parse_chain(chain, named=self.named.table()))

        def add() -> None:
            with self.eager_chains.transact():
                chains = set(self.eager_chains.get(tag, ()))
                chains.add(canonical_chain)
                self.eager_chains[tag] = sorted(chains)

        await anyio.to_thread.run_sync(add)

    async def invalidate(self, cloud: str, public_id: str) -> int:
        """Drop every derived file and matte of an asset."""
        tag = asset_tag(cloud, public_id)
        return await anyio.to_thread.run_sync(self.derived.invalidate, tag)

    async def delete(self, cloud: str, public_id: str) -> bool:
        """Delete an original and invalidate what was derived from it."""
        found = await anyio.to_thread.run_sync(self.originals.delete, cloud, public_id)
        await self.invalidate(cloud, public_id)
        return found

    async def fetch_remote(self, url: str) -> bytes:
        """Fetch a remote image for upload (size-capped; private networks per settings)."""
        from alphacdn.net import FetchError, fetch_url

        http = self.settings.http
        try:
            return await fetch_url(
                url,
                max_bytes=http.max_upload_bytes,
                timeout=30.0,
                allow_private=http.allow_private_urls,
            )
        except FetchError as exc:
            raise InvalidRequest(f"Remote file could not be fetched: {exc}") from None

    async def after_upload(
        self, request: Request, record: AssetRecord, params: dict[str, Any]
    ) -> dict[str, Any]:
        """Run the upload hooks; merge what they add to the response."""
        extra: dict[str, Any] = {}
        for hook in self.upload_hooks:
            extra.update(await hook(request, record, params))
        return extra

    # ── the render path ──────────────────────────────────────────────────────────────────────
    async def rendered(
        self,
        *,
        asset: AssetRecord,
        plan: Plan,
        canonical_text: str,
        fmt_key: str,
        accept: str,
        default_format: Format | None,
        checked: bool = False,
    ) -> Served:
        """The derived file for (asset version, plan, format): from cache, or rendered once.
        `checked`: the caller's `lookup` already missed the cache for this plan."""
        # issue 5: layer assets (404 if missing) and their versions, part of the key
        layers = await resolve_layers(self.stat, asset.cloud, plan)
        canonical_text += layers.key_suffix()
        key = derived_key(asset.cloud, asset.public_id, asset.version, canonical_text, fmt_key)
        if not (checked and not layers.versions):
            hit = await anyio.to_thread.run_sync(self.derived.get, key)
            if hit is not None:
                return _served(hit, "HIT")

        extra: dict[str, str] = {}
        if plan.removal is not None:
            if self.matte_source is None:
                raise ServiceUnavailable("Background removal is not available on this server")
            source, extra = await self.matte_source(asset, plan.removal)
            render_plan = plan.after_removal()
            source_format: Format | None = default_format
        else:
            source = await anyio.to_thread.run_sync(
                lambda: self.originals.read(asset.cloud, asset.public_id, version=asset.version)
            )
            render_plan = plan
            source_format = default_format

        produced: list[bool] = []

        async def produce() -> Entry:
            result = await anyio.to_thread.run_sync(
                lambda: engine.render(
                    source,
                    render_plan,
                    accept=accept,
                    default_format=source_format,
                    max_pixels=self.settings.engine.max_source_pixels,
                    load_asset=layers.loader(self.originals),
                ),
                limiter=self.render_limiter,
            )
            self.renders += 1
            produced.append(True)
            meta: dict[str, Any] = {
                "content_type": result.content_type,
                "etag": '"' + hashlib.sha256(result.body).hexdigest()[:32] + '"',
                "extension": result.format.value,
                "negotiated": result.negotiated,
                "width": result.width,
                "height": result.height,
                "headers": extra,
            }
            tag = asset_tag(asset.cloud, asset.public_id)
            await anyio.to_thread.run_sync(
                lambda: self.derived.put(key, result.body, meta, tag=tag)
            )
            return Entry(result.body, meta)

        def check() -> Entry | None:
            return self.derived.get(key)

        entry = await self.flight.run(key, produce, check)
        return _served(entry, "MISS" if produced else "HIT")


__all__ = ["MatteSource", "Served", "Services"]
