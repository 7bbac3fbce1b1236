"""Admin API basics, as `cloudinary.api` calls them (HTTP basic auth with api_key:api_secret).

GET    /v1_1/<cloud>/resources/image[/upload]            list (prefix, max_results, next_cursor)
GET    /v1_1/<cloud>/resources/image/upload/<public_id>   one resource
DELETE /v1_1/<cloud>/resources/image/upload               delete (public_ids[]) + invalidate
GET    /v1_1/<cloud>/transformations                      list named transformations
POST   /v1_1/<cloud>/transformations                      create (name, transformation)
PUT    /v1_1/<cloud>/transformations                      update (transformation, unsafe_update)
DELETE /v1_1/<cloud>/transformations                      delete (transformation=<name>)
GET    /v1_1/<cloud>/upload_presets                       list upload presets
POST   /v1_1/<cloud>/upload_presets                       create (name, unsigned, settings)
GET    /v1_1/<cloud>/upload_presets/<name>                one preset
PUT    /v1_1/<cloud>/upload_presets/<name>                update (given settings replace)
DELETE /v1_1/<cloud>/upload_presets/<name>                delete
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from alphacdn.access import STORED_TYPES, asset_type
from alphacdn.jobs.upload_jobs import parse_removal_param
from alphacdn.presets import UploadPreset, preset_settings
from alphacdn.transform import parse_chain
from alphacdn.transform.errors import InvalidRequest, NotFound, Unauthorized
from alphacdn.transform.named import named_name, named_reference
from alphacdn.uploads import Uploads, asset_json, read_body


def _authorize(uploads: Uploads, request: Request) -> str:
    """Basic auth with a configured api_key:api_secret, for a configured cloud; the secret."""
    cloud = request.path_params["cloud"]
    if cloud not in uploads.http.clouds:
        raise NotFound(f"Unknown cloud name: {cloud}")
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        raise Unauthorized("Missing authentication (basic auth with api_key:api_secret)")
    try:
        key, _, secret = base64.b64decode(header[6:]).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized("Malformed Authorization header") from None
    expected = uploads.http.api_keys.get(key)
    if expected is None or not hmac.compare_digest(expected, secret):
        raise Unauthorized("Invalid api_key or api_secret")
    return secret


def _wanted_type(request: Request) -> str | None:
    """The delivery type a `/resources/image/<type>` path names (None: every type)."""
    kind = request.path_params.get("type")
    if kind is not None and kind not in STORED_TYPES:
        raise NotFound(f"Unknown resource type path: image/{kind}")
    return kind


async def _params(request: Request) -> dict[str, Any]:
    """Query parameters merged with a JSON or form body (the SDK sends JSON)."""
    params: dict[str, Any] = {}
    for k, v in request.query_params.multi_items():
        if k.endswith("[]"):
            params.setdefault(k[:-2], []).append(v)
        else:
            params[k] = v
    if request.method in ("POST", "PUT", "DELETE"):
        body, replayed = await read_body(request, 1024 * 1024)
        if body:
            ctype = request.headers.get("content-type", "")
            if "json" in ctype:
                try:
                    data = json.loads(body)
                except ValueError:
                    raise InvalidRequest("Request body is not valid JSON") from None
                if isinstance(data, dict):
                    params.update(data)
            else:
                form = await replayed.form()
                for name, value in form.multi_items():
                    if name.endswith("[]"):
                        params.setdefault(name[:-2], []).append(str(value))
                    else:
                        params[name] = str(value)
    return params


async def list_resources(uploads: Uploads, request: Request) -> Response:
    secret = _authorize(uploads, request)
    kind = _wanted_type(request)
    p = await _params(request)
    try:
        max_results = min(500, max(1, int(p.get("max_results", 10))))
    except ValueError:
        raise InvalidRequest("max_results must be an integer") from None
    records, cursor = await anyio.to_thread.run_sync(
        lambda: uploads.assets.originals.list(
            request.path_params["cloud"],
            prefix=str(p.get("prefix", "")),
            max_results=max_results,
            next_cursor=p.get("next_cursor"),
        )
    )
    base = uploads.base_url(request)
    # a page holds at most `max_results` assets of this type (fewer when other types are in it)
    kept = [r for r in records if kind is None or asset_type(r) == kind]
    body: dict[str, Any] = {"resources": [asset_json(base, r, secret) for r in kept]}
    if cursor:
        body["next_cursor"] = cursor
    return JSONResponse(body)


async def get_resource(uploads: Uploads, request: Request) -> Response:
    secret = _authorize(uploads, request)
    kind = _wanted_type(request)
    cloud, public_id = request.path_params["cloud"], request.path_params["public_id"]
    record = await uploads.assets.stat(cloud, public_id)
    if record is None or (kind is not None and asset_type(record) != kind):
        raise NotFound(f"Resource not found - {public_id}")
    return JSONResponse(asset_json(uploads.base_url(request), record, secret))


async def delete_resources(uploads: Uploads, request: Request) -> Response:
    _authorize(uploads, request)
    kind = _wanted_type(request)
    p = await _params(request)
    ids = p.get("public_ids") or []
    if isinstance(ids, str):
        ids = [ids]
    if not ids:
        raise InvalidRequest("Missing required parameter - public_ids")
    deleted: dict[str, str] = {}
    cloud = request.path_params["cloud"]
    for public_id in ids:
        try:
            record = await uploads.assets.stat(cloud, str(public_id))
        except InvalidRequest:  # an unsafe public_id names nothing
            record = None
        if record is None or (kind is not None and asset_type(record) != kind):
            deleted[str(public_id)] = "not_found"  # only assets of the path's type go
            continue
        try:
            found = await uploads.assets.delete(cloud, str(public_id))
        except ValueError:
            found = False
        deleted[str(public_id)] = "deleted" if found else "not_found"
    return JSONResponse({"deleted": deleted, "partial": False})


async def delete_fetched(uploads: Uploads, request: Request) -> Response:
    """`delete_resources(urls, type="fetch")`: forget fetched URLs, so the next request
    downloads each again (Cloudinary's way to refresh a fetched image before its TTL)."""
    _authorize(uploads, request)
    p = await _params(request)
    urls = p.get("public_ids") or []
    if isinstance(urls, str):
        urls = [urls]
    if not urls:
        raise InvalidRequest("Missing required parameter - public_ids")
    deleted: dict[str, str] = {}
    for url in urls:
        found = uploads.fetched is not None and await uploads.fetched.forget(str(url))
        deleted[str(url)] = "deleted" if found else "not_found"
    return JSONResponse({"deleted": deleted, "partial": False})


async def transformations(uploads: Uploads, request: Request) -> Response:
    _authorize(uploads, request)
    p = await _params(request)
    named = uploads.named
    table = named.table()
    if request.method == "GET":
        name = p.get("transformation")
        if name:
            name = named_name(str(name))
            if name not in table:
                raise NotFound(f"Transformation {name} not found")
            return JSONResponse(
                {
                    "name": named_reference(name),
                    "named": True,
                    "allowed_for_strict": True,
                    "info": [{"transformation": table[name]}],
                    "used": False,
                }
            )
        return JSONResponse(
            {
                "transformations": [
                    {
                        "name": named_reference(n),
                        "named": True,
                        "allowed_for_strict": True,
                        "used": False,
                    }
                    for n in sorted(table)
                ]
            }
        )
    if request.method == "DELETE":
        name = named_name(str(p.get("transformation", "")))
        if not await anyio.to_thread.run_sync(named.delete, name):
            raise NotFound(f"Transformation {name} not found")
        return JSONResponse({"message": "deleted"})
    # POST create / PUT update
    if request.method == "POST":
        name = str(p.get("name", ""))
        chain = str(p.get("transformation", ""))
    else:
        name = named_name(str(p.get("transformation", "")))
        chain = str(p.get("unsafe_update", "")) or table.get(name, "")
    if not name or not chain:
        raise InvalidRequest("Missing required parameters - name and transformation")
    parse_chain(chain, named=table)  # a bad definition is refused now, not at delivery time
    await anyio.to_thread.run_sync(named.set, name, chain)  # (Redis in a fleet: off the loop)
    return JSONResponse({"message": "created" if request.method == "POST" else "updated"})


#: what the SDK's `create_upload_preset` / `update_upload_preset` send besides settings
_NOT_SETTINGS = ("name", "timestamp", "live", "upload_preset", "api_key", "signature")


def _preset(uploads: Uploads, name: str, given: dict[str, Any]) -> UploadPreset:
    """A preset from an admin call's parameters: 400 naming a bad setting, an eager chain the
    grammar refuses, or a bad background_removal value."""
    try:
        unsigned, settings = preset_settings(
            {k: v for k, v in given.items() if k not in _NOT_SETTINGS}
        )
    except ValueError as exc:
        raise InvalidRequest(f"Invalid upload preset setting {exc}") from None
    table = uploads.named.table()
    for chain in str(settings.get("eager", "")).split("|"):
        if chain:
            parse_chain(chain.rsplit("/", 1)[0] if _has_format(chain) else chain, named=table)
    if settings.get("background_removal"):
        parse_removal_param(str(settings["background_removal"]))
    return UploadPreset(name, unsigned, settings)


def _has_format(chain: str) -> bool:
    return chain.rpartition("/")[2] in ("jpg", "jpeg", "png", "webp", "avif", "gif")


async def upload_presets(uploads: Uploads, request: Request) -> Response:
    """The upload presets: list, create; one preset: get, update, delete."""
    _authorize(uploads, request)
    p = await _params(request)
    presets = uploads.presets
    name = request.path_params.get("name")
    if name is None:
        if request.method == "GET":
            return JSONResponse({"presets": [x.json() for x in presets.all()]})
        if request.method != "POST":
            raise InvalidRequest(f"{request.method} needs an upload preset name in the path")
        new_name = str(p.get("name") or "") or secrets.token_hex(4)
        if presets.get(new_name) is not None:
            raise InvalidRequest(f"Upload preset {new_name} already exists")
        presets.set(_preset(uploads, new_name, p))
        return JSONResponse({"message": "created", "name": new_name})
    found = presets.get(name)
    if request.method == "DELETE":
        if not presets.delete(name):
            raise NotFound(
                f"Upload preset {name} not found"
                if found is None
                else f"Upload preset {name} is set in the config file; remove it there"
            )
        return JSONResponse({"message": "deleted"})
    if found is None:
        raise NotFound(f"Upload preset {name} not found")
    if request.method == "GET":
        return JSONResponse(found.json())
    # PUT: the given settings replace the preset's, the rest stay
    merged = {"unsigned": found.unsigned, **found.settings, **p}
    presets.set(_preset(uploads, name, merged))
    return JSONResponse({"message": "updated"})


Endpoint = Callable[[Uploads, Request], Awaitable[Response]]


def routes(uploads: Uploads) -> list[BaseRoute]:
    """The admin API's routes, bound to `uploads`."""

    def bound(endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            return await endpoint(uploads, request)

        return run

    v = "/v1_1/{cloud}"
    every = ["GET", "POST", "PUT", "DELETE"]
    return [
        Route(f"{v}/resources/image", bound(list_resources), methods=["GET"]),
        Route(f"{v}/resources/image/fetch", bound(delete_fetched), methods=["DELETE"]),
        Route(f"{v}/resources/image/{{type}}", bound(list_resources), methods=["GET"]),
        Route(f"{v}/resources/image/{{type}}", bound(delete_resources), methods=["DELETE"]),
        Route(f"{v}/resources/image/{{type}}/{{public_id:path}}", bound(get_resource)),
        Route(f"{v}/transformations", bound(transformations), methods=every),
        Route(f"{v}/upload_presets", bound(upload_presets), methods=["GET", "POST"]),
        Route(f"{v}/upload_presets/{{name}}", bound(upload_presets), methods=every[:1] + every[2:]),
    ]


__all__ = [
    "delete_fetched",
    "delete_resources",
    "get_resource",
    "list_resources",
    "routes",
    "transformations",
    "upload_presets",
]
