"""Delivery URL paths → DeliveryRequest: chain vs folders, version, extension, signature, errors."""

from __future__ import annotations

import pytest

from alphacdn.transform import CdnError, DeliveryRequest, parse_url
from alphacdn.transform.errors import InvalidRequest, InvalidTransformation, NotFound
from alphacdn.transform.steps import Grayscale, Resize
from alphacdn.transform.values import CropMode, Format


def test_full_url() -> None:
    req = parse_url("/shop/image/upload/s--abcdEFGH--/c_fill,w_4/e_grayscale/v7/shoes/red.jpeg")
    assert req == DeliveryRequest(
        cloud="shop",
        resource_type="image",
        delivery_type="upload",
        signature="abcdEFGH",
        signed_text="c_fill,w_4/e_grayscale/shoes/red.jpeg",
        transformation="c_fill,w_4/e_grayscale",
        plan=req.plan,
        version=7,
        public_id="shoes/red",
        extension="jpg",
    )
    assert [c.steps for c in req.plan.components] == [
        (Resize(4, crop=CropMode.FILL),),
        (Grayscale(),),
    ]
    assert req.format is Format.JPG


@pytest.mark.parametrize(
    ("path", "chain", "version", "public_id", "ext"),
    [
        ("/demo/image/upload/dog.jpg", "", None, "dog", "jpg"),
        ("/demo/image/upload/dog", "", None, "dog", None),
        ("/demo/image/upload/v1/dog.PNG", "", 1, "dog", "png"),
        ("/demo/image/upload/w_100/dog.webp", "w_100", None, "dog", "webp"),
        ("/demo/image/upload/w_100/e_blur:5/pets/dog.avif", "w_100/e_blur:5", None, "pets/dog",
         "avif"),
        ("/demo/image/upload/w_100/v3/w_5/dog.gif", "w_100", 3, "w_5/dog", "gif"),
        ("/demo/image/upload/v12/pets/v2/dog.jpg", "", 12, "pets/v2/dog", "jpg"),
        ("/demo/image/upload/w_5/v1.jpg", "w_5", None, "v1", "jpg"),
        ("/demo/image/upload/my.photo.jpg", "", None, "my.photo", "jpg"),
        ("/demo/image/upload/report.final", "", None, "report.final", None),
        ("/demo/image/upload/a//b.jpg", "", None, "a/b", "jpg"),
        ("/demo/image/upload/photos/dog.jpg", "", None, "photos/dog", "jpg"),
        ("/demo/iu/w_5/dog.jpg", "w_5", None, "dog", "jpg"),
        ("demo/image/upload/red jeans.jpg", "", None, "red jeans", "jpg"),
    ],
)  # fmt: skip
def test_split(path: str, chain: str, version: int | None, public_id: str, ext: str | None) -> None:
    req = parse_url(path)
    assert (req.transformation, req.version, req.public_id, req.extension) == (
        chain,
        version,
        public_id,
        ext,
    )


def test_signed_text_escapes_like_the_sdk() -> None:
    req = parse_url("/demo/image/upload/s--12345678--/w_5/v1/café/red jeans+1%.JPG")
    assert req.signed_text == "w_5/caf%C3%A9/red%20jeans%2B1%25.JPG"
    assert parse_url("/demo/image/upload/dog").signed_text == "dog"


def test_named_transformations_in_urls() -> None:
    req = parse_url("/demo/image/upload/t_thumb/dog.jpg", named={"thumb": "w_5"})
    assert req.plan.components[0].steps == (Resize(5),)
    assert req.plan.named == ("thumb",)
    assert req.transformation == "t_thumb"


@pytest.mark.parametrize(
    ("path", "error", "text"),
    [
        ("/demo/video/upload/dog.mp4", NotFound, "video"),
        ("/demo/raw/upload/doc.txt", NotFound, "raw"),
        ("/demo/image/fetch/ftp://x/y.jpg", InvalidRequest, "only http and https"),
        ("/demo/image/fetch/w_5/dog.jpg", InvalidRequest, "Invalid fetch URL"),
        ("/demo/image/fetch/w_5/http://u:p@x/y.jpg", InvalidRequest, "credentials"),
        ("/demo/image/fetch/w_5/http://x:99999/y.jpg", InvalidRequest, "invalid port"),
        ("/demo/image/fetch/w_5/http://x/y\x01.jpg", InvalidRequest, "control characters"),
        ("/demo/image/fetch/zz_1/http://x/y.jpg", InvalidTransformation, "zz_1"),
        ("/demo/image/sprite/dog.jpg", InvalidRequest, "sprite"),
        ("/demo/image/wat/dog.jpg", NotFound, "wat"),
        ("/demo/image/upload", NotFound, "delivery URL"),
        ("/demo/image/upload/s--abcdefgh--", NotFound, "public_id"),
        ("/", NotFound, "delivery URL"),
        ("/demo/image/upload/dog.tif", InvalidTransformation, "unsupported format"),
        ("/demo/image/upload/dog.HEIC", InvalidTransformation, "unsupported format"),
        ("/demo/image/upload/dog.tiff", InvalidTransformation, ".tiff"),
        ("/demo/image/upload/zz_1/dog.jpg", InvalidTransformation, "zz_1"),
        ("/demo/image/upload/my_photos/dog.jpg", InvalidTransformation, "my_photos"),
        ("/demo/image/upload/e_blur:abc/v1/dog.jpg", InvalidTransformation, "e_blur:abc"),
        ("/demo/image/upload/photos/w_5/v1/dog.jpg", InvalidTransformation, "photos"),
        ("/demo/image/upload/l_dog,w_100/fl_layer_apply,g_south/fl_layer_apply/dog.jpg",
         InvalidTransformation, "fl_layer_apply without an open layer"),
        ("/demo/image/upload/../secret.jpg", InvalidRequest, "public_id"),
        ("/demo/image/upload/v1/a/../../b.jpg", InvalidRequest, "public_id"),
        ("/demo/image/upload/a\x00b.jpg", InvalidRequest, "public_id"),
        ("/demo/image/upload/a\\b.jpg", InvalidRequest, "public_id"),
    ],
)  # fmt: skip
def test_errors(path: str, error: type[CdnError], text: str) -> None:
    with pytest.raises(error) as err:
        parse_url(path)
    assert 400 <= err.value.status < 500
    assert text in err.value.public


FETCHED = [
    "http://127.0.0.1:8080/a/b.png",
    "https://images.example.com/a b/ü.jpg?x=1&y=2",
    "https://images.example.com/already%20escaped.png",
    "http://images.example.com/img.php?id=3#frag",
]


@pytest.mark.parametrize("remote", FETCHED)
@pytest.mark.parametrize(
    "options",
    [{}, {"width": 100, "crop": "scale", "fetch_format": "auto"}, {"format": "png"}],
    ids=["plain", "chain", "format"],
)
def test_sdk_fetch_urls(remote: str, options: dict[str, object]) -> None:
    """The official SDK's `type="fetch"` URLs, signed: the server gets the SDK's remote URL back
    (the path decoded once) and the SDK's signature verifies."""
    from urllib.parse import unquote

    import cloudinary
    import cloudinary.utils

    from alphacdn.transform import verify_url_signature

    cloudinary.config(cloud_name="demo", api_secret="s3cret", secure=False)
    for long in (False, True):  # SHA-1 (8 chars) and the long SHA-256 form (32)
        url, _ = cloudinary.utils.cloudinary_url(
            remote, type="fetch", sign_url=True, long_url_signature=long, **options
        )
        path = "/" + url.split("/", 3)[3]
        req = parse_url(unquote(path))
        assert (req.delivery_type, req.public_id, req.extension, req.version) == (
            "fetch", remote, None, None)  # fmt: skip
        assert req.signature is not None and len(req.signature) == (32 if long else 8)
        assert verify_url_signature(req.signature, req.signed_text, "s3cret")
        assert not verify_url_signature(req.signature, req.signed_text, "other")
    if "format" in options:  # the SDK writes a fetch URL's format as f_
        assert req.plan.output.format is Format.PNG


def test_fetch_url_forms() -> None:
    # a proxy that merged `//`, a plain query string, a version (ignored)
    req = parse_url("/demo/image/fetch/w_5/v3/https:/x.example/img.php", query="id=3&s=1")
    assert req.public_id == "https://x.example/img.php?id=3&s=1"
    assert req.transformation == "w_5" and req.plan.components[0].steps == (Resize(5),)
    # an SDK's analytics parameter is not part of the remote URL (nor of what is signed)
    req = parse_url("/demo/image/fetch/w_5/https://x.example/a?b=1", query="_a=BAXAABDS")
    assert req.public_id == "https://x.example/a?b=1"
    assert req.signed_text == "w_5/https://x.example/a%3Fb%3D1"
    req = parse_url("/demo/image/fetch/https://x.example/a", query="v=2&_a=B")
    assert req.public_id == "https://x.example/a?v=2"
    # a plain (unescaped) remote URL with its own path segments
    req = parse_url("/demo/image/fetch/http://x.example/w_5/a.jpg")
    assert req.public_id == "http://x.example/w_5/a.jpg" and req.transformation == ""


@pytest.mark.parametrize("kind", ["private", "authenticated"])
def test_signed_delivery_types_parse(kind: str) -> None:
    """The wiring (`alphacdn.access`) refuses them unsigned; the grammar reads them as upload."""
    req = parse_url(f"/demo/image/{kind}/s--abcdefgh--/w_10/v3/dog.jpg")
    assert (req.delivery_type, req.signature, req.signed_text) == (kind, "abcdefgh", "w_10/dog.jpg")
