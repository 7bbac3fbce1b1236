"""`GET /v1_1/<cloud>/image/download?…`: an original for an API-signed link, as
`cloudinary.utils.private_download_url(public_id, format, …)` builds it (see `alphacdn.access`).

Query: `public_id`, `format` (deliver converted to it; empty: the original's bytes), `type`
(must be the asset's, when given), `attachment`, `expires_at`, `timestamp`, `api_key`,
`signature` (the upload API's signature over the other params). A link is good for an hour
after its `timestamp`, or until `expires_at` when that is given.
"""

from __future__ import annotations

import time
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from alphacdn import engine
from alphacdn.access import asset_type, upload_type
from alphacdn.delivery import Delivery
from alphacdn.responses import safe_text
from alphacdn.transform import verify_api_signature
from alphacdn.transform.booleans import bool_param
from alphacdn.transform.errors import InvalidRequest, NotFound, Unauthorized
from alphacdn.transform.plan import Output, Plan
from alphacdn.transform.url import EXTENSIONS
from alphacdn.transform.values import Format
from alphacdn.uploads import Uploads

#: a link without `expires_at` is good this long after its `timestamp`
LINK_SECONDS = 3600


def _check(uploads: Uploads, params: dict[str, Any]) -> None:
    """API key, signature, and the link's lifetime (401 for each, naming what is wrong)."""
    secret = uploads.http.api_keys.get(str(params.get("api_key") or ""))
    if secret is None:
        raise Unauthorized("Unknown or missing api_key")
    if not verify_api_signature(params, secret):
        raise Unauthorized("Invalid Signature. String to sign was not what we expected")
    now = time.time()
    try:
        if params.get("expires_at"):
            if now > int(params["expires_at"]):
                raise Unauthorized("The download link has expired (expires_at)")
        elif abs(now - int(params.get("timestamp", ""))) > LINK_SECONDS:
            raise Unauthorized("The download link has expired (timestamp older than an hour)")
    except ValueError:
        raise Unauthorized("timestamp and expires_at must be unix seconds") from None


async def download(uploads: Uploads, delivery: Delivery, request: Request) -> Response:
    """The original (or a format conversion of it) for a signed download link."""
    cloud = request.path_params["cloud"]
    if cloud not in uploads.http.clouds:
        raise NotFound(f"Unknown cloud name: {cloud}")
    params = dict(request.query_params)
    _check(uploads, params)
    public_id = str(params.get("public_id") or "")
    if not public_id:
        raise InvalidRequest("Missing required parameter - public_id")
    wanted_type = upload_type(params) if params.get("type") else None
    asset = await uploads.assets.stat(cloud, public_id)
    if asset is None or (wanted_type is not None and asset_type(asset) != wanted_type):
        raise NotFound(f"Resource not found - {public_id}")
    asked = str(params.get("format") or "").lower()
    if asked and asked not in EXTENSIONS:
        raise InvalidRequest(f"Invalid value {asked!r} for parameter format")
    original = EXTENSIONS.get(asset.format.lower(), asset.format.lower())
    if not asked or EXTENSIONS[asked] == original:
        body = await anyio.to_thread.run_sync(
            lambda: uploads.assets.originals.read(cloud, public_id, version=asset.version)
        )
        extension = original
        try:
            content_type = engine.CONTENT_TYPES[Format(original)]
        except (ValueError, KeyError):
            content_type = "application/octet-stream"
    else:
        fmt = Format(EXTENSIONS[asked])
        served = await delivery.render(
            asset, Plan(output=Output(format=fmt)), fmt_key=fmt.value, default_format=None
        )
        body, extension, content_type = served.body, served.extension, served.content_type
    headers = {"Cache-Control": "private, no-store", "Content-Type": content_type}
    if bool_param("attachment", params.get("attachment", "false")):
        name = public_id.rsplit("/", 1)[-1] + "." + extension
        headers["Content-Disposition"] = f'attachment; filename="{safe_text(name)}"'
    return Response(body, headers=headers)


def routes(uploads: Uploads, delivery: Delivery) -> list[BaseRoute]:
    """`/v1_1/<cloud>/image/download`, bound to the stores and the delivery flow."""

    async def endpoint(request: Request) -> Response:
        return await download(uploads, delivery, request)

    return [Route("/v1_1/{cloud}/image/download", endpoint, methods=["GET", "HEAD"])]


__all__ = ["LINK_SECONDS", "download", "routes"]
