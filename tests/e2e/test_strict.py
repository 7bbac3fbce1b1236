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
        eager=[{"width": 90, "crop": "scale"}, {"width": 60, "format": "webp"}],
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


#: unsigned URLs strict mode refuses on an asset that exists (`dog`, a JPEG): output flags,
#: formats and qualities are transformations too, and so is another extension on the original
REFUSED = [
    "f_webp/dog",
    "q_1/dog.jpg",
    "f_avif,q_1/dog",
    "fl_attachment/dog.jpg",
    "q_auto:low/dog.jpg",
    "f_jpg/dog.jpg",
    "dog.webp",
    "dog.png",
    "c_scale,w_90/dog.webp",  # eager as jpg only: another extension is another derived file
    "w_60/dog.jpg",  # eager as webp only
    "t_tiny/f_webp/dog.jpg",  # a named transformation plus an output parameter
    "w_120/v1/dog.jpg",
]


@pytest.mark.parametrize("path", REFUSED)
def test_every_unsigned_transformation_is_refused(server: Server, path: str) -> None:
    resp = httpx.get(f"{server.url}/demo/image/upload/{path}")
    assert resp.status_code == 401, path
    assert "strict" in resp.headers["x-cld-error"]


def test_the_original_as_uploaded_and_eager_formats_are_served(server: Server) -> None:
    for path in ["dog", "dog.jpg", "dog.jpeg", "c_scale,w_90/dog", "w_60/dog.webp"]:
        resp = httpx.get(f"{server.url}/demo/image/upload/{path}")
        assert resp.status_code == 200, path
    # signed, any output parameter and format goes
    url = delivery_url("dog", quality=1, fetch_format="avif", sign_url=True)
    assert httpx.get(url).status_code == 200


def test_refusal_does_not_tell_which_ids_exist(server: Server) -> None:
    """A disallowed transformation is a 401 for a missing asset too (no existence oracle); a
    missing original as uploaded is a 404, as a present one is a 200."""
    for path in REFUSED:
        if path.startswith("dog."):
            continue
        missing = path.replace("dog", "no-such-asset")
        resp = httpx.get(f"{server.url}/demo/image/upload/{missing}")
        assert resp.status_code == 401, missing
    bad_sig = f"{server.url}/demo/image/upload/s--AAAAAAAA--/w_10/no-such-asset.jpg"
    assert httpx.get(bad_sig).status_code == 401
    assert httpx.get(f"{server.url}/demo/image/upload/no-such-asset.jpg").status_code == 404
    # a named transformation is open to all, so its 404 is the original's
    missing_named = delivery_url("no-such-asset", transformation="tiny", format="jpg")
    assert httpx.get(missing_named).status_code == 404
