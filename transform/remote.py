"""Remote sources: the URL of a `fetch` delivery (`/<cloud>/image/fetch/…/<URL>`) and of an
`l_fetch:<base64url>` / `u_fetch:` layer, checked for shape before anything is fetched.

Only the shape is judged here (scheme, host, port, no credentials, no control characters, a
bounded length). Whether the host is allowed and where it resolves is the fetcher's business
(`alphacdn.net`, with `ALPHACDN_FETCH_DOMAINS`).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from .errors import InvalidRequest

#: longest remote URL accepted (browsers and CDNs cut near 8 KB; a source URL is far shorter)
MAX_URL_LENGTH = 2048
_CONTROL = re.compile(r"[\x00-\x20\x7f]")
_B64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")


@dataclass(frozen=True, slots=True)
class Remote:
    """An image layer fetched from `url` instead of loaded from the originals."""

    url: str

    @property
    def key(self) -> str:
        """How the layer's size and bytes are looked up (`fetch:<url>`: a layer public_id
        never holds `:`, so this cannot name an uploaded asset)."""
        return "fetch:" + self.url


def check_remote_url(url: str, where: str = "") -> str:
    """`url` if it is an http(s) URL with a host (`where` names the component in errors)."""

    def bad(why: str) -> InvalidRequest:
        return InvalidRequest(f"Invalid fetch URL{f' in {where}' if where else ''}: {why}")

    if len(url) > MAX_URL_LENGTH:
        raise bad(f"longer than {MAX_URL_LENGTH} characters")
    # spaces arrive decoded from `%20`: they are part of the path, everything else is not
    if _CONTROL.search(url.replace(" ", "")):
        raise bad("control characters")
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unbalanced `[` in the host
        raise bad("not a URL") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise bad(f"only http and https URLs can be fetched, not {parts.scheme or 'none'!r}")
    if not parts.hostname:
        raise bad("no host")
    if parts.username is not None or parts.password is not None:
        raise bad("credentials in the URL")
    try:
        parts.port  # noqa: B018 (a bad port raises here)
    except ValueError:
        raise bad("invalid port") from None
    return url


def decode_layer_url(value: str, where: str) -> Remote:
    """The `<base64url>` of `l_fetch:<base64url>` (padding optional, as the SDKs write it)."""
    if not _B64URL.fullmatch(value):
        raise InvalidRequest(f"Invalid fetch URL in {where}: expected URL-safe base64")
    try:
        raw = base64.urlsafe_b64decode(value.rstrip("=") + "=" * (-len(value.rstrip("=")) % 4))
        url = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        raise InvalidRequest(f"Invalid fetch URL in {where}: not URL-safe base64") from None
    return Remote(check_remote_url(url, where))


def encode_layer_url(url: str) -> str:
    """The base64url text of a fetch layer, padded as the SDKs write it."""
    return base64.urlsafe_b64encode(url.encode("utf-8")).decode("ascii")


__all__ = ["MAX_URL_LENGTH", "Remote", "check_remote_url", "decode_layer_url", "encode_layer_url"]
