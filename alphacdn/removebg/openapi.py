"""The OpenAPI 3.1 document served at `/openapi.json` (hand-written; tests check it with
schemathesis against the running server)."""

from __future__ import annotations

from typing import Any

from alphacdn.removebg.options import (
    Channels,
    ForegroundType,
    OutputFormat,
    ShadowType,
    Size,
    TypeLevel,
)

_ERROR = {"$ref": "#/components/schemas/Errors"}
_RATE_HEADERS = {
    name: {"schema": {"type": "integer"}, "description": text}
    for name, text in (
        ("X-RateLimit-Limit", "megapixel-weighted images per minute"),
        ("X-RateLimit-Remaining", "left in this minute"),
        ("X-RateLimit-Reset", "Unix time the window resets"),
    )
}


def _error(description: str, *, rate: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": _ERROR}},
    }
    if rate:
        out["headers"] = dict(_RATE_HEADERS)
    return out


def _enum(values: list[str], default: str, text: str) -> dict[str, Any]:
    return {"type": "string", "enum": values, "default": default, "description": text}


def _removebg_fields() -> dict[str, Any]:
    sizes = [s.value for s in Size] + ["small", "regular", "4k"]
    text = {"type": "string"}
    return {
        "image_file": {"type": "string", "format": "binary", "description": "image upload"},
        "image_file_b64": {**text, "description": "image as base64"},
        "image_url": {**text, "description": "image URL (public addresses only)"},
        "size": _enum(sizes, "preview", "output resolution"),
        "type": _enum([t.value for t in ForegroundType], "auto", "foreground type"),
        "type_level": _enum([t.value for t in TypeLevel], "1", "classification level"),
        "format": _enum([f.value for f in OutputFormat], "auto", "zip = color.jpg + alpha.png"),
        "roi": {**text, "description": "'x1 y1 x2 y2' in px or %"},
        "crop": {"type": "boolean", "default": False},
        "crop_margin": {**text, "description": "1, 2 or 4 values, px (≤500) or % (≤50)"},
        "scale": {**text, "description": "10%–100% or original"},
        "position": {**text, "description": "original, center, 'x%' or 'x% y%'"},
        "channels": _enum([c.value for c in Channels], "rgba", "rgba image or alpha matte"),
        "bg_color": {**text, "description": "hex (3/4/6/8 digits) or colour name"},
        "bg_image_url": text,
        "bg_image_file": {"type": "string", "format": "binary"},
        "shadow_type": _enum([s.value for s in ShadowType], "none", "shadow kind"),
        "shadow_opacity": {**text, "description": "0–100 or auto"},
        "add_shadow": {"type": "boolean", "deprecated": True},
        "semitransparency": {"type": "boolean", "default": True},
        "mask_shrink": {"type": "integer", "minimum": 0, "maximum": 250},
        "mask_expand": {"type": "integer", "minimum": 0, "maximum": 250},
        "mask_feather": {"type": "integer", "minimum": 0, "maximum": 250},
        "mask_invert": {"type": "boolean", "default": False},
        "fine_edges": {"type": "boolean", "default": False},
    }


def _removebg() -> dict[str, Any]:
    form = {"schema": {"type": "object", "properties": _removebg_fields()}}
    image_headers = {
        h: {"schema": {"type": "integer"}}
        for h in (
            "X-Width",
            "X-Height",
            "X-Foreground-Top",
            "X-Foreground-Left",
            "X-Foreground-Width",
            "X-Foreground-Height",
        )
    }
    image_headers["X-Credits-Charged"] = {"schema": {"type": "number"}}
    image_headers["X-Type"] = {"schema": {"type": "string"}}
    binary = {"schema": {"type": "string", "format": "binary"}}
    return {
        "post": {
            "summary": "Remove the background of a JPG/PNG/WebP image",
            "operationId": "removeBackground",
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": form,
                    "application/x-www-form-urlencoded": form,
                    "application/json": form,
                },
            },
            "responses": {
                "200": {
                    "description": "the result image (or JSON with Accept: application/json)",
                    "headers": {**image_headers, **_RATE_HEADERS},
                    "content": {
                        t: binary
                        for t in ("image/png", "image/jpeg", "image/webp", "application/zip")
                    }
                    | {"application/json": {"schema": {"type": "object"}}},
                },
                "400": _error("invalid parameters or unprocessable image (no credits charged)"),
                "402": _error("insufficient credits"),
                "403": _error("missing or invalid API key", rate=False),
                "413": _error("request body too large"),
                "429": _error("rate limit exceeded (see Retry-After)"),
            },
        }
    }


def _tasks() -> dict[str, Any]:
    task = {"type": "object", "properties": {"task": {"$ref": "#/components/schemas/Task"}}}
    ok = {"description": "the task", "content": {"application/json": {"schema": task}}}
    task_id = {"name": "task_id", "in": "path", "required": True, "schema": {"type": "string"}}
    body = {
        "type": "object",
        "required": ["tool", "args"],
        "properties": {
            "tool": {"type": "string", "enum": ["background_removal"]},
            "args": {"type": "object", "properties": {"image": {"type": "string"}}},
            "webhook_url": {"type": "string", "format": "uri"},
        },
    }
    errors = {
        "400": _error("invalid task"),
        "402": _error("insufficient credits"),
        "403": _error("missing or invalid API key", rate=False),
        "413": _error("request body too large"),
        "429": _error("rate limit exceeded"),
    }
    return {
        "/v2/tasks/create": {
            "post": {
                "summary": "Create a background-removal task",
                "operationId": "createTask",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": body}},
                },
                "responses": {"200": ok, **errors},
            }
        },
        "/v2/tasks/{task_id}": {
            "get": {
                "summary": "Get a task",
                "operationId": "getTask",
                "parameters": [task_id],
                "responses": {
                    "200": ok,
                    "404": _error("no such task"),
                    "403": errors["403"],
                    "429": errors["429"],
                },
            }
        },
        "/v2/tasks/{task_id}/files/{name}": {
            "get": {
                "summary": "A task's result file",
                "operationId": "getTaskFile",
                "security": [],
                "parameters": [
                    task_id,
                    {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": {
                        "description": "the file",
                        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                    },
                    "404": _error("no such file", rate=False),
                },
            }
        },
    }


def _schemas() -> dict[str, Any]:
    item = {
        "type": "object",
        "required": ["title"],
        "properties": {
            "title": {"type": "string"},
            "code": {"type": "string"},
            "detail": {"type": "string"},
        },
    }
    status = ["pending", "running", "completed", "failed"]
    task = {
        "type": "object",
        "required": ["_id", "status", "createdAt", "updatedAt"],
        "properties": {
            "_id": {"type": "string"},
            "status": {"enum": status},
            "createdAt": {"type": "string"},
            "updatedAt": {"type": "string"},
            "tool": {"type": "string"},
            "args": {"type": "object"},
            "error": {"type": ["string", "null"]},
            "result": {"type": ["array", "null"]},
            "cost": {"type": "number"},
        },
    }
    errors = {
        "type": "object",
        "required": ["errors"],
        "properties": {"errors": {"type": "array", "items": item}},
    }
    return {"Errors": errors, "Task": task}


def openapi_document(server_url: str = "") -> dict[str, Any]:
    """The OpenAPI document for the remove.bg-style and tasks endpoints."""
    account = {"type": "object", "properties": {"data": {"type": "object"}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "alphacdn background removal API", "version": "1.0"},
        "servers": [{"url": server_url or "/"}],
        "security": [{"ApiKey": []}],
        "paths": {
            "/v1.0/removebg": _removebg(),
            "/v1.0/account": {
                "get": {
                    "summary": "Credit balance and free calls",
                    "operationId": "getAccount",
                    "responses": {
                        "200": {
                            "description": "balances",
                            "headers": dict(_RATE_HEADERS),
                            "content": {"application/json": {"schema": account}},
                        },
                        "403": _error("missing or invalid API key", rate=False),
                        "429": _error("rate limit exceeded"),
                    },
                }
            },
            **_tasks(),
        },
        "components": {
            "securitySchemes": {"ApiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}},
            "schemas": _schemas(),
        },
    }


__all__ = ["openapi_document"]
