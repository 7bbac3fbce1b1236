"""Browser uploads: unsigned upload presets as Cloudinary has them (config file and admin API,
through the official SDK's `create_upload_preset` and `unsigned_upload`), refusals as Cloudinary
words them, and CORS (`ALPHACDN_CORS_ORIGINS`) on the upload API, remove.bg API and delivery."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import cloudinary
import cloudinary.api
import cloudinary.exceptions
import cloudinary.uploader
import httpx
import pytest

from alphacdn.settings import DEV_REMOVEBG_KEY
from tests.conftest import FIXTURES
from tests.e2e.conftest import configure_sdk
from tests.e2e.server import Server

pytestmark = pytest.mark.model

SHOP = "http://shop.test:5173"
TIGER = FIXTURES / "e2e" / "tiger-on-backdrop.jpg"
CAT_DOG = FIXTURES / "e2e" / "cat-dog.png"

CONFIG = """
[upload_presets.from_config]
unsigned = true
folder = "configured"
tags = ["cfg"]
allowed_formats = ["jpg"]
"""


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("shop")
    (root / "alphacdn.toml").write_text(CONFIG)
    env = {"ALPHACDN_CORS_ORIGINS": SHOP, "ALPHACDN_CONFIG": str(root / "alphacdn.toml")}
    srv = Server(root / "data", env=env).start()
    configure_sdk(srv)
    cloudinary.api.create_upload_preset(
        name="storefront",
        unsigned=True,
        folder="products",
        tags="storefront,new",
        eager="e_background_removal/c_fill,w_120,h_120/png",
        eager_async=True,
        allowed_formats="jpg,png,webp",
    )
    cloudinary.api.create_upload_preset(name="signed_only", folder="private")
    yield srv
    srv.stop()


def _bad_request(call: Any) -> str:
    with pytest.raises(cloudinary.exceptions.BadRequest) as caught:
        call()
    return str(caught.value)


def test_the_admin_api_creates_lists_reads_and_updates_presets(shop: Server) -> None:
    configure_sdk(shop)
    one = cloudinary.api.upload_preset("storefront")
    assert one["name"] == "storefront" and one["unsigned"] is True
    settings = one["settings"]
    assert settings["folder"] == "products"
    assert settings["tags"] == ["storefront", "new"]
    assert settings["allowed_formats"] == ["jpg", "png", "webp"]
    assert settings["eager"] == "e_background_removal/c_fill,w_120,h_120/png"
    names = {p["name"]: p["unsigned"] for p in cloudinary.api.upload_presets()["presets"]}
    assert names == {"storefront": True, "signed_only": False, "from_config": True}
    cloudinary.api.create_upload_preset(name="temp", unsigned=True, folder="a")
    cloudinary.api.update_upload_preset("temp", folder="b")
    assert cloudinary.api.upload_preset("temp")["settings"]["folder"] == "b"
    cloudinary.api.delete_upload_preset("temp")
    with pytest.raises(cloudinary.exceptions.NotFound):
        cloudinary.api.upload_preset("temp")
    # a bad eager chain or setting is refused when the preset is made, not at upload time
    assert "e_nonsense" in _bad_request(
        lambda: cloudinary.api.create_upload_preset(name="bad", eager="e_nonsense")
    )
    assert "overwrite" in _bad_request(
        lambda: cloudinary.api.create_upload_preset(name="bad", overwrite="maybe")
    )


def test_unsigned_upload_through_an_unsigned_preset(shop: Server) -> None:
    configure_sdk(shop)
    result = cloudinary.uploader.unsigned_upload(
        str(TIGER), "storefront", public_id="tiger", tags="mine"
    )
    assert result["public_id"] == "products/tiger"
    assert result["tags"] == ["storefront", "new", "mine"]
    assert result["eager"][0]["status"] == "pending"
    # the preset's eager chain (a cut-out) is made in the background
    url = f"{shop.url}/demo/image/upload/e_background_removal/c_fill,w_120,h_120/products/tiger.png"
    deadline = time.monotonic() + 60
    while (resp := httpx.get(url, timeout=30)).status_code == 423:
        assert time.monotonic() < deadline, "eager cut-out never finished"
        time.sleep(0.3)
    assert resp.status_code == 200 and resp.headers["content-type"] == "image/png"
    # an unsigned upload never overwrites an asset
    again = cloudinary.uploader.unsigned_upload(str(CAT_DOG), "storefront", public_id="tiger")
    assert again.get("existing") is True and again["format"] == "jpg"


def test_an_unsigned_preset_with_background_removal(shop: Server) -> None:
    configure_sdk(shop)
    cloudinary.api.create_upload_preset(
        name="cutouts", unsigned=True, folder="cut", background_removal="cloudinary_ai"
    )
    assert cloudinary.api.upload_preset("cutouts")["settings"]["background_removal"] == (
        "cloudinary_ai"
    )
    result = cloudinary.uploader.unsigned_upload(str(TIGER), "cutouts", public_id="tiger")
    assert result["public_id"] == "cut/tiger"
    assert result["info"]["background_removal"]["cloudinary_ai"]["status"] == "pending"
    # the asset becomes its PNG cut-out (a new version), as with a signed upload
    deadline = time.monotonic() + 60
    while cloudinary.api.resource("cut/tiger")["format"] != "png":
        assert time.monotonic() < deadline, "upload-time removal never finished"
        time.sleep(0.3)
    assert "bad" in _bad_request(
        lambda: cloudinary.api.create_upload_preset(name="x", background_removal="bad")
    )


def test_config_file_presets_and_allowed_formats(shop: Server) -> None:
    configure_sdk(shop)
    ok = cloudinary.uploader.unsigned_upload(str(TIGER), "from_config")
    assert ok["public_id"].startswith("configured/") and ok["tags"] == ["cfg"]
    message = _bad_request(lambda: cloudinary.uploader.unsigned_upload(str(CAT_DOG), "from_config"))
    assert "Image file format png not allowed" in message


def test_unsigned_uploads_without_a_valid_preset_are_refused_as_cloudinary_does(
    shop: Server,
) -> None:
    configure_sdk(shop)
    bare = httpx.post(
        f"{shop.url}/v1_1/demo/image/upload", files={"file": TIGER.read_bytes()}, timeout=30
    )
    assert bare.status_code == 400
    assert bare.json() == {
        "error": {"message": "Upload preset must be specified when using unsigned upload"}
    }
    missing = _bad_request(lambda: cloudinary.uploader.unsigned_upload(str(TIGER), "nope"))
    assert "Upload preset not found" in missing
    signed_only = _bad_request(
        lambda: cloudinary.uploader.unsigned_upload(str(TIGER), "signed_only")
    )
    assert "Upload preset must be whitelisted for unsigned uploads" in signed_only
    # what only the preset may set cannot come from a browser
    eager = _bad_request(
        lambda: cloudinary.uploader.unsigned_upload(str(TIGER), "storefront", eager="w_10")
    )
    assert "eager is not allowed in an unsigned upload" in eager


def test_a_signed_upload_takes_the_rest_from_its_preset(shop: Server) -> None:
    configure_sdk(shop)
    result = cloudinary.uploader.upload(str(TIGER), upload_preset="signed_only", public_id="t")
    assert result["public_id"] == "private/t"


def test_cors_preflight_and_headers(shop: Server) -> None:
    upload = f"{shop.url}/v1_1/demo/image/upload"
    pre = httpx.options(
        upload,
        headers={
            "Origin": SHOP,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-requested-with",
        },
    )
    assert pre.status_code == 204
    assert pre.headers["access-control-allow-origin"] == SHOP
    assert "POST" in pre.headers["access-control-allow-methods"]
    assert pre.headers["access-control-allow-headers"] == "x-requested-with"
    other = httpx.options(
        upload, headers={"Origin": "http://evil.test", "Access-Control-Request-Method": "POST"}
    )
    assert other.status_code == 403 and "ALPHACDN_CORS_ORIGINS" in other.text

    posted = httpx.post(
        upload,
        data={"upload_preset": "storefront", "public_id": "cors"},
        files={"file": TIGER.read_bytes()},
        headers={"Origin": SHOP},
        timeout=30,
    )
    assert posted.status_code == 200, posted.text
    assert posted.headers["access-control-allow-origin"] == SHOP

    image = f"{shop.url}/demo/image/upload/c_scale,w_50/products/cors.jpg"
    got = httpx.get(image, headers={"Origin": SHOP})
    assert got.status_code == 200
    assert got.headers["access-control-allow-origin"] == SHOP
    assert "Origin" in got.headers["vary"]
    assert "Retry-After" in got.headers["access-control-expose-headers"]
    assert got.headers["timing-allow-origin"] == SHOP
    # an <img> sends no Origin: resource timing still sees the sizes
    assert httpx.get(image).headers["timing-allow-origin"] == SHOP
    assert (
        "access-control-allow-origin"
        not in httpx.get(image, headers={"Origin": "http://x.y"}).headers
    )
    # errors carry them too (a 423's Retry-After must be readable by the retry helper)
    cut = f"{shop.url}/demo/image/upload/e_background_removal/products/cors.png"
    first = httpx.get(cut, headers={"Origin": SHOP})
    assert first.status_code in (200, 423)
    assert first.headers["access-control-allow-origin"] == SHOP

    removebg = httpx.options(
        f"{shop.url}/v1.0/removebg",
        headers={
            "Origin": SHOP,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-api-key",
        },
    )
    assert removebg.status_code == 204 and removebg.headers["access-control-allow-headers"]
    account = httpx.get(
        f"{shop.url}/v1.0/account", headers={"Origin": SHOP, "X-Api-Key": DEV_REMOVEBG_KEY}
    )
    assert account.headers["access-control-allow-origin"] == SHOP
    # the admin API (api_secret) is never opened to browsers
    admin = httpx.options(
        f"{shop.url}/v1_1/demo/upload_presets",
        headers={"Origin": SHOP, "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in admin.headers


def test_no_cors_headers_without_the_setting(server: Server) -> None:
    got = httpx.options(
        f"{server.url}/v1_1/demo/image/upload",
        headers={"Origin": SHOP, "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in got.headers
