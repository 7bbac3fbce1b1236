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
        ("/demo/image/fetch/http:/x.jpg", InvalidRequest, "fetch"),
        ("/demo/image/private/dog.jpg", InvalidRequest, "private"),
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
