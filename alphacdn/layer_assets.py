"""The other assets a plan's layers (`l_<id>`, `u_<id>`) load: found before rendering, versioned
into the derived key, and read for the engine through a `load_asset(public_id) -> bytes`.

Resolving them first means a missing layer is a 404 naming it before any matte job starts, and
re-uploading a layer asset (a new version) changes the key of every composite that uses it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from alphacdn.access import asset_type
from alphacdn.cache import AssetNotFound, AssetRecord, OriginalsStore
from alphacdn.transform import Plan
from alphacdn.transform.errors import NotFound
from alphacdn.transform.layers import layer_public_ids

Stat = Callable[[str, str], Awaitable[AssetRecord | None]]


@dataclass(frozen=True, slots=True)
class LayerAssets:
    """The current version of each layer asset of one plan (empty for plans without layers)."""

    cloud: str
    versions: dict[str, int] = field(default_factory=dict)
    #: each layer asset's upright size (width, height), for the cost estimate
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)

    def key_suffix(self) -> str:
        """Appended to the canonical text in the derived key; "" without image layers.

        Starts with a newline, which canonical text never holds (text layers escape it)."""
        if not self.versions:
            return ""
        return "\n" + json.dumps(sorted(self.versions.items()), separators=(",", ":"))

    def loader(self, originals: OriginalsStore) -> Callable[[str], bytes]:
        """`load_asset` for the engine: the bytes of exactly the versions in the key."""

        def load_asset(public_id: str) -> bytes:
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


async def resolve_layers(stat: Stat, cloud: str, plan: Plan) -> LayerAssets:
    """Stat every layer asset of the plan; 404 naming the first missing one."""
    ids = layer_public_ids(plan)
    if not ids:
        return NO_LAYERS
    versions: dict[str, int] = {}
    sizes: dict[str, tuple[int, int]] = {}
    for public_id in ids:
        record = await stat(cloud, public_id)
        # `l_<id>` names a public asset: a private or authenticated one is not found
        if record is None or asset_type(record) != "upload":
            raise NotFound(f"Layer not found - {public_id}")
        versions[public_id] = record.version
        sizes[public_id] = (record.width, record.height)
    return LayerAssets(cloud, versions, sizes)


__all__ = ["NO_LAYERS", "LayerAssets", "resolve_layers"]
