"""One boolean parser on every surface, through a real server and the official SDK: the upload
API's `overwrite`, `invalidate` and `eager_async`, and the remove.bg API's flags agree."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import cloudinary.exceptions
import cloudinary.uploader
import httpx
import pytest
import pyvips

from alphacdn.settings import DEV_REMOVEBG_KEY
from tests.e2e.conftest import configure_sdk
from tests.e2e.server import Server


def _png(shade: int) -> io.BytesIO:
    img = pyvips.Image.black(20, 12, bands=3).linear(1, [shade, 40, 90]).cast("uchar")
    return io.BytesIO(img.copy(interpretation="srgb").pngsave_buffer())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("bools")).start()
    configure_sdk(srv)
    yield srv
    srv.stop()


def _upload(shade: int, public_id: str, **options: Any) -> dict[str, Any]:
    result: dict[str, Any] = cloudinary.uploader.upload(_png(shade), public_id=public_id, **options)
    return result


@pytest.mark.parametrize(("spelling", "is_async"), [("yes", True), ("1", True), ("no", False)])
def test_eager_async_spellings(server: Server, spelling: str, is_async: bool) -> None:
    result = _upload(10, f"eager-{spelling}", eager="w_10", eager_async=spelling)
    [entry] = result["eager"]
    assert entry["status"] == ("pending" if is_async else "processed"), entry


def test_overwrite_spellings(server: Server) -> None:
    first = _upload(10, "ow")
    kept = _upload(200, "ow", overwrite="no")
    assert kept.get("existing") is True and kept["version"] == first["version"]
    kept = _upload(200, "ow", overwrite="off")
    assert kept.get("existing") is True
    replaced = _upload(200, "ow", overwrite="yes")
    assert not replaced.get("existing") and replaced["etag"] != first["etag"]


@pytest.mark.parametrize("name", ["overwrite", "invalidate", "eager_async"])
def test_a_bad_boolean_is_a_400_naming_it(server: Server, name: str) -> None:
    options: dict[str, Any] = {name: "maybe"}
    if name == "eager_async":
        options["eager"] = "w_10"
    with pytest.raises(cloudinary.exceptions.Error, match=f"Invalid value for {name}"):
        _upload(10, f"bad-{name}", **options)


def test_removebg_flags_take_the_same_spellings(server: Server) -> None:
    def post(crop: str) -> httpx.Response:
        # no image: the parameters are checked first, so a flag's spelling decides 400 vs not
        return httpx.post(
            server.url + "/v1.0/removebg",
            data={"crop": crop, "image_url": "not a url"},
            headers={"X-Api-Key": DEV_REMOVEBG_KEY},
        )

    bad = post("maybe")
    assert bad.status_code == 400 and bad.json()["errors"][0]["code"] == "invalid_boolean"
    for spelling in ("yes", "on", "1", "true", "no", "0"):
        resp = post(spelling)
        assert resp.json()["errors"][0].get("code") != "invalid_boolean", spelling
