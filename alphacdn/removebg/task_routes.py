"""`/v2/tasks` endpoints (Eden-style async API) over `TaskStore`; tasks run on the `JobRunner`.

`POST /v2/tasks/create` takes JSON `{"tool":"background_removal","args":{"image":URL, …},
"webhook_url":…}` (args are any `/v1.0/removebg` parameters; `image` may also be a `data:` URI)
or multipart with `tool`, optional `args` (JSON text), `webhook_url`, a file `image` and further
parameters as plain fields. Parameters are validated at creation (400 right away); the size
defaults to `auto`. `GET /v2/tasks/<id>` shows the task to its owner key only.
"""

from __future__ import annotations

import json
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from alphacdn.base_url import base_url
from alphacdn.jobs.runner import JobRunner
from alphacdn.removebg.deps import FULL_CREDITS, PREVIEW_CREDITS
from alphacdn.removebg.errors import ApiError, bad_param
from alphacdn.removebg.limits import Limits, image_weight
from alphacdn.removebg.params import Size, parse_params
from alphacdn.removebg.request import fields_from_json, read_body, read_parameters
from alphacdn.removebg.service import image_size
from alphacdn.removebg.tasks import TOOL, TaskStore, public


def _not_found() -> ApiError:
    return ApiError(404, "task_not_found", "Task not found")


async def _read_task(request: Request) -> tuple[dict[str, Any], bytes | None]:
    """The task body as a dict (`tool`, `args`, `webhook_url`) and an uploaded image if any."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        try:
            data = json.loads(await read_body(request) or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "invalid_body", "The request body is not valid JSON.") from None
        if not isinstance(data, dict):
            raise ApiError(400, "invalid_body", "The JSON body must be an object.")
        return data, None
    fields, files = await read_parameters(request)
    args: dict[str, Any] = {}
    if fields.get("args"):
        try:
            args = json.loads(fields.pop("args"))
        except ValueError:
            raise bad_param("args", "args must be a JSON object.", "invalid_args") from None
    if not isinstance(args, dict):
        raise bad_param("args", "args must be a JSON object.", "invalid_args")
    body: dict[str, Any] = {k: fields.pop(k) for k in ("tool", "webhook_url") if k in fields}
    body["args"] = {**args, **fields}
    return body, files.get("image")


class TaskEndpoints:
    def __init__(
        self, limits: Limits, store: TaskStore, runner: JobRunner, public_url: str | None
    ) -> None:
        self.limits = limits
        self.public_url = public_url
        self.store = store
        self.runner = runner

    async def create(self, request: Request, headers: dict[str, str]) -> Response:
        key = self.limits.authenticate(request.headers.get("x-api-key"))
        headers.update(await anyio.to_thread.run_sync(self.limits.rate_headers, key))
        body, upload = await _read_task(request)
        if body.get("tool") != TOOL:
            raise bad_param("tool", f"Unknown tool: only {TOOL!r} is available.", "unknown_tool")
        args = body.get("args") or {}
        if not isinstance(args, dict):
            raise bad_param("args", "args must be a JSON object.", "invalid_args")
        webhook = body.get("webhook_url")
        if webhook is not None and not (
            isinstance(webhook, str) and webhook.startswith(("http://", "https://"))
        ):
            raise bad_param("webhook_url", "webhook_url must be an http(s) URL.", "invalid_url")
        fields = fields_from_json({k: v for k, v in args.items() if k != "image"})
        for name in ("image_file", "image_file_b64", "image_url", "bg_image_file"):
            fields.pop(name, None)
        image = args.get("image")
        files: dict[str, bytes] = {}
        if upload is not None:
            files["image_file"] = upload
        elif isinstance(image, str) and image.startswith(("http://", "https://")):
            fields["image_url"] = image
        elif isinstance(image, str) and image.startswith("data:"):
            fields["image_file_b64"] = image
        else:
            raise ApiError(
                400,
                "missing_source",
                "No image given: set args.image to a URL or "
                "a data: URI, or upload a file named image.",
                "parameter: image",
            )
        fields.setdefault("size", Size.AUTO.value)
        params = parse_params(fields, files)  # every parameter is validated now
        data = params.image.data if params.image.kind != "url" else None
        weight = 1
        if data is not None:
            weight = image_weight(*image_size(data, "image"))
            fields.pop("image_file_b64", None)
        headers.update(await anyio.to_thread.run_sync(self.limits.consume, key, weight))
        preview = params.size in (Size.PREVIEW, Size.AUTO)
        cost = PREVIEW_CREDITS if preview else FULL_CREDITS
        await anyio.to_thread.run_sync(lambda: self.limits.require(key, cost, preview=preview))
        shown = {**args, "image": image if data is None else "upload"}
        record = await anyio.to_thread.run_sync(
            lambda: self.store.create(
                owner=key.key,
                args=shown,
                fields=fields,
                image=data,
                base_url=base_url(request, self.public_url),  # never the Host header
                webhook_url=webhook,
            )
        )
        self.runner.wake()
        return JSONResponse({"task": public(record)}, headers=headers)

    async def get(self, request: Request, headers: dict[str, str]) -> Response:
        key = self.limits.authenticate(request.headers.get("x-api-key"))
        headers.update(await anyio.to_thread.run_sync(self.limits.rate_headers, key))
        record = await anyio.to_thread.run_sync(self.store.get, request.path_params["task_id"])
        if record is None or record.payload.get("owner") != key.key:
            raise _not_found()
        return JSONResponse({"task": public(record)}, headers=headers)

    async def file(self, request: Request, headers: dict[str, str]) -> Response:
        """A result file; public (the URL holds a random 128-bit id), immutable."""
        found = await anyio.to_thread.run_sync(
            self.store.get_file, request.path_params["task_id"], request.path_params["name"]
        )
        if found is None:
            raise _not_found()
        media_type, data = found
        return Response(
            data,
            media_type=media_type,
            headers={"Cache-Control": "public, max-age=31536000, immutable"},
        )


__all__ = ["TaskEndpoints"]
