"""The upload and admin APIs' part (`Uploads`) and their shared pieces: bounded body reading,
the asset JSON shape."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from alphacdn.access import asset_type, original_url
from alphacdn.assets import Assets
from alphacdn.base_url import base_url
from alphacdn.bodies import BodyTooLarge, read_bounded, replaying
from alphacdn.cache import AssetRecord
from alphacdn.fetched import FetchedSources
from alphacdn.named import NamedTransformations
from alphacdn.net import FetchError, fetch_url
from alphacdn.presets import UploadPresets
from alphacdn.settings import HttpSettings
from alphacdn.transform.errors import InvalidRequest, PayloadTooLarge

#: runs after an upload is stored (eager, background_removal, notification_url …) and returns
#: fields to merge into the upload response: `(request, record, params) -> dict`
UploadHook = Callable[[Request, AssetRecord, dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class Uploads:
    """What the upload and admin routes work with: settings, the stores, the upload-time work."""

    http: HttpSettings
    #: an upload over this many pixels, or with a side over `max_source_side`, is refused
    #: (what delivery could not render anyway)
    max_source_pixels: int
    max_source_side: int
    assets: Assets
    named: NamedTransformations
    #: upload presets (`upload_preset`), the unsigned ones for browser uploads
    presets: UploadPresets
    #: upload-time work queued after the original is stored
    after_upload: UploadHook
    #: the fetch delivery type's sources (the admin API forgets fetched URLs)
    fetched: FetchedSources | None = None

    def base_url(self, request: Request) -> str:
        """Where the URLs in this server's answers point (never the request's Host header)."""
        return base_url(request, self.http.public_url)

    async def fetch_remote(self, url: str) -> bytes:
        """Fetch a remote image for upload (size-capped; private networks per settings)."""
        try:
            return await fetch_url(
                url,
                max_bytes=self.http.max_upload_bytes,
                timeout=30.0,
                allow_private=self.http.allow_private_urls,
            )
        except FetchError as exc:
            raise InvalidRequest(f"Remote file could not be fetched: {exc}") from None


async def read_body(request: Request, limit: int) -> tuple[bytes, Request]:
    """The upload body (at most `limit` bytes of file plus room for the other fields; 413
    beyond) and a request that replays it, so `form()` parses it from memory."""
    try:
        # multipart overhead: allow a little over the file limit for the other fields
        body = await read_bounded(request, limit + 64 * 1024)
    except BodyTooLarge as exc:
        size = f"is {exc.declared} bytes" if exc.declared is not None else "exceeds the limit"
        raise PayloadTooLarge(
            f"File size too large: request body {size}, maximum upload is {limit}"
        ) from None
    return body, replaying(request, body)


def delivery_url(base: str, record: AssetRecord, secret: str | None = None) -> str:
    """The asset's delivery URL under `base` (`alphacdn.base_url`, never the Host header);
    signed with `secret` for a private or authenticated asset (see `alphacdn.access`)."""
    return original_url(base, record, secret)


def asset_json(base: str, record: AssetRecord, secret: str | None = None) -> dict[str, Any]:
    """Cloudinary's resource JSON for an asset, its URLs under `base`."""
    url = delivery_url(base, record, secret)
    return {
        "asset_id": record.etag,
        "public_id": record.public_id,
        "version": record.version,
        "version_id": f"{record.version:x}",
        "signature": record.etag,
        "width": record.width,
        "height": record.height,
        "format": record.format,
        "resource_type": "image",
        "created_at": record.created_at,
        "tags": list(record.tags),
        "bytes": record.bytes,
        "type": asset_type(record),
        "etag": record.etag,
        "placeholder": False,
        "url": url,
        "secure_url": url,
        "original_filename": record.meta.get("original_filename", ""),
        **{k: v for k, v in record.meta.items() if k in ("info", "confidence", "pages")},
    }


__all__ = ["UploadHook", "Uploads", "asset_json", "delivery_url", "read_body"]
