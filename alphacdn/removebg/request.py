"""Read a request body (multipart, urlencoded form or JSON) into text fields + uploaded files."""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request

from alphacdn.bodies import BodyTooLarge, read_bounded, replaying
from alphacdn.removebg.errors import ApiError, bad_param, limit_error
from alphacdn.removebg.params import MAX_FILE_BYTES

#: whole-body cap: a 22 MB file as base64 plus a background image and the other fields
MAX_BODY_BYTES = 64 * 1024 * 1024
#: a base64 image travels as a text part
_MAX_TEXT_PART = MAX_FILE_BYTES * 4 // 3 + 1024

Fields = dict[str, str]
Files = dict[str, bytes]


def _too_large() -> ApiError:
    return ApiError(
        413,
        "limit_request_64mb",
        "Request body too large",
        f"The request body is limited to {MAX_BODY_BYTES // 1024 // 1024} MB.",
    )


async def read_body(request: Request) -> bytes:
    """The raw body, at most MAX_BODY_BYTES (413 beyond)."""
    try:
        return await read_bounded(request, MAX_BODY_BYTES)
    except BodyTooLarge:
        raise _too_large() from None


async def _read_upload(name: str, upload: UploadFile) -> bytes:
    data = await upload.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise limit_error("limit_file_22mb", f"The file in {name} is larger than 22 MB.")
    return data


def _text(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise bad_param(name, f"Invalid value for {name}: expected a string.", "invalid_type")


def fields_from_json(data: Any) -> Fields:
    """Flatten a JSON object of parameters into text fields (null = absent)."""
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_body", "The JSON body must be an object of parameters.")
    fields: Fields = {}
    for name, value in data.items():
        text = _text(str(name), value)
        if text is not None:
            fields[str(name)] = text
    return fields


async def read_parameters(request: Request) -> tuple[Fields, Files]:
    """Text fields and files of a multipart / form / JSON request; 400/413 on a bad body."""
    body = await read_body(request)  # bounded whole, chunked bodies included
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        try:
            return fields_from_json(json.loads(body or b"{}")), {}
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "invalid_body", "The request body is not valid JSON.") from None
    if content_type not in ("multipart/form-data", "application/x-www-form-urlencoded", ""):
        raise ApiError(
            400,
            "unsupported_content_type",
            "Unsupported Content-Type: send "
            "multipart/form-data, application/x-www-form-urlencoded or JSON.",
        )
    try:
        form = await replaying(request, body).form(
            max_files=4, max_fields=100, max_part_size=_MAX_TEXT_PART
        )
    except Exception as exc:  # starlette raises HTTPException / MultiPartException variants
        raise ApiError(
            400, "invalid_body", "The form body could not be read.", type(exc).__name__
        ) from None
    fields: Fields = {}
    files: Files = {}
    try:
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                files[name] = await _read_upload(name, value)
            else:
                fields[name] = value
    finally:
        await form.close()
    return fields, files


__all__ = ["MAX_BODY_BYTES", "Fields", "Files", "fields_from_json", "read_body", "read_parameters"]
