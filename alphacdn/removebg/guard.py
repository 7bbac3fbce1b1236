"""Endpoint wrapper: `ApiError` → its JSON response (with the collected rate headers); a shared
engine that is down (`BackendUnavailable`: S3, Redis) → 503 with Retry-After; anything
unexpected → logged, JSON 500 in the same `{"errors":[…]}` shape."""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from alphacdn.cache import BackendUnavailable
from alphacdn.removebg.errors import ApiError

log = logging.getLogger("alphacdn.removebg")

#: a handler receives the request and a dict it fills with headers every response must carry
Handler = Callable[[Request, dict[str, str]], Awaitable[Response]]


def guarded(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        headers: dict[str, str] = {}
        try:
            return await handler(request, headers)
        except ApiError as exc:
            return exc.response(headers)
        except BackendUnavailable as exc:
            log.warning("%s %s → 503: %s", request.method, request.url.path, exc)
            retry = str(max(1, math.ceil(exc.retry_after)))
            return ApiError(
                503,
                "service_unavailable",
                f"Storage backend unavailable ({exc.backend}); retry shortly",
                headers={"Retry-After": retry},
            ).response(headers)
        except Exception:
            log.exception("unhandled error on %s %s", request.method, request.url.path)
            return ApiError(500, "internal_error", "Internal error").response(headers)

    return endpoint


__all__ = ["Handler", "guarded"]
