"""Issue 17 through a real server with SDK-built URLs: shapes, blend modes, wrapped text,
`fl_getinfo`, bad values as 400s naming the component, and private / authenticated assets
(upload with `type=`, signed delivery, `private_download_url`)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import cloudinary
import cloudinary.uploader
import cloudinary.utils
import httpx
import pytest
import pyvips

from tests.conftest import FIXTURES
from tests.e2e.conftest import configure_sdk, delivery_url, upload_fixture
from tests.e2e.server import Server
from tests.engine.imaging import mad, png, red_disc, solid

ORIGINAL = (FIXTURES / "e2e" / "dog-bike.jpg").read_bytes()  # 480×360


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("shapes")).start()
    configure_sdk(srv)
    upload_fixture("dog-bike.jpg", "dog")
    upload_fixture("tiger-cutout.png", "tiger")
    disc = srv.data_dir / "disc.png"
    disc.write_bytes(png(red_disc(60)))
    cloudinary.uploader.upload(str(disc), public_id="disc")
    slate = srv.data_dir / "slate.png"
    slate.write_bytes(png(solid(480, 360, (40, 50, 60))))
    cloudinary.uploader.upload(str(slate), public_id="slate")
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


# ── shapes and layers, URLs from the SDK ──────────────────────────────────────────────────


def test_per_corner_radius(server: Server) -> None:
    img = image(get(delivery_url("dog", radius="0:40:0:40", format="png")))  # SDK: no 0 in lists
    assert (img.width, img.height, img.bands) == (480, 360, 4)
    assert img[3].getpoint(0, 0)[0] == 255 and img[3].getpoint(479, 0)[0] == 0
    assert img[3].getpoint(479, 359)[0] == 255 and img[3].getpoint(0, 359)[0] == 0


def test_outline_around_a_cutout(server: Server) -> None:
    plain = image(get(delivery_url("tiger", format="png")))
    img = image(get(delivery_url("tiger", effect="outline:6", color="blue", format="png")))
    assert (img.width, img.height) == (plain.width + 12, plain.height + 12)
    blue = (img[2] > 200) & (img[0] < 60) & (img[3] > 200)
    assert blue.avg() > 0.5  # a visible band of blue


def test_default_shadow_is_visible(server: Server) -> None:
    img = image(get(delivery_url("tiger", effect="shadow", format="png")))
    plain = image(get(delivery_url("tiger", format="png")))
    grown = img.crop(0, 0, plain.width, plain.height)[3].cast("float") - plain[3]
    assert grown.max() > 60  # the shadow adds opacity beyond the subject's own


@pytest.mark.parametrize("effect", ["multiply", "screen", "overlay"])
def test_blend_modes_on_an_image_layer(server: Server, effect: str) -> None:
    base = image(get(delivery_url("dog", format="png")))
    img = image(get(delivery_url("dog", overlay="disc", effect=effect, format="png")))
    assert (img.width, img.height) == (480, 360)
    assert mad(img.crop(0, 0, 100, 100), base.crop(0, 0, 100, 100)) < 1  # only under the disc
    assert mad(img.crop(220, 160, 40, 40), base.crop(220, 160, 40, 40)) > 3


def test_tiled_and_cutter_layers(server: Server) -> None:
    tiled = image(get(delivery_url("dog", overlay="disc", flags="tiled", format="png")))
    reds = (tiled[0] > 200) & (tiled[1] < 40) & (tiled[2] < 40)
    assert reds.avg() / 255 > 0.25  # discs all over (each covers ~36 % of its tile)
    cut = image(get(delivery_url("dog", overlay="disc", flags="cutter", format="png")))
    assert cut.bands == 4 and cut[3].getpoint(0, 0)[0] == 0 and cut[3].getpoint(240, 180)[0] == 255


def test_wrapped_text_layer(server: Server) -> None:
    text = {"font_family": "Arial", "font_size": 24, "text": "A long caption that wraps",
            "line_spacing": 4}  # fmt: skip
    wide = image(get(delivery_url("slate", overlay=text, color="white", format="png")))
    url = delivery_url("slate", overlay=text, width=120, crop="fit", color="white", format="png")
    img = image(get(url))
    assert (img.width, img.height) == (480, 360)  # the text is inside, wrapped

    def white_columns(im: pyvips.Image) -> int:
        cols = (im[0] > 150).project()[0]
        return sum(1 for x in range(im.width) if cols.getpoint(x, 0)[0] > 0)

    assert white_columns(img) <= 140 < white_columns(wide)


def test_getinfo_json(server: Server) -> None:
    resp = get(delivery_url("tiger", width=160, crop="fill", height=160, gravity="auto",
                            flags="getinfo"))  # fmt: skip
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/json"
    info = json.loads(resp.content)
    assert info["input"]["width"] == 320 and info["output"]["width"] == 160
    assert {"x", "y", "width", "height"} <= set(info["subject"])
    assert info["g_auto"][0]["by"] == "subject"
    again = get(delivery_url("tiger", width=160, crop="fill", height=160, gravity="auto",
                             flags="getinfo"))  # fmt: skip
    assert again.headers["x-alphacdn-cache"] == "HIT" and again.content == resp.content


BAD = [
    ("r_1:2:3:4:5", "r_1:2:3:4:5"),
    ("r_-3:4", "r_-3:4"),
    ("e_outline:wavy", "e_outline:wavy"),
    ("e_outline:0", "e_outline:0"),
    ("e_outline:5:5000", "e_outline:5:5000"),
    ("e_multiply", "e_multiply"),
    ("fl_tiled", "fl_tiled"),
    ("l_disc,e_anti_removal:500", "e_anti_removal:500"),
    ("u_disc,e_screen", "u_disc"),
    ("l_text:Arial_20_line_spacing_x:Hi", "line_spacing"),
    ("l_text:Arial_20:Hi,c_fit,w_9000", "w_9000"),
    ("l_disc,fl_text_no_trim", "fl_text_no_trim"),
    ("fl_getinfo.wavy", "wavy"),
]


@pytest.mark.parametrize(("chain", "named"), BAD, ids=[c for c, _ in BAD])
def test_bad_values_are_400s_naming_the_component(server: Server, chain: str, named: str) -> None:
    resp = get(f"{server.url}/demo/image/upload/{chain}/dog.jpg")
    assert resp.status_code == 400, resp.status_code
    assert named in resp.headers["x-cld-error"], resp.headers["x-cld-error"]


# ── private and authenticated ─────────────────────────────────────────────────────────────


@pytest.fixture(scope="module")
def secret_assets(server: Server) -> dict[str, dict[str, Any]]:
    path = str(FIXTURES / "e2e" / "dog-bike.jpg")
    return {
        kind: cloudinary.uploader.upload(path, public_id=f"{kind}-dog", type=kind)
        for kind in ("private", "authenticated")
    }


@pytest.mark.parametrize("kind", ["private", "authenticated"])
def test_signed_types_need_a_valid_signature(
    server: Server, secret_assets: dict[str, dict[str, Any]], kind: str
) -> None:
    result = secret_assets[kind]
    assert result["type"] == kind and f"/image/{kind}/s--" in result["url"]
    assert image(get(result["url"])).width == 480  # the upload answer's own URL works
    signed = cloudinary.CloudinaryImage(f"{kind}-dog").build_url(type=kind, sign_url=True)
    assert "/s--" in signed and image(get(signed)).width == 480
    unsigned = cloudinary.CloudinaryImage(f"{kind}-dog").build_url(type=kind)
    assert get(unsigned).status_code == 401
    resized = delivery_url(f"{kind}-dog", type=kind, sign_url=True, width=100, format="png")
    assert image(get(resized)).width == 100
    tampered = resized.replace("w_100", "w_101")
    assert get(tampered).status_code == 401
    # not under another type, and not as a layer of a public image
    assert get(delivery_url(f"{kind}-dog")).status_code == 404
    assert get(delivery_url("dog", overlay=f"{kind}-dog")).status_code == 404
    other = "authenticated" if kind == "private" else "private"
    assert get(delivery_url(f"{kind}-dog", type=other, sign_url=True)).status_code == 404


def test_a_public_asset_has_no_private_url(server: Server) -> None:
    assert get(delivery_url("dog", type="private", sign_url=True)).status_code == 404
    assert get(delivery_url("missing", type="private")).status_code == 401  # no oracle


def test_bad_upload_type_is_a_400(server: Server) -> None:
    with pytest.raises(cloudinary.exceptions.Error, match="type"):
        cloudinary.uploader.upload(str(FIXTURES / "e2e" / "dog-bike.jpg"), public_id="x",
                                   type="secret")  # fmt: skip


def test_private_download_url(server: Server, secret_assets: dict[str, dict[str, Any]]) -> None:
    url = cloudinary.utils.private_download_url("private-dog", "jpg")
    assert url.startswith(server.url)
    resp = get(url)
    assert resp.status_code == 200 and resp.content == ORIGINAL
    converted = get(cloudinary.utils.private_download_url("private-dog", "png", type="private",
                                                          attachment=True))  # fmt: skip
    assert converted.status_code == 200 and converted.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert 'filename="private-dog.png"' in converted.headers["content-disposition"]
    auth = get(cloudinary.utils.private_download_url("authenticated-dog", "",
                                                     type="authenticated"))  # fmt: skip
    assert auth.status_code == 200 and auth.content == ORIGINAL
    wrong_type = get(cloudinary.utils.private_download_url("private-dog", "jpg",
                                                           type="authenticated"))  # fmt: skip
    assert wrong_type.status_code == 404


def test_download_links_are_checked(server: Server) -> None:
    url = cloudinary.utils.private_download_url("private-dog", "jpg")
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    tampered = {**query, "public_id": "dog"}
    assert get(f"{server.url}{parts.path}?{urlencode(tampered)}").status_code == 401
    expired = cloudinary.utils.private_download_url("private-dog", "jpg",
                                                    expires_at=int(time.time()) - 5)  # fmt: skip
    assert get(expired).status_code == 401
    later = cloudinary.utils.private_download_url("private-dog", "jpg",
                                                  expires_at=int(time.time()) + 600)  # fmt: skip
    assert get(later).status_code == 200
    unknown = {**query, "api_key": "nobody"}
    assert get(f"{server.url}{parts.path}?{urlencode(unknown)}").status_code == 401


def test_solid_layers_still_work(server: Server) -> None:  # the layer check keeps public assets
    img = image(get(delivery_url("dog", overlay="disc", gravity="north_west", format="png")))
    assert img.getpoint(30, 30)[0] > 200 and solid(1, 1, (0, 0, 0)).width == 1


def test_admin_api_by_type(server: Server, secret_assets: dict[str, dict[str, Any]]) -> None:
    import cloudinary.api

    private = {
        r["public_id"]
        for r in cloudinary.api.resources(type="private", max_results=500)["resources"]
    }
    public = {
        r["public_id"]
        for r in cloudinary.api.resources(type="upload", max_results=500)["resources"]
    }
    assert "private-dog" in private and "dog" not in private
    assert "dog" in public and "private-dog" not in public
    got = cloudinary.api.resource("authenticated-dog", type="authenticated")
    assert got["type"] == "authenticated" and "/s--" in got["url"]
    assert image(get(got["url"])).width == 480
    with pytest.raises(cloudinary.exceptions.NotFound):
        cloudinary.api.resource("authenticated-dog")  # not an upload-type asset
    result = cloudinary.api.delete_resources(["private-dog"], type="upload")
    assert result["deleted"] == {"private-dog": "not_found"}  # another type: left alone


def test_private_eager_urls_are_signed(server: Server) -> None:
    result = cloudinary.uploader.upload(str(FIXTURES / "e2e" / "dog-bike.jpg"),
                                        public_id="private-eager", type="private",
                                        eager=[{"width": 60, "crop": "scale"}])  # fmt: skip
    [eager] = result["eager"]
    assert "/image/private/s--" in eager["url"]
    assert image(get(eager["url"])).width == 60
