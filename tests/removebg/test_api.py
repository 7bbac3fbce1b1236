"""`POST /v1.0/removebg` and `GET /v1.0/account` through a real uvicorn: tables of parameters →
status / error code, result headers, formats, auth, credits and rate limits."""

from __future__ import annotations

import base64
import io
import zipfile
from typing import Any

import httpx
import pytest
import pyvips

from tests.removebg.helpers import KEY, POOR_KEY, SLOW_KEY, Listener, make_image

IMAGE = make_image()
AUTH = {"X-Api-Key": KEY}


def post(
    client: httpx.Client,
    data: dict[str, str],
    *,
    key: str = KEY,
    image: bytes | None = IMAGE,
    **kwargs: Any,
) -> httpx.Response:
    files = {"image_file": ("in.png", image)} if image is not None else None
    return client.post(
        "/v1.0/removebg",
        data=data,
        files=files,
        headers={"X-Api-Key": key, **kwargs.pop("headers", {})},
        **kwargs,
    )


def error_code(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"errors"} and body["errors"][0]["title"]
    return str(body["errors"][0].get("code", ""))


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"size": "huge"}, "unknown_value"),
        ({"type": "dog"}, "unknown_value"),
        ({"format": "gif"}, "unknown_value"),
        ({"channels": "rgb"}, "unknown_value"),
        ({"shadow_type": "soft"}, "unknown_value"),
        ({"shadow_opacity": "101"}, "invalid_shadow_opacity"),
        ({"roi": "0 0 10"}, "invalid_roi"),
        ({"roi": "50% 0% 10% 100%"}, "invalid_roi"),
        ({"crop": "maybe"}, "invalid_boolean"),
        ({"crop_margin": "1px 2px 3px"}, "invalid_crop_margin"),
        ({"crop_margin": "-5px"}, "invalid_length"),
        ({"scale": "5%"}, "invalid_scale"),
        ({"position": "left"}, "invalid_position"),
        ({"bg_color": "notacolor"}, "invalid_bg_color"),
        ({"bg_color": "red", "bg_image_url": "http://x/y.png"}, "multiple_bg_sources"),
        ({"mask_shrink": "999"}, "invalid_mask_shrink"),
        ({"image_url": "http://example.com/a.png"}, "multiple_sources"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(
    client: httpx.Client, data: dict[str, str], code: str
) -> None:
    response = post(client, data)
    assert response.status_code == 400, response.text
    assert error_code(response) == code
    assert "X-RateLimit-Limit" in response.headers


@pytest.mark.parametrize(
    ("data", "image", "code"),
    [
        ({}, None, "missing_source"),
        ({"image_file_b64": "!!!notbase64"}, None, "invalid_image_file_b64"),
        ({}, b"not an image at all", "invalid_image"),
        ({}, make_image(box=False), "unknown_foreground"),
        ({"image_url": "ftp://example.com/a.png"}, None, "invalid_url"),
    ],
)
def test_unusable_sources(
    client: httpx.Client, data: dict[str, str], image: bytes | None, code: str
) -> None:
    response = post(client, data, image=image)
    assert response.status_code == 400
    assert error_code(response) == code


def test_png_result_headers_and_foreground(client: httpx.Client) -> None:
    response = post(client, {"size": "preview", "format": "png"})
    assert response.status_code == 200, response.text
    h = response.headers
    assert h["content-type"] == "image/png"
    assert (h["X-Width"], h["X-Height"]) == ("120", "80")
    assert (h["X-Foreground-Left"], h["X-Foreground-Top"]) == ("30", "20")
    assert (h["X-Foreground-Width"], h["X-Foreground-Height"]) == ("60", "40")
    assert h["X-Type"] == "product" and h["X-Credits-Charged"] == "0.25"
    image = pyvips.Image.new_from_buffer(response.content, "")
    assert image.bands == 4 and image[3].getpoint(5, 5) == [0.0]
    assert image[3].getpoint(60, 40) == [255.0]


def test_alpha_channel_zip_jpg_and_json(client: httpx.Client) -> None:
    alpha = post(client, {"channels": "alpha", "size": "full"})
    assert alpha.headers["content-type"] == "image/png"
    assert pyvips.Image.new_from_buffer(alpha.content, "").bands == 1
    assert alpha.headers["X-Credits-Charged"] == "1"
    zipped = post(client, {"format": "zip"})
    assert zipped.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(zipped.content))
    assert sorted(archive.namelist()) == ["alpha.png", "color.jpg"]
    assert pyvips.Image.new_from_buffer(archive.read("alpha.png"), "").bands == 1
    assert pyvips.Image.new_from_buffer(archive.read("color.jpg"), "").bands == 3
    jpg = post(client, {"bg_color": "00f"})  # opaque background → auto picks JPG
    assert jpg.headers["content-type"] == "image/jpeg"
    as_json = post(
        client, {"crop": "true", "crop_margin": "10%"}, headers={"Accept": "application/json"}
    ).json()["data"]
    assert (as_json["width"], as_json["height"]) == (72, 48)
    assert base64.b64decode(as_json["result_b64"])[:4] == b"\x89PNG"


def test_b64_and_url_sources(client: httpx.Client, listener: Listener) -> None:
    b64 = post(client, {"image_file_b64": base64.b64encode(IMAGE).decode()}, image=None)
    assert b64.status_code == 200
    listener.files["/shoe.png"] = IMAGE
    url = post(
        client,
        {"image_url": listener.url + "/shoe.png", "type": "car", "type_level": "2"},
        image=None,
    )
    assert url.status_code == 200 and url.headers["X-Type"] == "car"
    missing = post(client, {"image_url": listener.url + "/nope.png"}, image=None)
    assert error_code(missing) == "failed_to_download"


def test_json_body(client: httpx.Client) -> None:
    body = {"image_file_b64": base64.b64encode(IMAGE).decode(), "crop": True, "scale": "50%"}
    response = client.post("/v1.0/removebg", json=body, headers=AUTH)
    assert response.status_code == 200 and response.headers["X-Width"] == "60"


def test_auth_errors(client: httpx.Client) -> None:
    missing = client.post("/v1.0/removebg", files={"image_file": ("a.png", IMAGE)})
    assert missing.status_code == 403 and error_code(missing) == "missing_api_key"
    wrong = post(client, {}, key="nope")
    assert wrong.status_code == 403 and error_code(wrong) == "invalid_api_key"
    assert client.get("/v1.0/account").status_code == 403


def test_credits_free_calls_and_402(client: httpx.Client) -> None:
    account = client.get("/v1.0/account", headers={"X-Api-Key": POOR_KEY}).json()
    assert account["data"]["attributes"]["credits"]["total"] == 0.5
    assert account["data"]["attributes"]["api"]["free_calls"] == 1
    assert post(client, {}, key=POOR_KEY).headers["X-Credits-Charged"] == "0"  # free call
    full = post(client, {"size": "full"}, key=POOR_KEY)
    assert full.status_code == 402 and error_code(full) == "insufficient_credits"
    assert post(client, {"size": "preview"}, key=POOR_KEY).status_code == 200
    assert post(client, {"size": "auto"}, key=POOR_KEY).headers["X-Credits-Charged"] == "0.25"
    assert post(client, {}, key=POOR_KEY).status_code == 402  # 0.5 - 0.25 - 0.25 = 0


def test_rate_limit_429_with_headers(client: httpx.Client) -> None:
    big = make_image(1500, 1000)  # 1.5 MP → weight 2 against a limit of 3
    first = post(client, {}, key=SLOW_KEY, image=big)
    assert first.status_code == 200
    assert first.headers["X-RateLimit-Limit"] == "3"
    assert first.headers["X-RateLimit-Remaining"] == "1"
    second = post(client, {}, key=SLOW_KEY, image=big)
    assert second.status_code == 429 and error_code(second) == "rate_limit_exceeded"
    assert 1 <= int(second.headers["Retry-After"]) <= 60
    assert int(second.headers["X-RateLimit-Reset"]) > 0
    assert second.headers["X-RateLimit-Remaining"] == "1"


def test_output_limits_name_the_limit(client: httpx.Client) -> None:
    response = post(
        client, {"size": "full", "format": "png"}, image=make_image(4000, 2600, fmt=".jpg")
    )
    assert response.status_code == 400 and error_code(response) == "limit_png_10mp"
