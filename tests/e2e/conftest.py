"""End-to-end fixtures: a running server and the official `cloudinary` SDK pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudinary
import cloudinary.uploader
import pytest

from alphacdn.settings import DEV_API_KEY, DEV_API_SECRET
from tests.conftest import FIXTURES
from tests.e2e.server import Server


def configure_sdk(server: Server, cloud: str = "demo") -> None:
    """Point the real SDK at our server: uploads via upload_prefix, delivery via the host."""
    configure_sdk_at(server.url, cloud, cname=f"127.0.0.1:{server.port}")


def configure_sdk_at(url: str, cloud: str = "demo", *, cname: str | None = None) -> None:
    """Point the real SDK's uploads (and, with `cname`, its delivery URLs) at `url`: a server,
    or an nginx edge in front of replicas."""
    delivery: dict[str, Any] = {"cname": cname, "private_cdn": False} if cname else {}
    cloudinary.reset_config()
    cloudinary.config(
        cloud_name=cloud,
        api_key=DEV_API_KEY,
        api_secret=DEV_API_SECRET,
        upload_prefix=url,
        secure=False,
        **delivery,
    )


def delivery_url(public_id: str, **options: Any) -> str:
    """A delivery URL built by the SDK (cname → our host), absolute http URL."""
    url, _ = cloudinary.utils.cloudinary_url(public_id, **options)
    assert isinstance(url, str)
    return url


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("srv")).start()
    configure_sdk(srv)
    yield srv
    srv.stop()


def upload_fixture(name: str, public_id: str, **options: Any) -> dict[str, Any]:
    path: Path = FIXTURES / "e2e" / name
    result: dict[str, Any] = cloudinary.uploader.upload(str(path), public_id=public_id, **options)
    return result
