"""Faces through a real server, URLs built by the official SDK: face gravities, thumbnails, face
effects, the no-face fallbacks, the face model's cache per content, and bad values as 400s."""

from __future__ import annotations

import json
from collections.abc import Iterator

import cloudinary
import cloudinary.uploader
import httpx
import pytest
import pyvips

from tests.conftest import FIXTURES
from tests.e2e.conftest import configure_sdk, delivery_url, upload_fixture
from tests.e2e.server import Server

pytestmark = pytest.mark.model

WOMEN = FIXTURES / "faces" / "two-women.jpg"  # 320×480, two faces side by side at mid-height


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("faces")).start()
    configure_sdk(srv)
    cloudinary.uploader.upload(str(WOMEN), public_id="women")
    upload_fixture("portrait-longhair.jpg", "sea")
    upload_fixture("car-house.jpg", "car")
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def _sdk_on_module_server(server: Server) -> None:
    configure_sdk(server)


def get(url: str) -> httpx.Response:
    return httpx.get(url, timeout=60)


def image(resp: httpx.Response) -> pyvips.Image:
    assert resp.status_code == 200, (resp.status_code, resp.headers.get("x-cld-error"))
    return pyvips.Image.new_from_buffer(resp.content, "")


def info(public_id: str, **options: object) -> dict[str, object]:
    resp = get(delivery_url(public_id, flags="getinfo", **options))
    assert resp.status_code == 200, resp.headers.get("x-cld-error")
    found: dict[str, object] = json.loads(resp.content)
    return found


def test_getinfo_lists_both_faces() -> None:
    found = info("women", crop="thumb", gravity="faces", width=100, height=100)
    faces = found["faces"]
    assert isinstance(faces, list) and len(faces) == 2
    for face in faces:
        assert 150 < face["y"] + face["height"] / 2 < 330 and face["width"] > 40


def test_thumb_on_the_face_with_zoom() -> None:
    plain = info("sea", crop="thumb", gravity="face", width=80, height=80)
    closer = info("sea", crop="thumb", gravity="face", width=80, height=80, zoom=2.0)
    region, tight = plain["g_auto"][0], closer["g_auto"][0]  # type: ignore[index]
    face = plain["faces"][0]  # type: ignore[index]
    # the region is centred on the face, and z_2 halves it
    assert abs(region["x"] + region["width"] / 2 - (face["x"] + face["width"] / 2)) < 3
    assert tight["width"] < region["width"] and tight["by"] == "face"
    out = image(get(delivery_url("sea", crop="thumb", gravity="face", width=80, height=80)))
    assert (out.width, out.height) == (80, 80)


def test_fill_on_the_largest_face_differs_from_centre() -> None:
    on_face = info("women", crop="fill", gravity="face", width=100, height=480)
    g = on_face["g_auto"][0]  # type: ignore[index]
    faces = on_face["faces"]
    assert isinstance(faces, list)
    largest = max(faces, key=lambda f: f["width"] * f["height"])
    centre_x = largest["x"] + largest["width"] / 2
    assert abs(g["x"] + 50 - centre_x) <= 2 or g["x"] == 0  # centred on it (or clamped)
    assert abs(g["x"] - 110) > 20  # not where a centre crop is (x 110..210)


def test_crop_faces_without_size_keeps_both() -> None:
    found = info("women", crop="crop", gravity="faces")
    faces = found["faces"]
    out = found["output"]
    assert isinstance(faces, list) and isinstance(out, dict)
    left = min(f["x"] for f in faces)
    right = max(f["x"] + f["width"] for f in faces)
    assert abs(out["width"] - (right - left)) <= 2


def test_pixelate_and_blur_faces_change_the_faces_only() -> None:
    original = image(get(delivery_url("women", format="png")))
    for effect in ("pixelate_faces:15", "blur_faces"):
        out = image(get(delivery_url("women", effect=effect, format="png")))
        diff = (out.cast("float") - original.cast("float")).abs()
        assert diff.crop(40, 230, 60, 40).avg() > 4, effect
        assert diff.crop(0, 0, 320, 120).max() == 0, effect  # the sky above them


def test_no_face_fallbacks() -> None:
    north = info("car", crop="fill", gravity="face", width=200, height=100)
    assert north["faces"] == [] and "g_auto" not in north  # a plain north crop
    car = image(get(delivery_url("car", crop="fill", gravity="face", width=200, height=100)))
    top = image(get(delivery_url("car", crop="fill", gravity="north", width=200, height=100)))
    assert (car.cast("float") - top.cast("float")).abs().avg() < 1  # g_face → north
    centre = image(
        get(delivery_url("car", crop="fill", gravity="face:center", width=200, height=100))
    )
    middle = image(get(delivery_url("car", crop="fill", width=200, height=100)))
    assert (centre.cast("float") - middle.cast("float")).abs().avg() < 1
    auto = info("car", crop="fill", gravity="auto:faces", width=200, height=100)
    assert auto["g_auto"][0]["by"] == "attention"  # type: ignore[index]
    same = image(get(delivery_url("car", effect="pixelate_faces", format="png")))
    plain = image(get(delivery_url("car", format="png")))
    assert (same.cast("float") - plain.cast("float")).abs().max() == 0


def test_plain_auto_gravity_uses_the_faces() -> None:
    found = info("women", crop="fill", gravity="auto", width=320, height=160)
    assert found["g_auto"][0]["by"] == "faces"  # type: ignore[index]


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"effect": "pixelate_faces:0"}, "e_pixelate_faces:0"),
        ({"effect": "pixelate_faces:500"}, "e_pixelate_faces:500"),
        ({"effect": "blur_faces:9999"}, "e_blur_faces:9999"),
        ({"effect": "blur_faces:soft"}, "e_blur_faces:soft"),
        ({"gravity": "face:north", "crop": "fill", "width": 50, "height": 50}, "g_face:north"),
        ({"gravity": "faces:auto:more", "crop": "thumb", "width": 50}, "g_faces:auto:more"),
    ],
)
def test_bad_face_values_are_400_naming_the_component(
    options: dict[str, object], named: str
) -> None:
    resp = get(delivery_url("women", **options))
    assert resp.status_code == 400
    assert named in resp.headers["x-cld-error"]


def test_detected_once_per_content(server: Server) -> None:
    def detections() -> int:
        return int(httpx.get(f"{server.url}/metrics.json", timeout=10).json()["face_detections"])

    fresh = server.data_dir / "fresh.jpg"  # bytes no other test uploads: nothing cached
    fresh.write_bytes(pyvips.Image.new_from_file(str(WOMEN)).jpegsave_buffer(Q=77, keep="none"))
    cloudinary.uploader.upload(str(fresh), public_id="fresh")
    cloudinary.uploader.upload(str(fresh), public_id="fresh/twin")
    before = detections()
    for options in (
        {"crop": "thumb", "gravity": "face", "width": 60, "height": 60},
        {"crop": "fill", "gravity": "faces", "width": 90, "height": 50},
        {"effect": "blur_faces:800"},
        {"crop": "fill", "gravity": "auto", "width": 70, "height": 70},
    ):
        image(get(delivery_url("fresh", **options)))
    image(get(delivery_url("fresh/twin", crop="crop", gravity="face")))  # the same bytes
    assert detections() == before + 1
    other = server.data_dir / "other.jpg"
    other.write_bytes(pyvips.Image.new_from_file(str(WOMEN)).jpegsave_buffer(Q=66, keep="none"))
    cloudinary.uploader.upload(str(other), public_id="other")
    image(get(delivery_url("other", crop="fill", gravity="north", width=50, height=50)))
    image(get(delivery_url("other", effect="pixelate:9")))
    assert detections() == before + 1  # plans without faces never run the detector
