"""`CdnError` → response: plain text + `X-Cld-Error` for delivery, JSON for the APIs."""

from __future__ import annotations

import logging
import math
import re

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from alphacdn.cache import BackendUnavailable
from alphacdn.transform.errors import CdnError, ServiceUnavailable

log = logging.getLogger("alphacdn")

#: path prefixes answered with Cloudinary's JSON error shape
_JSON_PREFIXES = ("/v1_1/",)


#: the longest echo of user text in a header or log line
MAX_ECHO = 300
_UNSAFE = re.compile(r"[^\x20-\x7e]")


def safe_text(text: str, limit: int = MAX_ECHO) -> str:
    """`text` (which may echo a request) as one line of printable ASCII for a header value or
    a log line: control characters and non-ASCII escaped (`\\x00`, `\\n`, `\\xe9`), cut to
    `limit` in the middle.

    uvicorn (h11) refuses a header value with a control character and drops the connection
    without an answer, and a newline in a log line forges a second one.
    """
    flat = _UNSAFE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)
    if len(flat) <= limit:
        return flat
    # cut in the middle: the start names the component, the end often says what is wrong
    tail = limit // 3
    return flat[: limit - 3 - tail] + "..." + flat[-tail:]


def error_response(request: Request, exc: CdnError) -> Response:
    """The one place a `CdnError` becomes an HTTP response."""
    if exc.detail:
        log.info(
            "%s %s → %s %s (%s)",
            request.method,
            safe_text(request.url.path),
            exc.status,
            safe_text(exc.public),
            safe_text(exc.detail),
        )
    headers = dict(exc.headers)
    if request.url.path.startswith(_JSON_PREFIXES):
        return JSONResponse({"error": {"message": exc.public}}, exc.status, headers=headers)
    headers["X-Cld-Error"] = safe_text(exc.public)
    headers.setdefault("Cache-Control", "no-store")
    return PlainTextResponse(exc.public + "\n", exc.status, headers=headers)


async def cdn_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CdnError)
    return error_response(request, exc)


def backend_unavailable(exc: BackendUnavailable) -> ServiceUnavailable:
    """The 503 for a shared engine (S3, Redis) that does not answer: names it, says when to
    come back; the engine's own words go to the log only."""
    return ServiceUnavailable(
        f"Storage backend unavailable ({exc.backend}); retry shortly",
        retry_after=max(1, math.ceil(exc.retry_after)),
        detail=exc.detail,
    )


async def backend_unavailable_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BackendUnavailable)
    log.warning("%s %s → 503: %s", request.method, safe_text(request.url.path), safe_text(str(exc)))
    return error_response(request, backend_unavailable(exc))


async def unexpected_error_handler(request: Request, exc: Exception) -> Response:
    """Last resort: log the traceback, answer 500 without leaking internals."""
    log.exception("unhandled error on %s %s", request.method, safe_text(request.url.path))
    err = CdnError("Internal error; see the server log")
    return error_response(request, err)


__all__ = [
    "MAX_ECHO",
    "backend_unavailable",
    "backend_unavailable_handler",
    "cdn_error_handler",
    "error_response",
    "safe_text",
    "unexpected_error_handler",
]
