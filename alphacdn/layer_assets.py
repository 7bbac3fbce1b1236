"""The other assets a plan's layers (`l_<id>`, `u_<id>`, `l_fetch:`) load: found before
rendering, versioned into the derived key, and read for the engine through a
`load_asset(key) -> bytes` (key: the public_id, or `fetch:<url>` for a remote layer).

Resolving them first means a missing layer is a 404 naming it before any matte job starts, and
re-uploading a layer asset (a new version) changes the key of every composite that uses it.
A remote layer is fetched first (`FetchedSources`, as the `fetch` delivery type is): its
content's md5 joins the key, so a changed remote image changes the composite's key too.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from alphacdn.access import asset_type
from alphacdn.cache import AssetNotFound, AssetRecord, OriginalsStore
from alphacdn.fetched import FetchedSource
from alphacdn.transform import Plan
from alphacdn.transform.errors import Forbidden, NotFound
from alphacdn.transform.layers import layer_public_ids, layer_remote_urls
from alphacdn.transform.remote import Remote

Stat = Callable[[str, str], Awaitable[AssetRecord | None]]
#: a remote layer's source (`FetchedSources.get`)
Fetch = Callable[[str], Awaitable[FetchedSource]]


@dataclass(frozen=True, slots=True)
class LayerAssets:
    """The current version of each layer asset of one plan (empty for plans without layers)."""

    cloud: str
    versions: dict[str, int] = field(default_factory=dict)
    #: each layer asset's upright size (width, height), for the cost estimate (remote layers
    #: under `fetch:<url>`)
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: the remote layers' sources, by `fetch:<url>`
    fetched: Mapping[str, FetchedSource] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.versions or self.fetched)

    def key_suffix(self) -> str:
        """Appended to the canonical text in the derived key; "" without image layers.

        Starts with a newline, which canonical text never holds (text layers escape it)."""
        if not self:
            return ""
        text = "\n" + json.dumps(sorted(self.versions.items()), separators=(",", ":"))
        if self.fetched:  # what each remote layer's bytes are now
            contents = sorted((k, f.content) for k, f in self.fetched.items())
            text += "\n" + json.dumps(contents, separators=(",", ":"))
        return text

    def loader(self, originals: OriginalsStore) -> Callable[[str], bytes]:
        """`load_asset` for the engine: the bytes of exactly the versions in the key."""

        def load_asset(public_id: str) -> bytes:
            remote = self.fetched.get(public_id)
            if remote is not None:
                return remote.body
            version = self.versions.get(public_id)
            if version is None:
                raise NotFound(f"Layer not found - {public_id}")
            try:
                return originals.read(self.cloud, public_id, version=version)
            except AssetNotFound:
                raise NotFound(f"Layer not found - {public_id}") from None

        return load_asset


#: the layers of a plan that loads no other asset
NO_LAYERS = LayerAssets("")


async def resolve_layers(
    stat: Stat, cloud: str, plan: Plan, fetch: Fetch | None = None
) -> LayerAssets:
    """Stat every layer asset of the plan (404 naming the first missing one), and fetch every
    remote layer (`fetch`; without one a remote layer is a 403: fetch is off)."""
    ids = layer_public_ids(plan)
    urls = layer_remote_urls(plan)
    if not ids and not urls:
        return NO_LAYERS
    fetched: dict[str, FetchedSource] = {}
    for url in urls:
        if fetch is None:
            raise Forbidden("Fetch is disabled on this server (l_fetch: / u_fetch: layers)")
        fetched[Remote(url).key] = await fetch(url)
    versions: dict[str, int] = {}
    sizes: dict[str, tuple[int, int]] = {}
    for public_id in ids:
        record = await stat(cloud, public_id)
        # `l_<id>` names a public asset: a private or authenticated one is not found
        if record is None or asset_type(record) != "upload":
            raise NotFound(f"Layer not found - {public_id}")
        versions[public_id] = record.version
        sizes[public_id] = (record.width, record.height)
    for key, source in fetched.items():
        sizes[key] = (source.width, source.height)
    return LayerAssets(cloud, versions, sizes, fetched)


__all__ = ["NO_LAYERS", "LayerAssets", "resolve_layers"]
