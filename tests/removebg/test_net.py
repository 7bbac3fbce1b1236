"""`alphacdn.net`: address policy, byte cap, redirects re-checked, clear errors."""

from __future__ import annotations

import ipaddress

import anyio
import pytest

from alphacdn.net import FetchFailed, FetchTooLarge, UnsafeUrl, fetch_url, is_public_address
from tests.removebg.helpers import Listener


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("224.0.0.1", False),
        ("0.0.0.0", False),
        ("240.0.0.1", False),
        ("100.64.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:8.8.8.8", True),
    ],
)
def test_address_policy(address: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is public


def fetch(url: str, *, allow_private: bool = True, max_bytes: int = 1000) -> bytes:
    async def go() -> bytes:
        return await fetch_url(url, max_bytes=max_bytes, timeout=5, allow_private=allow_private)

    return anyio.run(go)


def test_fetch_policy_cap_and_redirects(listener: Listener) -> None:
    listener.files["/small"] = b"x" * 100
    listener.files["/big"] = b"x" * 5000
    assert fetch(listener.url + "/small") == b"x" * 100
    assert fetch(listener.url + "/redirect/small") == b"x" * 100
    with pytest.raises(UnsafeUrl):
        fetch(listener.url + "/small", allow_private=False)
    with pytest.raises(UnsafeUrl):
        fetch("http://localhost:1/small", allow_private=False)
    with pytest.raises(FetchTooLarge):
        fetch(listener.url + "/big")
    with pytest.raises(FetchFailed, match="404"):
        fetch(listener.url + "/missing")
    with pytest.raises(UnsafeUrl, match="http"):
        fetch("file:///etc/passwd")
    with pytest.raises(UnsafeUrl):
        fetch("http://user:pw@example.com/")
