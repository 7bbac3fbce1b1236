"""`POST /v1_1/<cloud>/image/upload` and `/destroy`: Cloudinary's upload API, as the SDK calls it.

Form fields (multipart or urlencoded): `file` (multipart file, data URI, base64, or a remote
URL when enabled), `public_id`, `folder`, `overwrite`, `tags`, `invalidate`, `api_key`,
`timestamp`, `signature` (`signature_algorithm`), `upload_preset` (an unsigned one
needs no signature: see `alphacdn.presets`), `allowed_formats`, plus the extension points `eager`,
`eager_async`, `eager_notification_url`, `notification_url`, `background_removal` handled by
upload hooks (see `alphacdn.uploads`).
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import time
from typing import Any

import anyio.to_thread
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from alphacdn import engine
from alphacdn.access import upload_type
from alphacdn.settings import HttpSettings
from alphacdn.transform import verify_api_signature
from alphacdn.transform.booleans import bool_param
from alphacdn.transform.errors import (
    InvalidImage,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedImage,
)
from alphacdn.uploads import Uploads, asset_json, read_body

#: a signed request older than this is refused, as Cloudinary does ("Stale request")
STALE_SECONDS = 3600
_DATA_URI = re.compile(r"^data:([\w/+.-]+)?(;[\w-]+=[^;,]*)*;base64,(.*)$", re.S)


async def _form(request: Request, limit: int) -> tuple[dict[str, Any], bytes | None]:
    """Read the (bounded) body; return the string params and the uploaded file's bytes if any."""
    # a data URI / base64 field carries the file 4/3 larger than its bytes
    _, replayed = await read_body(request, limit * 4 // 3 + 64 * 1024)
    try:
        form = await replayed.form(max_part_size=limit * 4 // 3 + 1024)
    except HTTPException as exc:  # starlette's multipart errors (field too large, bad framing)
        raise InvalidRequest(f"Malformed upload body: {exc.detail}") from None
    params: dict[str, Any] = {}
    file_bytes: bytes | None = None
    for key, value in form.multi_items():
        name = key[:-2] if key.endswith("[]") else key
        if isinstance(value, UploadFile):
            if name == "file":
                file_bytes = await value.read()
            continue
        if key.endswith("[]"):
            params.setdefault(name, []).append(value)
        else:
            params[name] = value
    await form.close()
    return params, file_bytes


def _authorized(uploads: Uploads, params: dict[str, Any]) -> dict[str, Any]:
    """A signed upload's parameters (its preset, if any, filling the rest), or an unsigned
    upload's through its unsigned preset; refused as Cloudinary refuses them otherwise."""
    name = str(params.get("upload_preset") or "")
    signed = "signature" in params or (bool(params.get("api_key")) and not name)
    if signed:
        check_signature(uploads.http, params)
    elif not name:
        raise InvalidRequest("Upload preset must be specified when using unsigned upload")
    if not name:
        return params
    preset = uploads.presets.get(name)
    if preset is None:
        raise InvalidRequest(f"Upload preset not found: {name[:100]}")
    if not signed and not preset.unsigned:
        raise InvalidRequest("Upload preset must be whitelisted for unsigned uploads")
    return preset.apply(params, signed=signed)


def _check_format(params: dict[str, Any], fmt: str) -> None:
    """`allowed_formats` (a call's or its preset's): 400 for a format not in the list."""
    allowed = params.get("allowed_formats")
    if not allowed:
        return
    names = allowed if isinstance(allowed, list) else str(allowed).split(",")
    same = {"jpeg": "jpg", "tiff": "tif", "heif": "heic"}
    wanted = {same.get(n.strip().lower(), n.strip().lower()) for n in names if n.strip()}
    if same.get(fmt.lower(), fmt.lower()) not in wanted:
        raise InvalidRequest(f"Image file format {fmt} not allowed")


def check_signature(http: HttpSettings, params: dict[str, Any]) -> None:
    """Verify `api_key`/`timestamp`/`signature` exactly as the SDK signs them."""
    key = params.get("api_key")
    if not key:
        raise Unauthorized("Must supply api_key")
    secret = http.api_keys.get(str(key))
    if secret is None:
        raise Unauthorized(f"Unknown API key {key}")
    if "signature" not in params:
        raise Unauthorized("Missing required parameter - signature")
    try:
        ts = int(params.get("timestamp", ""))
    except ValueError:
        raise Unauthorized("Missing required parameter - timestamp") from None
    if abs(time.time() - ts) > STALE_SECONDS:
        raise Unauthorized(f"Stale request - reported time is {ts} which is out of range")
    if not verify_api_signature(params, secret):
        raise Unauthorized("Invalid Signature. String to sign was not what we expected")


async def _file_data(uploads: Uploads, params: dict[str, Any], file_bytes: bytes | None) -> bytes:
    if file_bytes is not None:
        return file_bytes
    raw = params.get("file")
    if not raw:
        raise InvalidRequest("Missing required parameter - file")
    text = str(raw)
    m = _DATA_URI.match(text)
    if m:
        try:
            return base64.b64decode(m.group(3), validate=False)
        except (binascii.Error, ValueError):
            raise InvalidRequest("Invalid data URI in file") from None
    if text.startswith(("http://", "https://")):
        if not uploads.http.allow_remote_upload:
            raise InvalidRequest("Remote URL uploads are disabled (ALPHACDN_ALLOW_REMOTE_UPLOAD)")
        return await uploads.fetch_remote(text)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest("file must be a multipart file, a data URI, base64 or a URL") from None


def _verify(data: bytes, max_pixels: int, max_side: int) -> engine.SourceInfo:
    """Header check (format, size limits) then a cheap full decode (shrink-on-load), so a
    truncated or corrupt file is refused now rather than failing every later delivery."""
    try:
        info = engine.probe_checked(data, max_pixels=max_pixels, max_side=max_side)
        engine.load(data, max_pixels=max_pixels, max_side=max_side, target=(64, 64))
    except (UnsupportedImage, InvalidImage) as exc:
        raise InvalidRequest(f"Invalid image file: {exc.public}") from None
    return info


def _secret(http: HttpSettings, params: dict[str, Any]) -> str | None:
    """The secret of the request's (checked) API key: it signs a private asset's URL."""
    return http.api_keys.get(str(params.get("api_key")))


def _public_id(params: dict[str, Any]) -> str:
    pid = str(params.get("public_id") or "").strip().strip("/")
    if not pid:
        pid = secrets.token_urlsafe(15).replace("-", "a").replace("_", "b").lower()[:20]
    folder = str(params.get("folder") or "").strip().strip("/")
    return f"{folder}/{pid}" if folder else pid


async def upload(uploads: Uploads, request: Request) -> Response:
    """Store an original and answer Cloudinary's upload JSON."""
    http, assets = uploads.http, uploads.assets
    cloud = request.path_params["cloud"]
    if cloud not in http.clouds:
        raise NotFound(f"Unknown cloud name: {cloud}")
    params, file_bytes = await _form(request, http.max_upload_bytes)
    params = _authorized(uploads, params)
    data = await _file_data(uploads, params, file_bytes)
    if len(data) > http.max_upload_bytes:
        raise PayloadTooLarge(
            f"File size too large: {len(data)} bytes, maximum is {http.max_upload_bytes}"
        )
    info = await anyio.to_thread.run_sync(
        lambda: _verify(data, uploads.max_source_pixels, uploads.max_source_side)
    )
    _check_format(params, info.format)
    public_id = _public_id(params)
    kind = upload_type(params)
    tags = params.get("tags") or []
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split(",") if t.strip()]
    overwrite = bool_param("overwrite", params.get("overwrite", "true"))
    existing = await assets.stat(cloud, public_id)
    if existing is not None and not overwrite:
        body = asset_json(uploads.base_url(request), existing, _secret(http, params))
        body["existing"] = True
        return JSONResponse(body)
    meta = {
        "format": info.format,
        "width": info.width,
        "height": info.height,
        **({"pages": info.pages} if info.pages > 1 else {}),
        "tags": list(tags),
        "original_filename": params.get("filename", ""),
        **({"type": kind} if kind != "upload" else {}),
    }
    try:
        record = await anyio.to_thread.run_sync(
            lambda: assets.originals.put(cloud, public_id, data, meta)
        )
    except ValueError as exc:  # unsafe public_id
        raise InvalidRequest(f"Invalid public_id: {exc}") from None
    changed = existing is not None and existing.etag != record.etag
    if changed or bool_param("invalidate", params.get("invalidate", "false")):
        # same bytes again: derived keys move with the version anyway, and the content-keyed
        # matte stays valid, so keep it rather than run the model again
        await assets.invalidate(cloud, public_id)
    body = asset_json(uploads.base_url(request), record, _secret(http, params))
    body.update(await uploads.after_upload(request, record, params))
    return JSONResponse(body)


async def destroy(uploads: Uploads, request: Request) -> Response:
    """`uploader.destroy(public_id)`: delete the original and every derived file."""
    cloud = request.path_params["cloud"]
    params, _ = await _form(request, uploads.http.max_upload_bytes)
    check_signature(uploads.http, params)
    public_id = str(params.get("public_id") or "")
    if not public_id:
        raise InvalidRequest("Missing required parameter - public_id")
    try:
        found = await uploads.assets.delete(cloud, public_id)
    except ValueError as exc:
        raise InvalidRequest(f"Invalid public_id: {exc}") from None
    return JSONResponse({"result": "ok" if found else "not found"})


def routes(uploads: Uploads) -> list[BaseRoute]:
    """`/image/upload` and `/image/destroy` of the upload API, bound to `uploads`."""

    async def upload_endpoint(request: Request) -> Response:
        return await upload(uploads, request)

    async def destroy_endpoint(request: Request) -> Response:
        return await destroy(uploads, request)

    v = "/v1_1/{cloud}"
    return [
        Route(f"{v}/image/upload", upload_endpoint, methods=["POST"]),
        Route(f"{v}/image/destroy", destroy_endpoint, methods=["POST"]),
    ]


__all__ = ["check_signature", "destroy", "routes", "upload"]
