"""Upload and eager notifications through a real server to a real listener on 127.0.0.1: signed
as Cloudinary signs them (checked with the SDK's own `verify_notification_signature`), and
never sent to a private address unless private URLs are allowed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudinary
import cloudinary.uploader
import cloudinary.utils
import pytest

from tests.conftest import FIXTURES
from tests.e2e.conftest import configure_sdk
from tests.e2e.server import Server
from tests.e2e.webhook import WebhookListener

DOG = FIXTURES / "e2e" / "dog-bike.jpg"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # the listener is on loopback: this server may post there
    env = {"ALPHACDN_ALLOW_PRIVATE_URLS": "true"}
    srv = Server(tmp_path_factory.mktemp("notify"), env=env).start()
    configure_sdk(srv)
    yield srv
    srv.stop()


def _verify(headers: dict[str, str], body: bytes) -> bool:
    """What a Cloudinary user's receiver does with a notification."""
    ok: bool = cloudinary.utils.verify_notification_signature(
        body.decode(), headers["X-Cld-Timestamp"], headers["X-Cld-Signature"], valid_for=60
    )
    return ok


def test_upload_notification_verifies_with_the_sdk(server: Server) -> None:
    with WebhookListener() as hook:
        result: dict[str, Any] = cloudinary.uploader.upload(
            str(DOG),
            public_id="signed-removal",
            background_removal="cloudinary_ai",
            notification_url=hook.url,
        )
        [note] = hook.wait_for(1)
    assert note["public_id"] == "signed-removal" and note["version"] > result["version"]
    [(headers, body)] = hook.raw
    assert _verify(headers, body)


def test_eager_notification_verifies_and_a_tampered_one_does_not(server: Server) -> None:
    with WebhookListener() as hook:
        cloudinary.uploader.upload(
            str(DOG),
            public_id="signed-eager",
            eager=[{"width": 80, "crop": "scale"}],
            eager_async=True,
            eager_notification_url=hook.url,
        )
        [note] = hook.wait_for(1)
    assert note["notification_type"] == "eager"
    assert [e["status"] for e in note["eager"]] == ["processed"]
    [(headers, body)] = hook.raw
    assert _verify(headers, body)
    tampered = body.replace(b"signed-eager", b"signed-other")
    assert tampered != body and not _verify(headers, tampered)
    forged = {**headers, "X-Cld-Timestamp": str(int(headers["X-Cld-Timestamp"]) + 1)}
    assert not _verify(forged, body)


def test_no_notification_to_a_private_address_unless_allowed(tmp_path: Path) -> None:
    srv = Server(tmp_path / "d").start()  # ALPHACDN_ALLOW_PRIVATE_URLS is off by default
    try:
        configure_sdk(srv)
        with WebhookListener() as hook:
            cloudinary.uploader.upload(
                str(DOG),
                public_id="private-hook",
                eager=[{"width": 80, "crop": "scale"}],
                eager_async=True,
                eager_notification_url=hook.url,
            )
            deadline = time.monotonic() + 30
            while "not delivered" not in srv.log():
                assert time.monotonic() < deadline, srv.log()
                time.sleep(0.1)
            assert hook.received == []
        assert "non-public address" in srv.log()
    finally:
        srv.stop()
