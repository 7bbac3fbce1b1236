"""The stores as the upload, admin and upload-job flows use them: async, one asset at a time."""

from __future__ import annotations

import anyio.to_thread

from alphacdn.cache import AssetRecord, DerivedStore, OriginalsStore, UnsafePublicId, asset_tag
from alphacdn.transform.errors import InvalidRequest


class Assets:
    """Originals plus what is derived from them: look up, invalidate, delete."""

    def __init__(self, originals: OriginalsStore, derived: DerivedStore) -> None:
        self.originals = originals
        self.derived = derived

    async def stat(self, cloud: str, public_id: str) -> AssetRecord | None:
        """The asset's record, None if absent; 400 for a public_id that could escape the store."""
        try:
            return await anyio.to_thread.run_sync(self.originals.stat, cloud, public_id)
        except UnsafePublicId as exc:
            raise InvalidRequest(f"Invalid public_id: {exc}") from None

    async def invalidate(self, cloud: str, public_id: str) -> int:
        """Drop every derived file and matte of an asset."""
        return await anyio.to_thread.run_sync(self.derived.invalidate, asset_tag(cloud, public_id))

    async def delete(self, cloud: str, public_id: str) -> bool:
        """Delete an original and invalidate what was derived from it."""
        found = await anyio.to_thread.run_sync(self.originals.delete, cloud, public_id)
        await self.invalidate(cloud, public_id)
        return found


__all__ = ["Assets"]
