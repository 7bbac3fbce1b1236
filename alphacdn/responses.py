"""`CdnError` → response: plain text + `X-Cld-Error` for delivery, JSON for the APIs."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from alphacdn.transform.errors import CdnError

log = logging.getLogger("alphacdn")

#: path prefixes answered with Cloudinary's JSON error shape
_JSON_PREFIXES = ("/v1_1/",)


def _header_safe(text: str) -> str:
    """Header values: one line of ASCII (non-ASCII is escaped, e.g. \\xe9)."""
    flat = text.replace("\r", " ").replace("\n", " ")
    return flat.encode("ascii", "backslashreplace").decode("ascii")


def error_response(request: Request, exc: CdnError) -> Response:
    """The one place a `CdnError` becomes an HTTP response."""
    if exc.detail:
        log.info(
            "%s %s → %s %s (%s)",
            request.method,
            request.url.path,
            exc.status,
            exc.public,
            exc.detail,
        )
    headers = dict(exc.headers)
    if request.url.path.startswith(_JSON_PREFIXES):
        return JSONResponse({"error": {"message": exc.public}}, exc.status, headers=headers)
    headers["X-Cld-Error"] = _header_safe(exc.public)
    headers.setdefault("Cache-Control", "no-store")
    return PlainTextResponse(exc.public + "\n", exc.status, headers=headers)


async def cdn_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CdnError)
    return error_response(request, exc)


async def unexpected_error_handler(request: Request, exc: Exception) -> Response:
    """Last resort: log the traceback, answer 500 without leaking internals."""
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    err = CdnError("Internal error; see the server log")
    return error_response(request, err)


__all__ = ["cdn_error_handler", "error_response", "unexpected_error_handler"]
