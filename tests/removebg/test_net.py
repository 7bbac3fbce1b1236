"""`alphacdn.net`, the one outbound HTTP path: address policy, byte cap, redirects re-checked,
clear errors, bounded retries with backoff, Cloudinary-signed webhooks; all on loopback."""

from __future__ import annotations

import hashlib
import http.server
import ipaddress
import json
import threading
import time
from typing import Any

import anyio
import pytest

from alphacdn.net import (
    ATTEMPTS,
    Fetched,
    FetchFailed,
    FetchTooLarge,
    UnsafeUrl,
    fetch_source,
    fetch_url,
    is_public_address,
    notification_signature,
    post_json,
    send_webhook,
)
from tests.ports import free_port
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
        return await fetch_url(
            url, max_bytes=max_bytes, timeout=5, allow_private=allow_private, backoff=0.01
        )

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


def test_fetch_source_conditional_hosts_and_failures() -> None:
    """`fetch_source`: 304 on matching validators, the host allow-list on every hop, private
    addresses per host, and failures that say what happened (status, timed out)."""
    from tests.e2e.origin import Origin

    origin = Origin()
    origin.files["/a.png"] = b"abc"

    def get(url: str, **kw: Any) -> Fetched:
        options: dict[str, Any] = {"max_bytes": 1000, "timeout": 1.0, "allow_private": True}
        options.update(backoff=0.01, **kw)
        return anyio.run(lambda: fetch_source(url, **options))

    try:
        first = get(origin.url + "/a.png")
        assert (first.status, first.body, first.not_modified) == (200, b"abc", False)
        assert first.etag and first.content_type == "image/png"
        again = get(origin.url + "/a.png", etag=first.etag)
        assert (again.status, again.body) == (304, b"")
        origin.files["/a.png"] = b"abcd"
        changed = get(origin.url + "/a.png", etag=first.etag)
        assert (changed.status, changed.body) == (200, b"abcd")
        # the allow-list is asked about every hop, redirects included
        asked: list[str] = []

        def only_loopback_ip(host: str) -> bool:
            asked.append(host)
            return host == "127.0.0.1"

        assert get(origin.url + "/redirect-to/a.png", allow_host=only_loopback_ip).body == b"abcd"
        assert asked == ["127.0.0.1", "127.0.0.1"]
        with pytest.raises(UnsafeUrl, match="'localhost' is not an allowed fetch domain"):
            get(origin.url + "/redirect-name/a.png", allow_host=only_loopback_ip)
        # private addresses for the named hosts only: the name that resolves there is refused
        private = get(origin.url + "/a.png", allow_private=only_loopback_ip)
        assert private.body == b"abcd"
        with pytest.raises(UnsafeUrl, match="'localhost' resolves to a non-public address"):
            get(origin.url + "/redirect-name/a.png", allow_private=only_loopback_ip)
        with pytest.raises(FetchFailed) as missing:
            get(origin.url + "/nope.png")
        assert missing.value.status == 404 and not missing.value.timed_out
        started = time.monotonic()
        with pytest.raises(FetchFailed) as slow:
            get(origin.url + "/slow.png")
        assert slow.value.timed_out and slow.value.status is None
        assert time.monotonic() - started < 3
        with pytest.raises(FetchTooLarge):
            get(origin.url + "/huge-chunked.png")
    finally:
        origin.close()


class Scripted:
    """A local HTTP server answering each request with the next status of `statuses` (the
    last one repeats), recording every request it got."""

    def __init__(self, statuses: list[int], body: bytes = b"") -> None:
        self.statuses = statuses
        self.body = body
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                outer.requests.append((self.command, dict(self.headers), self.rfile.read(length)))
                n = len(outer.requests) - 1
                status = outer.statuses[min(n, len(outer.statuses) - 1)]
                payload = outer.body if status == 200 else b""
                self.send_response(status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def __enter__(self) -> Scripted:
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def webhook(url: str, *, allow_private: bool = True) -> bool:
    async def go() -> bool:
        return await send_webhook(url, {"n": 1}, allow_private=allow_private, backoff=0.01)

    return anyio.run(go)


@pytest.mark.parametrize(
    ("statuses", "delivered", "tries"),
    [
        ([503, 502, 204], True, 3),  # fails twice, then succeeds
        ([500], False, ATTEMPTS),  # never succeeds: the retries are bounded
        ([429, 200], True, 2),  # too many requests: try again
        ([400, 200], False, 1),  # any other 4xx is final
        ([404, 200], False, 1),
    ],
)
def test_webhook_retries_only_what_can_succeed(
    statuses: list[int], delivered: bool, tries: int
) -> None:
    with Scripted(statuses) as hook:
        assert webhook(hook.url) is delivered
        assert len(hook.requests) == tries
    method, headers, body = hook.requests[-1]
    assert method == "POST" and json.loads(body) == {"n": 1}
    assert headers["Content-Type"] == "application/json"
    assert "X-Cld-Signature" not in headers  # unsigned unless asked


def test_webhook_to_a_private_address_is_not_sent() -> None:
    with Scripted([204]) as hook:
        assert webhook(hook.url, allow_private=False) is False
        assert webhook(hook.url.replace("127.0.0.1", "localhost"), allow_private=False) is False
        assert hook.requests == []
        assert webhook(hook.url, allow_private=True) is True  # the same URL, when allowed
        assert len(hook.requests) == 1


def test_a_refused_connection_is_retried_with_backoff() -> None:
    port = free_port()  # a loopback port with nobody listening

    async def go() -> None:
        await post_json(
            f"http://127.0.0.1:{port}/hook",
            {},
            timeout=5,
            allow_private=True,
            attempts=3,
            backoff=0.2,
        )

    t0 = time.monotonic()
    with pytest.raises(FetchFailed, match="ConnectError") as info:
        anyio.run(go)
    assert info.value.retryable
    assert time.monotonic() - t0 >= 0.2 + 0.4  # two pauses: three tries


def test_signed_webhook_carries_cloudinary_headers() -> None:
    with Scripted([200]) as hook:

        async def go() -> int:
            return await post_json(
                hook.url, {"a": "é"}, timeout=5, allow_private=True, sign_with="s3cret"
            )

        assert anyio.run(go) == 200
    _, headers, body = hook.requests[0]
    stamp = int(headers["X-Cld-Timestamp"])
    assert abs(stamp - time.time()) < 60
    expected = hashlib.sha1(body + headers["X-Cld-Timestamp"].encode() + b"s3cret").hexdigest()
    assert headers["X-Cld-Signature"] == expected
    assert notification_signature(body.decode(), stamp, "s3cret") == expected


def test_fetch_retries_a_server_error() -> None:
    with Scripted([503, 200], body=b"image") as server:
        assert fetch(server.url) == b"image"
        assert len(server.requests) == 2
    with Scripted([403, 200], body=b"image") as server:
        with pytest.raises(FetchFailed, match="403"):
            fetch(server.url)
        assert len(server.requests) == 1
