"""Delivery through a real server, with URLs built by the official `cloudinary` SDK."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import cloudinary.api
import httpx
import pytest
import pyvips

from tests.conftest import FIXTURES
from tests.e2e.conftest import delivery_url, upload_fixture
from tests.e2e.server import Server

# dog-bike.jpg fixture is 480×360
SIZES: list[tuple[dict[str, Any], tuple[int, int]]] = [
    ({"width": 200}, (200, 150)),
    ({"height": 90}, (120, 90)),
    ({"width": 200, "height": 100, "crop": "scale"}, (200, 100)),
    ({"width": 200, "height": 200, "crop": "fit"}, (200, 150)),
    ({"width": 1000, "height": 1000, "crop": "limit"}, (480, 360)),
    ({"width": 240, "height": 240, "crop": "limit"}, (240, 180)),
    ({"width": 960, "height": 960, "crop": "mfit"}, (960, 720)),
    ({"width": 200, "height": 200, "crop": "fill"}, (200, 200)),
    ({"width": 200, "height": 200, "crop": "fill", "gravity": "auto"}, (200, 200)),
    ({"width": 200, "height": 200, "crop": "pad", "background": "red"}, (200, 200)),
    ({"width": 300, "height": 100, "crop": "fill_pad", "gravity": "auto"}, (300, 100)),
    ({"width": 100, "height": 80, "crop": "crop", "gravity": "north_west"}, (100, 80)),
    ({"width": 100, "height": 80, "crop": "crop", "x": 10, "y": 20}, (100, 80)),
    ({"width": 120, "height": 120, "crop": "thumb", "gravity": "auto"}, (120, 120)),
    ({"width": 320, "aspect_ratio": "16:9", "crop": "fill"}, (320, 180)),
    ({"width": 300, "aspect_ratio": "1.5", "crop": "fill"}, (300, 200)),
    ({"width": 100, "dpr": "2.0"}, (200, 150)),
    ({"width": 0.5}, (240, 180)),
    ({"angle": 90}, (360, 480)),
    ({"angle": "hflip"}, (480, 360)),
]


def _get(url: str, **headers: str) -> httpx.Response:
    return httpx.get(url, headers=headers, timeout=60)


def _image(resp: httpx.Response) -> pyvips.Image:
    return pyvips.Image.new_from_buffer(resp.content, "")


@pytest.fixture(scope="module")
def dog(server: Server) -> dict[str, Any]:
    return upload_fixture("dog-bike.jpg", "dog")


def test_upload_response_has_cloudinary_fields(dog: dict[str, Any]) -> None:
    for key in (
        "public_id",
        "version",
        "width",
        "height",
        "format",
        "bytes",
        "url",
        "secure_url",
        "etag",
        "created_at",
        "tags",
    ):
        assert key in dog, key
    assert (dog["width"], dog["height"], dog["format"]) == (480, 360, "jpg")


@pytest.mark.parametrize(("options", "size"), SIZES, ids=[str(o) for o, _ in SIZES])
def test_sdk_url_dimensions(
    dog: dict[str, Any], options: dict[str, Any], size: tuple[int, int]
) -> None:
    url = delivery_url("dog", format="png", **options)
    resp = _get(url)
    assert resp.status_code == 200, (url, resp.text)
    img = _image(resp)
    assert (img.width, img.height) == size, url


def test_effects_through_sdk(dog: dict[str, Any]) -> None:
    gray = _image(_get(delivery_url("dog", effect="grayscale", width=200, format="png")))
    colour = _image(_get(delivery_url("dog", width=200, format="png")))
    # grayscale: channels equal everywhere (within rounding)
    r, g, b = (gray[i] for i in range(3))
    assert abs((r - g).abs().avg()) < 1.5 and abs((g - b).abs().avg()) < 1.5
    assert (colour[0] - colour[2]).abs().avg() > 5
    for effect in (
        "blur:300",
        "sharpen",
        "sepia",
        "brightness:30",
        "contrast:50",
        "saturation:-50",
        "negate",
        "pixelate:8",
        "vignette",
        "blackwhite",
        "colorize:50",
        "tint:40:blue",
        "trim",
    ):
        resp = _get(delivery_url("dog", effect=effect, width=160, format="png"))
        assert resp.status_code == 200, (effect, resp.text)


def test_format_negotiation_and_caching_headers(dog: dict[str, Any]) -> None:
    url = delivery_url("dog", width=150, fetch_format="auto", quality="auto")
    webp = _get(url, accept="image/webp,*/*")
    assert webp.status_code == 200
    assert webp.headers["content-type"] == "image/webp"
    assert webp.headers["vary"] == "Accept"
    plain = _get(url, accept="image/*")
    assert plain.headers["content-type"] == "image/jpeg"
    assert plain.headers["etag"] != webp.headers["etag"]
    # If-None-Match → 304
    again = _get(url, accept="image/webp", **{"if-none-match": webp.headers["etag"]})
    assert again.status_code == 304
    # unversioned → short max-age; versioned → immutable
    assert "immutable" not in webp.headers["cache-control"]
    versioned = _get(delivery_url("dog", width=150, version=dog["version"], format="jpg"))
    assert versioned.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "vary" not in versioned.headers


def test_canonical_key_shares_cache_entry(server: Server, dog: dict[str, Any]) -> None:
    a = _get(f"{server.url}/demo/image/upload/w_123,h_77,c_fill/dog.png")
    b = _get(f"{server.url}/demo/image/upload/h_77,c_fill,w_123/dog.png")
    assert a.status_code == b.status_code == 200
    assert a.headers["x-alphacdn-cache"] == "MISS"
    assert b.headers["x-alphacdn-cache"] == "HIT"
    assert a.headers["etag"] == b.headers["etag"]


def test_single_flight_cold_requests(server: Server, dog: dict[str, Any]) -> None:
    url = f"{server.url}/demo/image/upload/c_fill,w_311,h_211/e_sharpen/dog.webp"
    before = httpx.get(server.url + "/metrics.json").json()["renders"]
    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(lambda _: _get(url).status_code, range(16)))
    assert statuses == [200] * 16
    after = httpx.get(server.url + "/metrics.json").json()["renders"]
    assert after - before == 1


def test_signed_urls(server: Server, dog: dict[str, Any]) -> None:
    good = delivery_url("dog", width=140, sign_url=True, format="jpg")
    assert "/s--" in good
    assert _get(good).status_code == 200
    long = delivery_url("dog", width=141, sign_url=True, long_url_signature=True, format="jpg")
    assert _get(long).status_code == 200
    tampered = good.replace("w_140", "w_141")
    resp = _get(tampered)
    assert resp.status_code == 401
    assert "x-cld-error" in resp.headers


def test_named_transformation_via_admin_api(server: Server, dog: dict[str, Any]) -> None:
    cloudinary.api.create_transformation("small_square", "c_fill,w_64,h_64/e_grayscale")
    resp = _get(delivery_url("dog", transformation="small_square", format="png"))
    assert resp.status_code == 200, resp.text
    assert (_image(resp).width, _image(resp).height) == (64, 64)


def test_admin_resource_list_delete(server: Server) -> None:
    upload_fixture("cat-street.jpg", "pets/cat", tags=["cat", "street"])
    res = cloudinary.api.resource("pets/cat")
    assert res["public_id"] == "pets/cat" and res["tags"] == ["cat", "street"]
    listed = cloudinary.api.resources(prefix="pets/")
    assert [r["public_id"] for r in listed["resources"]] == ["pets/cat"]
    assert _get(delivery_url("pets/cat", width=50, format="jpg")).status_code == 200
    deleted = cloudinary.api.delete_resources(["pets/cat"])
    assert deleted["deleted"]["pets/cat"] == "deleted"
    assert _get(delivery_url("pets/cat", width=50, format="jpg")).status_code == 404


def test_exif_orientation_applied(server: Server) -> None:
    upload_fixture("waterfall-exif6.jpg", "waterfall")
    img = _image(_get(delivery_url("waterfall", width=100, format="png")))
    # stored 113×150 with orientation 6 → displayed landscape
    assert img.width == 100 and img.height < img.width


@pytest.mark.parametrize(
    ("path", "status", "needle"),
    [
        ("/demo/image/upload/w_abc/dog.jpg", 400, "w_abc"),
        ("/demo/image/upload/e_blur:abc/dog.jpg", 400, "e_blur:abc"),
        ("/demo/image/upload/e_nosuch/dog.jpg", 400, "e_nosuch"),
        ("/demo/image/upload/w_100,zz_3/dog.jpg", 400, "zz_3"),
        ("/demo/image/upload/c_nosuch,w_10/dog.jpg", 400, "c_nosuch"),
        ("/demo/image/upload/w_100/e_background_removal/dog.jpg", 400, "background_removal"),
        ("/demo/image/upload/w_100/missing.jpg", 404, "missing"),
        ("/demo/image/upload/w_100/dog.bmp", 400, "bmp"),
        ("/nosuchcloud/image/upload/w_100/dog.jpg", 404, "nosuchcloud"),
        ("/demo/image/upload/w_100/..%2F..%2Fetc%2Fpasswd", 400, "public_id"),
        ("/demo/image/upload/w_100/%2e%2e/%2e%2e/etc/passwd", 400, "public_id"),
        ("/demo/image/upload/t_nosuch/dog.jpg", 400, "nosuch"),
    ],
)
def test_bad_urls_get_clear_4xx(
    server: Server, dog: dict[str, Any], path: str, status: int, needle: str
) -> None:
    resp = _get(server.url + path)
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("text/plain")
    assert needle in resp.headers["x-cld-error"]


def test_bad_uploads(server: Server) -> None:
    import cloudinary.exceptions

    with pytest.raises(cloudinary.exceptions.Error, match="Invalid image file"):
        cloudinary.uploader.upload(io.BytesIO(b"this is not an image"), public_id="junk")
    data = (FIXTURES / "e2e" / "dog-bike.jpg").read_bytes()
    with pytest.raises(cloudinary.exceptions.Error, match=r"(?i)invalid image file.*truncated"):
        cloudinary.uploader.upload(io.BytesIO(data[: len(data) // 2]), public_id="truncated")
    with pytest.raises(cloudinary.exceptions.Error, match=r"(?i)public_id"):
        cloudinary.uploader.upload(FIXTURES / "e2e" / "anim.gif", public_id="../../escape")
    assert not (server.data_dir.parent / "escape").exists()


def test_refused_formats_never_share_a_cache_entry(dog: dict[str, Any]) -> None:
    url = delivery_url("dog", width=131, fetch_format="auto")
    refuses_avif = _get(url, accept="image/avif;q=0, image/webp")
    assert refuses_avif.headers["content-type"] == "image/webp"
    wants_avif = _get(url, accept="image/avif,image/webp")
    assert wants_avif.headers["content-type"] == "image/avif"
    assert _get(url, accept="image/avif;q=0").headers["content-type"] == "image/jpeg"
