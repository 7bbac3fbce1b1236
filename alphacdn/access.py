"""Delivery types of stored originals: `upload` (public), `private` and `authenticated`.

An asset is uploaded with `type=private|authenticated` (the SDK's `type=` option, signed like
every upload param) and remembers it (`AssetRecord.meta["type"]`). Then:

- it is delivered only under its own type: `/<cloud>/image/<type>/s--SIG--/…/<public_id>`,
  and only with a valid signature (the SDK's `sign_url=True`): 401 without one, before any
  store is read; an `/upload/` URL of it, or a `/private/` URL of a public asset, is a 404;
- it cannot be used as a layer (`l_<id>` names an upload-type asset, as in Cloudinary);
- `GET /v1_1/<cloud>/image/download?…` (`cloudinary.utils.private_download_url`) serves its
  original with an API signature, optionally converted to `format`, as an attachment when asked.

Cloudinary also lets a `private` asset's transformed versions out unsigned; here every URL of a
private or authenticated asset needs the signature (stricter, and the same for both types).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from alphacdn.cache import AssetRecord
from alphacdn.transform.errors import InvalidRequest
from alphacdn.transform.signing import sign_url
from alphacdn.transform.url import STORED_TYPES, smart_escape

#: the delivery types that need a signed URL
SIGNED_TYPES = frozenset({"private", "authenticated"})


def asset_type(record: AssetRecord) -> str:
    """The delivery type an asset was uploaded as."""
    value = record.meta.get("type")
    return value if isinstance(value, str) and value in STORED_TYPES else "upload"


def upload_type(params: Mapping[str, Any]) -> str:
    """The `type` upload param, checked (400 naming it for anything but the stored types)."""
    value = str(params.get("type") or "upload")
    if value not in STORED_TYPES:
        raise InvalidRequest(
            f"Invalid value {value!r} for parameter type (upload, private or authenticated)"
        )
    return value


def asset_url(
    base: str,
    record: AssetRecord,
    *,
    chain: str = "",
    ext: str | None = None,
    secret: str | None = None,
) -> str:
    """A delivery URL of the asset under its own type (`chain` applied, delivered as `ext`,
    else its own format), signed with `secret` for a signed type, as the SDK signs it."""
    kind = asset_type(record)
    ext = ext or record.format
    signature = ""
    if kind in SIGNED_TYPES and secret is not None:
        source = smart_escape(record.public_id) + "." + ext
        signature = sign_url(f"{chain}/{source}" if chain else source, secret) + "/"
    middle = f"{chain}/" if chain else ""
    return (
        f"{base}/{record.cloud}/image/{kind}/{signature}{middle}v{record.version}/"
        f"{quote(record.public_id)}.{ext}"
    )


def original_url(base: str, record: AssetRecord, secret: str | None = None) -> str:
    """The asset's delivery URL as uploaded, signed (with `secret`) for a signed type."""
    return asset_url(base, record, secret=secret)


__all__ = ["SIGNED_TYPES", "STORED_TYPES", "asset_type", "original_url", "upload_type"]
