"""Compositing after removal through a real server (u2netp matte): the brief's chains with
goldens, Cloudinary's documented combinations, SDK layer URLs, layer versions in the cache key,
and bad input as 4xx naming the component (never a 500)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import pyvips

from tests.e2e.conftest import configure_sdk, delivery_url, upload_fixture
from tests.e2e.server import Server
from tests.e2e.test_background_removal import _poll
from tests.engine.imaging import check_golden, gradient, jpeg, mad, png

pytestmark = pytest.mark.model

BRIEF = "e_background_removal:hints_(dog);fineedges_y/e_grayscale"
ON_BACKDROP = ("e_background_removal:hints_(dog)/e_dropshadow/c_scale,w_300/u_road/"
               "c_fill,h_300,w_450/fl_layer_apply,g_south/f_png")  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("compose")).start()
    configure_sdk(srv)
    upload_fixture("dog-bike.jpg", "dog")
    upload_fixture("tiger-on-backdrop.jpg", "tiger")
    upload_fixture("tiger-cutout.png", "shop/logo")
    road = srv.data_dir / "road.jpg"
    road.write_bytes(jpeg(gradient(600, 400)))
    import cloudinary.uploader

    cloudinary.uploader.upload(str(road), public_id="road")
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def _sdk_on_module_server(server: Server) -> None:
    configure_sdk(server)


def get(server: Server, chain: str, public_id: str = "dog", **headers: str) -> httpx.Response:
    resp, _ = _poll(f"{server.url}/demo/image/upload/{chain}/{public_id}", **headers)
    return resp


def image(resp: httpx.Response) -> pyvips.Image:
    assert resp.status_code == 200, (resp.status_code, resp.headers.get("x-cld-error"))
    return pyvips.Image.new_from_buffer(resp.content, "")


def small(img: pyvips.Image) -> pyvips.Image:
    """Goldens are compared at 160 px wide: small files, and robust to resampling details."""
    return img.thumbnail_image(160, height=160)


def test_brief_chain_grayscale_cutout(server: Server) -> None:
    img = image(get(server, BRIEF + "/f_png"))
    assert img.bands == 4 and img[3].min() == 0 and img[3].max() == 255
    subject = img[3] > 200
    assert ((img[0].cast("float") - img[2]).abs() * (subject / 255)).max() <= 1  # gray subject
    check_golden(BRIEF, "dog", small(img), tolerance=4.0)


def test_subject_on_a_new_backdrop_with_a_shadow(server: Server) -> None:
    img = image(get(server, ON_BACKDROP))
    assert (img.width, img.height) == (450, 300)
    assert not img.hasalpha() or img[3].min() == 255  # the backdrop fills every pixel
    check_golden(ON_BACKDROP.removesuffix("/f_png"), "dog", small(img), tolerance=4.0)
    without = image(get(server, ON_BACKDROP.replace("e_dropshadow/", "")))
    assert mad(img[0:3], without[0:3]) > 0.05  # the shadow shows


def test_documented_combinations(server: Server) -> None:
    chain = ("e_background_removal:hints_(dog)/c_scale,w_600/u_road/c_fill,h_800,w_1200/"
             "fl_layer_apply,g_center/f_auto/q_auto")  # fmt: skip
    resp = get(server, chain, accept="image/webp,*/*")
    assert resp.headers["content-type"] == "image/webp" and resp.headers["vary"] == "Accept"
    assert (image(resp).width, image(resp).height) == (1200, 800)

    trimmed = image(get(server, "e_background_removal/b_lightblue,c_pad,w_1.0/e_trim/f_png"))
    assert trimmed.width < 480 and not trimmed.hasalpha()
    corner = trimmed.crop(0, 0, 3, 3).avg()
    assert abs(corner - (173 + 216 + 230) / 3) < 12  # light blue where the background was

    lit = image(get(server, "e_background_removal/e_dropshadow:azimuth_220;elevation_40;spread_20"
                            "/f_png"))  # fmt: skip
    assert lit.bands == 4


def test_sdk_layer_urls_are_served(server: Server) -> None:
    for options in (
        {"underlay": "road", "width": 1.0, "height": 1.0, "crop": "fill", "flags": "relative"},
        {"overlay": "shop:logo", "width": 0.3, "flags": "relative", "gravity": "north_east"},
        {"overlay": {"public_id": "shop/logo"}, "width": 120, "gravity": "south_west", "x": 5},
        {"overlay": {"font_family": "DejaVu Sans", "font_size": 28, "font_weight": "bold",
                     "text": "Hello, 50% / #1"}, "color": "white", "gravity": "south"},
    ):  # fmt: skip
        url = delivery_url("tiger", format="png", **options)
        resp = httpx.get(url)
        assert resp.status_code == 200, (options, resp.headers.get("x-cld-error"))


def test_layer_version_is_part_of_the_key(server: Server) -> None:
    url = f"{server.url}/demo/image/upload/l_badge,w_50,g_north_west/tiger.png"
    import cloudinary.uploader

    path = server.data_dir / "badge.png"
    path.write_bytes(png(gradient(80, 80)))
    cloudinary.uploader.upload(str(path), public_id="badge")
    first = httpx.get(url)
    assert first.status_code == 200 and httpx.get(url).headers["x-alphacdn-cache"] == "HIT"
    path.write_bytes(png(gradient(80, 80).invert()))
    cloudinary.uploader.upload(str(path), public_id="badge")
    second = httpx.get(url)
    assert second.headers["x-alphacdn-cache"] == "MISS"
    assert second.headers["etag"] != first.headers["etag"]


BAD = [
    ("e_background_removal/u_nowhere/fl_layer_apply", 404, "nowhere"),
    ("l_shop:missing,w_10", 404, "shop/missing"),
    ("fl_layer_apply,g_south", 400, "fl_layer_apply"),
    ("l_road/l_road/l_road/l_road/fl_layer_apply/fl_layer_apply/fl_layer_apply/fl_layer_apply",
     400, "nested deeper"),
    ("l_text:Arial_20:" + "x" * 501, 400, "longer than 500"),
    ("e_dropshadow", 400, "e_dropshadow"),
    ("e_mask:feather_3", 400, "e_mask"),
    ("l_road,e_background_removal", 400, "inside a layer"),
]  # fmt: skip


@pytest.mark.parametrize(("chain", "status", "named"), BAD, ids=[c[:40] for c, _, _ in BAD])
def test_bad_input_is_a_4xx_naming_it(server: Server, chain: str, status: int, named: str) -> None:
    resp = httpx.get(f"{server.url}/demo/image/upload/{chain}/tiger.jpg")
    assert resp.status_code == status, resp.text
    assert named in resp.headers["x-cld-error"]


def test_getinfo_reports_the_cutout_subject_and_the_g_auto_crop(server: Server) -> None:
    import json

    resp = get(server, "e_background_removal:hints_(dog)/c_fill,g_auto,w_200,h_200/fl_getinfo")
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/json"
    info = json.loads(resp.content)
    assert info["input"]["width"] == 480 and info["output"]["width"] == 200
    box = info["subject"]
    assert box["x"] >= 0 and box["x"] + box["width"] <= 480 and 40 < box["width"] < 480
    assert info["g_auto"][0]["by"] == "subject"


def test_default_shadow_and_outline_show_behind_a_cutout(server: Server) -> None:
    cut = image(get(server, "e_background_removal:hints_(dog)/f_png"))
    shadow = image(get(server, "e_background_removal:hints_(dog)/e_shadow/f_png"))
    added = shadow.crop(0, 0, cut.width, cut.height)[3].cast("float") - cut[3]
    assert (added > 40).avg() / 255 > 0.01  # a visible band of shadow past the subject
    outline = image(get(server, "e_background_removal:hints_(dog)/co_red,e_outline:6/f_png"))
    assert (outline.width, outline.height) == (cut.width + 12, cut.height + 12)
    red = (outline[0] > 200) & (outline[1] < 50) & (outline[3] > 200)
    assert red.avg() / 255 > 0.01
