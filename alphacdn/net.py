"""The one outbound HTTP path: every remote fetch and every webhook, never to private networks.

Callers: remote uploads (`file=https://…`), the remove.bg API's `image_url` / `bg_image_url`
and task image URLs (`fetch_url`); the `fetch` delivery type and `l_fetch:` layers
(`fetch_source`: conditional GET, a host allow-list checked on every hop); upload and eager
notifications (signed as Cloudinary signs them) and task webhooks (`send_webhook`).

Every hop (the first URL and each redirect) is resolved here, refused if any address is loopback,
link-local, private, multicast, reserved or unspecified (unless `allow_private` says yes: for
every host, or, given as a function of the host name, for the hosts it names), and the
connection is then made to the address we checked, not to a second DNS answer: the request goes
to `http(s)://<ip>/…` with the original `Host` header and, for https, the original name as SNI and
certificate hostname. That defeats DNS rebinding between the check and the connect.

Retries: at most `ATTEMPTS` tries, `BACKOFF_SECONDS` doubling in between, only when a retry can
help: the connection failed (DNS, refused, connect timeout) or the server answered 5xx or 429.
Any other 4xx, a refused address, a size cap or a timeout mid-response is final.

Error tree (callers map these to 4xx):

    FetchError
    ├── UnsafeUrl        scheme, host (`allow_host`) or resolved address refused
    ├── FetchFailed      DNS, connect, timeout, TLS, too many redirects, non-2xx status
    │                    (`status`: the server's answer; `timed_out`)
    └── FetchTooLarge    body larger than `max_bytes`
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import json
import logging
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit, urlunsplit

import anyio
import certifi
import httpx

log = logging.getLogger("alphacdn.net")

MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
#: tries per fetch or webhook (the first included), and the first pause between them
ATTEMPTS = 3
BACKOFF_SECONDS = 0.5
WEBHOOK_TIMEOUT = 10.0

T = TypeVar("T")


class FetchError(Exception):
    """A remote fetch did not produce a body; `str(exc)` is safe to show the client."""


class UnsafeUrl(FetchError):
    """The URL's scheme, host or resolved address is not allowed."""


class FetchFailed(FetchError):
    """Network error, timeout or an unsuccessful HTTP status; `retryable` if trying again
    may help (connect errors, 5xx, 429)."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        status: int | None = None,
        timed_out: bool = False,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        #: the remote server's HTTP status, when it answered one
        self.status = status
        #: the server did not answer (or finish answering) in time
        self.timed_out = timed_out


class FetchTooLarge(FetchError):
    """The body exceeded the byte cap."""


IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_public_address(ip: IpAddress) -> bool:
    """True for globally routable unicast addresses (IPv4-mapped IPv6 is judged as IPv4)."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_loopback
        or ip.is_link_local
        or ip.is_private
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


@dataclass(frozen=True, slots=True)
class _Target:
    """One checked hop: where to connect and what the server must see."""

    url: str  # the URL with the host replaced by the pinned IP literal
    host_header: str
    sni: str | None


async def _resolve(host: str, port: int) -> list[IpAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise FetchFailed(f"cannot resolve host {host!r}", retryable=True) from exc
    # getaddrinfo may append a %scope to link-local IPv6 sockaddrs: drop it before parsing
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


#: private addresses allowed: for every host (True), none (False), or the hosts a function
#: of the host name (as the URL writes it, lower-case) says yes to
AllowPrivate = bool | Callable[[str], bool]
#: a host name (lower-case) → whether it may be fetched from at all (checked on every hop)
AllowHost = Callable[[str], bool]


async def _check(url: str, allow_private: AllowPrivate, allow_host: AllowHost | None) -> _Target:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeUrl(f"only http and https URLs are allowed, not {parts.scheme or 'none'!r}")
    host = parts.hostname
    if not host:
        raise UnsafeUrl("the URL has no host")
    if parts.username or parts.password:
        raise UnsafeUrl("credentials in URLs are not allowed")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeUrl("the URL has an invalid port") from exc
    if allow_host is not None and not allow_host(host):
        raise UnsafeUrl(f"host {host!r} is not an allowed fetch domain")
    addresses = await _resolve(host, port)
    if not addresses:
        raise FetchFailed(f"cannot resolve host {host!r}")
    if not (allow_private(host) if callable(allow_private) else allow_private):
        for ip in addresses:
            if not is_public_address(ip):
                raise UnsafeUrl(f"host {host!r} resolves to a non-public address")
    ip = addresses[0]
    literal = f"[{ip}]" if ip.version == 6 else str(ip)
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    host_header = parts.netloc.rsplit("@", 1)[-1]
    return _Target(pinned, host_header, host if parts.scheme == "https" else None)


async def _send(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    allow_private: AllowPrivate,
    *,
    content: str | None = None,
    headers: dict[str, str] | None = None,
    allow_host: AllowHost | None = None,
) -> tuple[httpx.Response, str]:
    """Follow redirects by hand so each hop is checked; return the streaming final response."""
    for _ in range(MAX_REDIRECTS + 1):
        target = await _check(url, allow_private, allow_host)
        extensions = {"sni_hostname": target.sni} if target.sni else {}
        request = client.build_request(
            method,
            target.url,
            headers={**(headers or {}), "Host": target.host_header},
            extensions=extensions,
            content=content,
        )
        response = await client.send(request, stream=True)
        location = response.headers.get("location")
        if response.status_code not in _REDIRECTS or not location:
            return response, url
        await response.aclose()
        url = urljoin(url, location)
        if response.status_code == 303 or (response.status_code in (301, 302) and method == "POST"):
            method, content, headers = "GET", None, None
    raise FetchFailed(f"more than {MAX_REDIRECTS} redirects")


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every request (httpx would load the CA bundle per client: ~20 ms,
    over 150 ms on a busy machine, paid by every fetch and webhook)."""
    return ssl.create_default_context(cafile=certifi.where())


def _client(timeout: float) -> httpx.AsyncClient:
    """A client of its own per request (connections are to pinned addresses: never pooled
    across hosts), without redirects (`_send` follows them, checking each hop)."""
    return httpx.AsyncClient(timeout=timeout, follow_redirects=False, verify=_tls())


def _failed(exc: Exception, timeout: float) -> FetchFailed:
    """A transport error or timeout as FetchFailed (retryable when the connection failed)."""
    if isinstance(exc, TimeoutError):
        return FetchFailed(f"timed out after {timeout:g} s", timed_out=True)
    connect = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
    timed_out = isinstance(exc, httpx.TimeoutException)
    return FetchFailed(
        f"request failed: {type(exc).__name__}", retryable=connect, timed_out=timed_out
    )


def _status_failed(status: int) -> FetchFailed:
    """An unsuccessful status as FetchFailed (retryable: 5xx and 429 Too Many Requests)."""
    return FetchFailed(
        f"the server answered HTTP {status}",
        retryable=status >= 500 or status == 429,
        status=status,
    )


async def _with_retries(
    attempt: Callable[[], Awaitable[T]], url: str, attempts: int, backoff: float
) -> T:
    """Run `attempt` until it succeeds, fails for good, or `attempts` tries are spent."""
    for n in range(1, attempts + 1):
        try:
            return await attempt()
        except FetchFailed as exc:
            if not exc.retryable or n >= attempts:
                raise
            log.info("%s: %s; try %d of %d", url, exc, n + 1, attempts)
        await anyio.sleep(backoff * 2 ** (n - 1))
    raise AssertionError("unreachable")  # the last attempt returned or raised


@dataclass(frozen=True, slots=True)
class Fetched:
    """A `fetch_source` answer: the body (200), or "not modified" (304, empty body)."""

    status: int
    body: bytes
    etag: str | None
    last_modified: str | None
    content_type: str
    #: where the body came from, after redirects
    url: str

    @property
    def not_modified(self) -> bool:
        return self.status == 304


async def fetch_source(
    url: str,
    *,
    max_bytes: int,
    timeout: float,
    allow_private: AllowPrivate,
    allow_host: AllowHost | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
    attempts: int = ATTEMPTS,
    backoff: float = BACKOFF_SECONDS,
) -> Fetched:
    """GET `url` (http/https; public addresses only unless allowed; every hop's host through
    `allow_host`), at most `max_bytes` bytes, `timeout` bounding each try (connect, headers and
    the whole body). With `etag` / `last_modified` the request is conditional and a 304 comes
    back as `Fetched(status=304, body=b"")`."""
    headers: dict[str, str] = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    conditional = bool(headers)

    async def attempt() -> Fetched:
        try:
            with anyio.fail_after(timeout):
                async with _client(timeout) as client:
                    response, final = await _send(
                        client, "GET", url, allow_private, headers=headers, allow_host=allow_host
                    )
                    try:
                        return await _read(response, final, max_bytes, conditional)
                    finally:
                        await response.aclose()
        except (httpx.InvalidURL, UnicodeError) as exc:  # what the checks above let through
            raise UnsafeUrl(f"invalid URL: {type(exc).__name__}") from exc
        except (TimeoutError, httpx.HTTPError) as exc:
            raise _failed(exc, timeout) from exc

    return await _with_retries(attempt, url, attempts, backoff)


async def _read(response: httpx.Response, url: str, max_bytes: int, conditional: bool) -> Fetched:
    """The body of a streaming response, refused as soon as it passes `max_bytes`."""
    status = response.status_code
    if not (200 <= status < 300 or (status == 304 and conditional)):
        raise _status_failed(status)
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchTooLarge(f"the file is larger than {max_bytes} bytes")
    body = bytearray()
    if status != 304:
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > max_bytes:
                raise FetchTooLarge(f"the file is larger than {max_bytes} bytes")
    return Fetched(
        status=304 if status == 304 else 200,
        body=bytes(body),
        etag=response.headers.get("etag"),
        last_modified=response.headers.get("last-modified"),
        content_type=response.headers.get("content-type", ""),
        url=url,
    )


async def fetch_url(
    url: str,
    *,
    max_bytes: int,
    timeout: float,
    allow_private: bool,
    attempts: int = ATTEMPTS,
    backoff: float = BACKOFF_SECONDS,
) -> bytes:
    """GET `url` (http/https, public addresses only unless allowed), at most `max_bytes` bytes;
    `timeout` bounds each try."""
    fetched = await fetch_source(
        url,
        max_bytes=max_bytes,
        timeout=timeout,
        allow_private=allow_private,
        attempts=attempts,
        backoff=backoff,
    )
    return fetched.body


def notification_signature(body: str, timestamp: int, api_secret: str) -> str:
    """`X-Cld-Signature` as Cloudinary computes it: SHA-1 hex of body + timestamp + api_secret
    (what `cloudinary.utils.verify_notification_signature` checks)."""
    return hashlib.sha1(f"{body}{timestamp}{api_secret}".encode()).hexdigest()


async def post_json(
    url: str,
    payload: Any,
    *,
    timeout: float,
    allow_private: bool,
    sign_with: str | None = None,
    attempts: int = ATTEMPTS,
    backoff: float = BACKOFF_SECONDS,
) -> int:
    """POST `payload` as JSON (a webhook) with the same address checks and retries; with
    `sign_with` (an api_secret) add Cloudinary's `X-Cld-Timestamp` / `X-Cld-Signature`.
    Return the final status (2xx, or a 4xx not retried); raise FetchError otherwise."""
    body = json.dumps(payload)

    async def attempt() -> int:
        headers = {"Content-Type": "application/json"}
        if sign_with is not None:
            stamp = int(time.time())  # per try: a receiver checks how old the timestamp is
            headers["X-Cld-Timestamp"] = str(stamp)
            headers["X-Cld-Signature"] = notification_signature(body, stamp, sign_with)
        try:
            with anyio.fail_after(timeout):
                async with _client(timeout) as client:
                    response, _ = await _send(
                        client, "POST", url, allow_private, content=body, headers=headers
                    )
                    await response.aclose()
        except (TimeoutError, httpx.HTTPError) as exc:
            raise _failed(exc, timeout) from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise _status_failed(response.status_code)
        return response.status_code

    return await _with_retries(attempt, url, attempts, backoff)


async def send_webhook(
    url: str,
    payload: Any,
    *,
    allow_private: bool,
    sign_with: str | None = None,
    attempts: int = ATTEMPTS,
    backoff: float = BACKOFF_SECONDS,
) -> bool:
    """`post_json` for a notification: True if delivered (2xx); failures are logged, never
    raised (the work it reports on has succeeded)."""
    try:
        status = await post_json(
            url,
            payload,
            timeout=WEBHOOK_TIMEOUT,
            allow_private=allow_private,
            sign_with=sign_with,
            attempts=attempts,
            backoff=backoff,
        )
    except FetchError as exc:
        log.warning("webhook %s not delivered: %s", url, exc)
        return False
    if not 200 <= status < 300:
        log.warning("webhook %s refused: HTTP %d", url, status)
        return False
    return True


__all__ = [
    "AllowHost",
    "AllowPrivate",
    "FetchError",
    "FetchFailed",
    "FetchTooLarge",
    "Fetched",
    "UnsafeUrl",
    "fetch_source",
    "fetch_url",
    "is_public_address",
    "notification_signature",
    "post_json",
    "send_webhook",
]
