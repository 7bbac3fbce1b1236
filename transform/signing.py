"""Signatures exactly as the Cloudinary SDKs compute them. Pure: no I/O, no settings.

Delivery URLs: `s--<sig>--` where `sig` is the first 8 chars of the url-safe base64 of
SHA-1(`signed_text` + secret), or 32 chars of SHA-256 (`long_url_signature=True`; an 8-char
SHA-256 one is accepted too, for `signature_algorithm="sha256"`).

Upload/Admin API params: hex digest of `k=v&…` (sorted, lists joined with `,`, `&` inside a value
escaped as `%26` — the SDK's signature version 2) + secret, SHA-1 or SHA-256.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

#: form fields the server receives but the SDK does not sign
UNSIGNED_PARAMS = frozenset({"file", "cloud_name", "resource_type", "api_key", "signature"})
_ALGORITHMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256}


def _url_digest(signed_text: str, secret: str, algorithm: str) -> str:
    digest = _ALGORITHMS[algorithm]((signed_text + secret).encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


def sign_url(signed_text: str, secret: str, *, long: bool = False, algorithm: str = "sha1") -> str:
    """The `s--…--` URL segment for `signed_text` (`long`: 32 chars of SHA-256)."""
    if long:
        return "s--" + _url_digest(signed_text, secret, "sha256")[:32] + "--"
    return "s--" + _url_digest(signed_text, secret, algorithm)[:8] + "--"


def verify_url_signature(signature: str, signed_text: str, secret: str) -> bool:
    """True if `signature` (`s--X--` or just `X`) signs `signed_text` with `secret`."""
    sig = signature.removeprefix("s--").removesuffix("--")
    if len(sig) == 32:
        return hmac.compare_digest(sig, _url_digest(signed_text, secret, "sha256")[:32])
    if len(sig) != 8:
        return False
    ok_sha1 = hmac.compare_digest(sig, _url_digest(signed_text, secret, "sha1")[:8])
    ok_sha256 = hmac.compare_digest(sig, _url_digest(signed_text, secret, "sha256")[:8])
    return ok_sha1 | ok_sha256


def _value(v: Any) -> str:
    if isinstance(v, list | tuple):
        return ",".join(str(x) for x in v)
    if isinstance(v, bool):
        return str(v).lower()
    return str(v)


def api_string_to_sign(params: Mapping[str, Any]) -> str:
    """The text the SDK signs: sorted `k=v` joined by `&`, empty values and unsigned keys out."""
    pairs = [
        (k + "=" + _value(v)).replace("&", "%26")
        for k, v in params.items()
        if v and k not in UNSIGNED_PARAMS
    ]
    return "&".join(sorted(pairs))


def api_sign_request(params: Mapping[str, Any], secret: str, algorithm: str = "sha1") -> str:
    """The hex signature of upload/admin API params, as `cloudinary.utils.api_sign_request`."""
    if algorithm not in _ALGORITHMS:
        raise ValueError(f"unsupported signature algorithm {algorithm!r}")
    return _ALGORITHMS[algorithm]((api_string_to_sign(params) + secret).encode()).hexdigest()


def verify_api_signature(params: Mapping[str, Any], secret: str) -> bool:
    """True if `params["signature"]` signs `params` with `secret` (SHA-1, or SHA-256 by length
    or `signature_algorithm`)."""
    signature = params.get("signature")
    if not isinstance(signature, str):
        return False
    algorithm = str(params.get("signature_algorithm") or "")
    if algorithm not in _ALGORITHMS:
        algorithm = "sha256" if len(signature) == 64 else "sha1"
    # the SDK never sends `signature_algorithm`; a client that does may or may not have signed it
    candidates = [{k: v for k, v in params.items() if k != "signature_algorithm"}]
    if "signature_algorithm" in params:
        candidates.append(dict(params))
    ok = False
    for candidate in candidates:
        expected = api_sign_request(candidate, secret, algorithm)
        ok |= hmac.compare_digest(signature.lower().encode(), expected.encode())
    return ok


__all__ = [
    "UNSIGNED_PARAMS",
    "api_sign_request",
    "api_string_to_sign",
    "sign_url",
    "verify_api_signature",
    "verify_url_signature",
]
