"""Shared pieces of the upload and admin APIs: bounded body reading, the asset JSON shape."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from starlette.requests import Request

from alphacdn.transform.errors import PayloadTooLarge

if TYPE_CHECKING:
    from alphacdn.cache import AssetRecord
    from alphacdn.services import Services


async def read_body(request: Request, limit: int) -> bytes:
    """Read the request body, refusing more than `limit` bytes (checked before and while reading).

    The body is cached on the request, so `request.form()` afterwards parses it from memory.
    """
    declared = request.headers.get("content-length")
    # multipart overhead: allow a little over the file limit for the other fields
    hard = limit + 64 * 1024
    if declared is not None and declared.isdigit() and int(declared) > hard:
        raise PayloadTooLarge(
            f"File size too large: request body is {declared} bytes, maximum upload is {limit}"
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > hard:
            raise PayloadTooLarge(f"File size too large: request body exceeds {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    request._body = body  # starlette's own cache: stream()/form() replay it
    return body


def base_url(request: Request) -> str:
    """Where delivery URLs point: the host the client reached us on."""
    return str(request.base_url).rstrip("/")


def delivery_url(request: Request, services: Services, record: AssetRecord) -> str:
    return (
        f"{base_url(request)}/{record.cloud}/image/upload/v{record.version}/"
        f"{quote(record.public_id)}.{record.format}"
    )


def asset_json(request: Request, services: Services, record: AssetRecord) -> dict[str, Any]:
    """Cloudinary's resource JSON for an asset."""
    url = delivery_url(request, services, record)
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
        "type": "upload",
        "etag": record.etag,
        "placeholder": False,
        "url": url,
        "secure_url": url,
        "original_filename": record.meta.get("original_filename", ""),
        **{k: v for k, v in record.meta.items() if k in ("info", "confidence")},
    }


__all__ = ["asset_json", "base_url", "delivery_url", "read_body"]
