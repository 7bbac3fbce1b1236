"""Limits and degraded modes through a real server: missing model, full queue, upload forms."""

from __future__ import annotations

import base64
import io
import time
from pathlib import Path

import cloudinary.exceptions
import cloudinary.uploader
import httpx
import pytest

from tests.conftest import FIXTURES
from tests.e2e.conftest import configure_sdk, upload_fixture
from tests.e2e.server import Server


def test_missing_model_server_starts_and_answers_503(tmp_path: Path) -> None:
    srv = Server(tmp_path / "d", env={"ALPHACDN_MODELS_DIR": str(tmp_path / "nomodels")})
    srv.start()
    try:
        configure_sdk(srv)
        upload_fixture("dog-bike.jpg", "dog")
        assert httpx.get(f"{srv.url}/demo/image/upload/w_50/dog.jpg").status_code == 200
        resp = httpx.get(f"{srv.url}/demo/image/upload/e_background_removal/dog.png")
        assert resp.status_code == 503
        assert "alphacdn fetch-models" in resp.headers["x-cld-error"]
        assert "fetch-models" in srv.log()  # logged at startup
    finally:
        srv.stop()


@pytest.mark.model
def test_full_queue_answers_503_with_retry_after(tmp_path: Path) -> None:
    srv = Server(tmp_path / "d", env={"ALPHACDN_QUEUE_MAX": "1"}).start()
    try:
        configure_sdk(srv)
        upload_fixture("car-house.jpg", "a")
        upload_fixture("dog-bike.jpg", "b")
        first = httpx.get(f"{srv.url}/demo/image/upload/e_background_removal/a.png")
        second = httpx.get(f"{srv.url}/demo/image/upload/e_background_removal/b.png")
        assert first.status_code == 423
        assert second.status_code == 503, second.text
        assert int(second.headers["retry-after"]) >= 1
        assert "queue is full" in second.headers["x-cld-error"]
        for _ in range(300):  # once the queue drains, b is accepted
            if (
                httpx.get(f"{srv.url}/demo/image/upload/e_background_removal/a.png").status_code
                == 200
            ):
                break
            time.sleep(0.2)
        later = httpx.get(f"{srv.url}/demo/image/upload/e_background_removal/b.png")
        assert later.status_code in (200, 423)
    finally:
        srv.stop()


def test_upload_forms_and_limits(tmp_path: Path) -> None:
    data = (FIXTURES / "e2e" / "cat-street.jpg").read_bytes()
    srv = Server(
        tmp_path / "d",
        env={
            "ALPHACDN_MAX_UPLOAD_BYTES": str(len(data) + 10),
            "ALPHACDN_ALLOW_REMOTE_UPLOAD": "true",
            "ALPHACDN_ALLOW_PRIVATE_URLS": "true",
        },
    ).start()
    try:
        configure_sdk(srv)
        uri = "data:image/jpeg;base64," + base64.b64encode(data).decode()
        r1 = cloudinary.uploader.upload(uri, public_id="from-data-uri")
        assert (r1["width"], r1["format"]) == (400, "jpg")
        r2 = cloudinary.uploader.upload(r1["url"], public_id="from-url")  # remote URL upload
        assert (r2["width"], r2["height"]) == (r1["width"], r1["height"])
        big = (FIXTURES / "e2e" / "car-house.jpg").read_bytes()
        assert len(big) > len(data) + 10
        with pytest.raises(cloudinary.exceptions.Error, match=r"(?i)too large"):
            cloudinary.uploader.upload(io.BytesIO(big), public_id="too-big")
    finally:
        srv.stop()


def test_remote_upload_refuses_private_addresses(tmp_path: Path) -> None:
    srv = Server(tmp_path / "d", env={"ALPHACDN_ALLOW_REMOTE_UPLOAD": "true"}).start()
    try:
        configure_sdk(srv)
        upload_fixture("cat-street.jpg", "cat")
        with pytest.raises(cloudinary.exceptions.Error) as info:
            cloudinary.uploader.upload(f"{srv.url}/demo/image/upload/cat.jpg", public_id="x")
        assert "non-public address" in str(info.value)
    finally:
        srv.stop()
