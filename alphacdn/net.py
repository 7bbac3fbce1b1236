"""Safe outbound HTTP: fetch a remote image, post a webhook, without reaching private networks.

Every hop (the first URL and each redirect) is resolved here, refused if any address is loopback,
link-local, private, multicast, reserved or unspecified (unless `allow_private`), and the
connection is then made to the address we checked, not to a second DNS answer: the request goes
to `http(s)://<ip>/…` with the original `Host` header and, for https, the original name as SNI and
certificate hostname. That defeats DNS rebinding between the check and the connect.

Error tree (callers map these to 4xx):

    FetchError
    ├── UnsafeUrl        scheme, host or resolved address refused
    ├── FetchFailed      DNS, connect, timeout, TLS, too many redirects, non-2xx status
    └── FetchTooLarge    body larger than `max_bytes`
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import anyio
import httpx

MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class FetchError(Exception):
    """A remote fetch did not produce a body; `str(exc)` is safe to show the client."""


class UnsafeUrl(FetchError):
    """The URL's scheme, host or resolved address is not allowed."""


class FetchFailed(FetchError):
    """Network error, timeout or an unsuccessful HTTP status."""


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
        raise FetchFailed(f"cannot resolve host {host!r}") from exc
    # getaddrinfo may append a %scope to link-local IPv6 sockaddrs: drop it before parsing
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


async def _check(url: str, allow_private: bool) -> _Target:
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
    addresses = await _resolve(host, port)
    if not addresses:
        raise FetchFailed(f"cannot resolve host {host!r}")
    if not allow_private:
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
    client: httpx.AsyncClient, method: str, url: str, allow_private: bool, **kwargs: Any
) -> tuple[httpx.Response, str]:
    """Follow redirects by hand so each hop is checked; return the streaming final response."""
    for _ in range(MAX_REDIRECTS + 1):
        target = await _check(url, allow_private)
        extensions = {"sni_hostname": target.sni} if target.sni else {}
        request = client.build_request(
            method,
            target.url,
            headers={"Host": target.host_header},
            extensions=extensions,
            **kwargs,
        )
        response = await client.send(request, stream=True)
        location = response.headers.get("location")
        if response.status_code not in _REDIRECTS or not location:
            return response, url
        await response.aclose()
        url = urljoin(url, location)
        if response.status_code == 303 or (response.status_code in (301, 302) and method == "POST"):
            method, kwargs = "GET", {}
    raise FetchFailed(f"more than {MAX_REDIRECTS} redirects")


async def fetch_url(url: str, *, max_bytes: int, timeout: float, allow_private: bool) -> bytes:
    """GET `url` (http/https, public addresses only unless allowed), at most `max_bytes` bytes."""
    try:
        with anyio.fail_after(timeout):
            async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
                response, _ = await _send(client, "GET", url, allow_private)
                try:
                    if response.status_code >= 400:
                        raise FetchFailed(f"the server answered HTTP {response.status_code}")
                    declared = response.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > max_bytes:
                        raise FetchTooLarge(f"the file is larger than {max_bytes} bytes")
                    body = bytearray()
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > max_bytes:
                            raise FetchTooLarge(f"the file is larger than {max_bytes} bytes")
                    return bytes(body)
                finally:
                    await response.aclose()
    except TimeoutError as exc:
        raise FetchFailed(f"timed out after {timeout:g} s") from exc
    except httpx.HTTPError as exc:
        raise FetchFailed(f"request failed: {type(exc).__name__}") from exc


async def post_json(url: str, payload: Any, *, timeout: float, allow_private: bool) -> int:
    """POST a JSON body (webhooks) with the same address checks; return the status code."""
    try:
        with anyio.fail_after(timeout):
            async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
                response, _ = await _send(client, "POST", url, allow_private, json=payload)
                await response.aclose()
                return response.status_code
    except TimeoutError as exc:
        raise FetchFailed(f"timed out after {timeout:g} s") from exc
    except httpx.HTTPError as exc:
        raise FetchFailed(f"request failed: {type(exc).__name__}") from exc


__all__ = [
    "FetchError",
    "FetchFailed",
    "FetchTooLarge",
    "UnsafeUrl",
    "fetch_url",
    "is_public_address",
    "post_json",
]
