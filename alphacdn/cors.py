"""CORS for browser apps (`ALPHACDN_CORS_ORIGINS`): the upload API, the remove.bg API and
delivery answer cross-origin requests from the configured origins, preflight included.

The admin API (basic auth with the api_secret, which no browser should hold) and /metrics get no
CORS headers. A pure ASGI middleware, installed only when origins are configured: it adds headers
to `http.response.start` and answers preflights itself, so the cache-hit path pays a header scan.

    simple / actual request from an allowed origin
        Access-Control-Allow-Origin: <origin> (or *), Vary: Origin (unless *),
        Access-Control-Expose-Headers: what the 423 helper and the example read (Retry-After,
        X-Alphacdn-Preview, X-Cld-Error, …), Timing-Allow-Origin (resource timing sizes)
    a request without Origin (an <img>): Timing-Allow-Origin with the configured origins
    preflight (OPTIONS + Access-Control-Request-Method)
        allowed origin: 204 with the methods and the requested headers, Max-Age 600
        other origin: 403 naming the setting
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: the paths CORS applies to: the upload API's upload, the remove.bg + tasks APIs, delivery
_PATHS = re.compile(r"^/(?:v1_1/[^/]+/image/upload/?$|v1\.0/|v2/tasks(?:/|$)|[^/]+/image/)")
_METHODS = b"GET, HEAD, POST, OPTIONS"
#: request headers a browser may send besides the CORS-safelisted ones
_DEFAULT_HEADERS = b"Content-Type, X-Api-Key, X-Requested-With, X-Unique-Upload-Id, Content-Range"
_EXPOSE = (
    b"Retry-After, X-Alphacdn-Preview, X-Alphacdn-Cache, X-Cld-Error, ETag, Content-Length, "
    b"X-Width, X-Height, X-Foreground-Top, X-Foreground-Left, X-Foreground-Width, "
    b"X-Foreground-Height, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, "
    b"X-Credits-Charged"
)
_MAX_AGE = b"600"
_TOKEN = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")


def applies(path: str) -> bool:
    """Whether CORS answers for this path (upload, remove.bg, delivery)."""
    return bool(_PATHS.match(path))


class Cors:
    """Pure ASGI middleware: CORS headers for `origins` (("*",) = any origin)."""

    def __init__(self, app: ASGIApp, origins: Iterable[str]) -> None:
        self.app = app
        self.any = "*" in origins
        self.origins = frozenset(o.lower() for o in origins)
        #: `Timing-Allow-Origin` of a request without `Origin`
        self.timing = b"*" if self.any else ", ".join(sorted(self.origins)).encode("latin-1")

    def allowed(self, origin: str) -> bool:
        return self.any or origin.lower() in self.origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not applies(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        origin_raw = headers.get(b"origin")
        if origin_raw is None:
            # an <img> sends no Origin: Timing-Allow-Origin lists the allowed ones, so the
            # page's resource timing (RUM, the gallery bench) sees sizes and phases
            async def send_timing(message: Message) -> None:
                if message["type"] == "http.response.start":
                    extra = (b"timing-allow-origin", self.timing)
                    message["headers"] = [*message.get("headers", ()), extra]
                await send(message)

            await self.app(scope, receive, send_timing)
            return
        origin = origin_raw.decode("latin-1")
        preflight = scope["method"] == "OPTIONS" and b"access-control-request-method" in headers
        if preflight:
            await self._preflight(origin, headers, send)
            return
        if not self.allowed(origin):
            await self.app(scope, receive, send)  # no CORS headers: the browser blocks it
            return
        allow = b"*" if self.any else origin_raw

        async def send_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _with_cors(message.get("headers", ()), allow, self.any)
            await send(message)

        await self.app(scope, receive, send_cors)

    async def _preflight(self, origin: str, headers: dict[bytes, bytes], send: Send) -> None:
        if not self.allowed(origin):
            body = (
                f"Origin {origin[:200]} is not allowed: add it to ALPHACDN_CORS_ORIGINS\n"
            ).encode("latin-1", "replace")
            await _answer(send, 403, [(b"content-type", b"text/plain; charset=utf-8")], body)
            return
        requested = headers.get(b"access-control-request-headers", b"").decode("latin-1")
        names = [h.strip() for h in requested.split(",") if h.strip()]
        allow_headers = (
            ", ".join(h for h in names if _TOKEN.match(h)).encode() if names else _DEFAULT_HEADERS
        )
        out = [
            (b"access-control-allow-origin", b"*" if self.any else origin.encode("latin-1")),
            (b"access-control-allow-methods", _METHODS),
            (b"access-control-allow-headers", allow_headers or _DEFAULT_HEADERS),
            (b"access-control-max-age", _MAX_AGE),
        ]
        if not self.any:
            out.append((b"vary", b"Origin"))
        await _answer(send, 204, out, b"")


def _with_cors(
    headers: Iterable[tuple[bytes, bytes]], allow: bytes, any_origin: bool
) -> list[tuple[bytes, bytes]]:
    out = []
    vary: bytes | None = None
    for name, value in headers:
        if name.lower() == b"vary":
            vary = value
            continue
        out.append((name, value))
    if not any_origin:
        vary = vary + b", Origin" if vary else b"Origin"
    if vary is not None:
        out.append((b"vary", vary))
    out += [
        (b"access-control-allow-origin", allow),
        (b"access-control-expose-headers", _EXPOSE),
        (b"timing-allow-origin", allow),
    ]
    return out


async def _answer(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


__all__ = ["Cors", "applies"]
