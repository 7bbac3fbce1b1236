"""Strict transformations: only signed, named or eager transformations are served."""

from __future__ import annotations

from collections.abc import Iterator

import cloudinary.api
import cloudinary.uploader
import httpx
import pytest

from tests.conftest import FIXTURES
from tests.e2e.conftest import configure_sdk, delivery_url
from tests.e2e.server import Server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(
        tmp_path_factory.mktemp("strict"), env={"ALPHACDN_STRICT_TRANSFORMATIONS": "true"}
    ).start()
    configure_sdk(srv)
    cloudinary.uploader.upload(
        str(FIXTURES / "e2e" / "dog-bike.jpg"),
        public_id="dog",
        eager=[{"width": 90, "crop": "scale"}],
    )
    cloudinary.api.create_transformation("tiny", "c_fill,w_32,h_32")
    yield srv
    srv.stop()


def test_unsigned_transformation_is_refused(server: Server) -> None:
    resp = httpx.get(delivery_url("dog", width=120, format="jpg"))
    assert resp.status_code == 401
    assert "strict" in resp.headers["x-cld-error"]


def test_signed_named_eager_and_original_are_served(server: Server) -> None:
    assert httpx.get(delivery_url("dog", width=120, sign_url=True, format="jpg")).status_code == 200
    assert httpx.get(delivery_url("dog", transformation="tiny", format="jpg")).status_code == 200
    assert httpx.get(f"{server.url}/demo/image/upload/c_scale,w_90/dog.jpg").status_code == 200
    assert httpx.get(f"{server.url}/demo/image/upload/w_90/dog.jpg").status_code == 200
    assert httpx.get(f"{server.url}/demo/image/upload/dog.jpg").status_code == 200
