"""URLs and upload signatures made by the real `cloudinary` SDK parse and verify.

Everything is passed as options (no `cloudinary.config(...)`), so no global SDK state leaks.
The path is percent-decoded as uvicorn puts it in `scope["path"]`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

import cloudinary.utils as cu
import pytest

from alphacdn.transform import (
    DeliveryRequest,
    api_sign_request,
    parse_chain,
    parse_url,
    sign_url,
    verify_api_signature,
    verify_url_signature,
)
from alphacdn.transform.steps import BackgroundRemoval, Resize
from alphacdn.transform.values import Color, CropMode, Gravity

SECRET = "a-test-secret"
HOST: dict[str, Any] = {
    "cloud_name": "demo",
    "api_secret": SECRET,
    "secure": True,
    "secure_distribution": "127.0.0.1:8000",
    "private_cdn": False,
}
NAMED = {"thumb": "c_fill,w_100,h_100"}


def sdk_request(public_id: str, **options: Any) -> DeliveryRequest:
    url, _ = cu.cloudinary_url(public_id, **{**HOST, **options})
    assert url.startswith(("https://127.0.0.1:8000/demo/", "http://127.0.0.1:8000/demo/")), url
    return parse_url(unquote(urlsplit(url).path), named=NAMED)


FAMILIES: list[tuple[dict[str, Any], str]] = [
    ({"width": 400, "height": 300}, "w_400,h_300"),
    ({"width": 0.5, "crop": "scale"}, "w_0.5"),
    ({"width": "1.0", "height": 2, "crop": "fit"}, "c_fit,w_1.0,h_2"),
    *(({"width": 50, "height": 40, "crop": c}, f"w_50,h_40,c_{c}") for c in
      ("scale", "fit", "limit", "mfit", "fill", "lfill", "pad", "lpad", "mpad", "fill_pad", "crop",
       "thumb")),
    *(({"width": 50, "crop": "fill", "gravity": g}, f"w_50,c_fill,g_{g}") for g in
      ("north_west", "north", "north_east", "west", "center", "east", "south_west", "south",
       "south_east", "auto")),
    ({"aspect_ratio": "16:9", "crop": "fill", "width": 320}, "ar_16:9,c_fill,w_320"),
    ({"aspect_ratio": 1.5, "crop": "crop"}, "ar_1.5,c_crop"),
    ({"dpr": "2.0", "width": 100}, "dpr_2.0,w_100"),
    ({"crop": "crop", "x": 10, "y": -20, "width": 30, "height": 30}, "c_crop,x_10,y_-20,w_30,h_30"),
    ({"crop": "thumb", "zoom": 1.5, "width": 30}, "c_thumb,z_1.5,w_30"),
    ({"radius": 20}, "r_20"),
    ({"radius": "max"}, "r_max"),
    *(({"angle": a}, f"a_{a}") for a in (90, -45, "auto", "auto_right", "auto_left", "hflip",
                                          "vflip")),
    ({"angle": ["hflip", 90]}, "a_hflip.90"),
    ({"border": "4px_solid_black"}, "bo_4px_solid_black"),
    ({"border": {"width": 2, "color": "#ff0000"}}, "bo_2px_solid_rgb:ff0000"),
    ({"background": "red"}, "b_red"),
    ({"background": "#00ff0080"}, "b_rgb:00ff0080"),
    ({"background": "rgb:abc"}, "b_rgb:aabbcc"),
    ({"width": 9, "crop": "pad", "background": "blue"}, "w_9,c_pad,b_blue"),
    ({"opacity": 40}, "o_40"),
    *(({"effect": e}, f"e_{e}") for e in
      ("grayscale", "blackwhite", "blackwhite:30", "sepia", "sepia:50", "blur", "blur:300",
       "sharpen:200", "brightness:-30", "contrast:50", "saturation:-100", "negate", "pixelate:12",
       "vignette:70", "trim", "trim:20", "colorize", "colorize:60", "tint", "tint:40:blue")),
    ({"effect": "colorize:30", "color": "#112233"}, "e_colorize:30,co_rgb:112233"),
    ({"effect": "tint:40", "color": "green"}, "e_tint:40,co_green"),
    ({"effect": "background_removal"}, "e_background_removal"),
    ({"effect": "background_removal:fineedges_y;hints_(dog;cat)"},
     "e_background_removal:hints_(cat;dog);fineedges_y"),
    *(({"fetch_format": f}, f"f_{f}") for f in ("jpg", "jpeg", "png", "webp", "avif", "gif",
                                                "auto")),
    *(({"quality": q}, f"q_{q}") for q in (80, "auto", "auto:good", "auto:best", "auto:eco",
                                           "auto:low")),
    *(({"flags": f}, f"fl_{f}") for f in ("progressive", "strip_profile", "keep_iptc", "attachment",
                                          "preserve_transparency")),
    ({"flags": ["progressive", "strip_profile"]}, "fl_strip_profile,fl_progressive"),
    ({"page": 3}, "pg_3"),
    ({"page": "2-4", "delay": 200}, "pg_2-4,dl_200"),
    ({"effect": "loop:2", "flags": ["animated", "awebp"], "fetch_format": "auto"},
     "e_loop:2,fl_animated.awebp,f_auto"),
    ({"effect": "loop"}, "e_loop"),
    # faces (issue 17)
    *(({"width": 50, "height": 50, "crop": "fill", "gravity": g}, f"w_50,h_50,c_fill,g_{g}")
      for g in ("face", "faces", "face:center", "faces:center", "face:auto", "faces:auto",
                "auto:faces", "auto:face")),
    ({"gravity": "face", "crop": "thumb", "width": 150, "height": 150, "zoom": 0.75},
     "c_thumb,g_face,w_150,h_150,z_0.75"),
    ({"gravity": "faces", "crop": "crop"}, "c_crop,g_faces"),
    ({"gravity": "face", "crop": "crop", "aspect_ratio": "1.0", "zoom": 0.5},
     "ar_1.0,c_crop,g_face,z_0.5"),
    *(({"effect": e}, f"e_{e}") for e in
      ("pixelate_faces", "pixelate_faces:20", "blur_faces", "blur_faces:1000")),
    ({"transformation": "thumb"}, "c_fill,w_100,h_100"),
    ({"transformation": [{"width": 200, "crop": "fill"}, {"effect": "sepia"}],
      "fetch_format": "auto", "quality": "auto"}, "c_fill,w_200/e_sepia/f_auto/q_auto"),
    ({"transformation": [{"effect": "background_removal:fineedges_y"}, {"background": "white"},
                         {"width": 300, "crop": "pad", "background": "white"}]},
     "e_background_removal:fineedges_y/b_white/w_300,c_pad,b_white"),
]  # fmt: skip


@pytest.mark.parametrize(("options", "chain"), FAMILIES, ids=[c for _, c in FAMILIES])
@pytest.mark.parametrize("public_id", ["dog", "shop/shoes/red jeans", "café/100%"])
def test_sdk_urls_parse_to_the_plan(options: dict[str, Any], chain: str, public_id: str) -> None:
    req = sdk_request(public_id, format="jpg", sign_url=True, **options)
    assert req.plan == parse_chain(chain, named=NAMED)
    assert req.public_id == public_id
    assert req.extension == "jpg"
    assert req.signature is not None and len(req.signature) == 8
    assert verify_url_signature(req.signature, req.signed_text, SECRET)
    assert not verify_url_signature(req.signature, req.signed_text, SECRET + "x")
    assert not verify_url_signature(req.signature, req.signed_text + "x", SECRET)


def test_sdk_plans_are_typed() -> None:
    req = sdk_request("dog", width=160, aspect_ratio="16:9", crop="fill", gravity="auto",
                      background="red")  # fmt: skip
    assert req.plan.components[0].steps[0] == Resize(
        160, crop=CropMode.FILL, gravity=Gravity.AUTO, aspect_ratio=16 / 9
    )
    req = sdk_request("dog", width=9, crop="lpad", background="rgb:ff000080")
    assert req.plan.components[0].steps == (
        Resize(9, crop=CropMode.LPAD, background=Color(255, 0, 0, 128)),
    )
    req = sdk_request("dog", effect="background_removal:hints_(sofa;person)")
    assert req.plan.removal == BackgroundRemoval(hints=("person", "sofa"))


@pytest.mark.parametrize(
    "options",
    [
        {"sign_url": True},
        {"sign_url": True, "long_url_signature": True},
        {"sign_url": True, "signature_algorithm": "sha256"},
        {"sign_url": True, "version": 1234},
        {"sign_url": True, "secure": False, "cname": "127.0.0.1:8000"},
        {"sign_url": True, "shorten": True},
    ],
)
def test_signatures(options: dict[str, Any]) -> None:
    req = sdk_request("pets/my dog", width=100, crop="fill", effect="sepia", format="webp",
                      **options)  # fmt: skip
    assert req.signature is not None
    assert verify_url_signature(req.signature, req.signed_text, SECRET)
    assert verify_url_signature(f"s--{req.signature}--", req.signed_text, SECRET)
    tampered = req.signed_text.replace("w_100", "w_101")
    assert not verify_url_signature(req.signature, tampered, SECRET)
    assert not verify_url_signature(req.signature, req.signed_text, "other")
    assert not verify_url_signature(req.signature[:-1], req.signed_text, SECRET)
    if "version" in options:
        assert req.version == 1234


def test_sign_url_matches_the_sdk() -> None:
    for long in (False, True):
        url, _ = cu.cloudinary_url("a b", **HOST, width=5, sign_url=True, long_url_signature=long)
        assert f"/{sign_url('w_5/a%20b', SECRET, long=long)}/" in url


def test_tampered_url_path_fails() -> None:
    url, _ = cu.cloudinary_url("dog", **HOST, width=100, sign_url=True, format="jpg")
    path = unquote(urlsplit(url).path).replace("w_100", "w_900")
    req = parse_url(path)
    assert req.signature is not None
    assert not verify_url_signature(req.signature, req.signed_text, SECRET)


UPLOAD_PARAMS: list[dict[str, Any]] = [
    {"timestamp": 1700000000, "public_id": "shoes/red"},
    {"timestamp": "1700000000", "tags": "a,b", "overwrite": True, "invalidate": False},
    {"timestamp": 1, "folder": "x", "eager": "c_fill,w_100|e_sepia", "context": "a=b&c=d"},
    {"timestamp": 1, "public_id": "", "notification_url": "https://h/cb?x=1&y=2"},
    {"timestamp": 1, "tags": ["a", "b"]},
]


@pytest.mark.parametrize("params", UPLOAD_PARAMS)
@pytest.mark.parametrize("algorithm", ["sha1", "sha256"])
def test_api_signatures_match_the_sdk(params: dict[str, Any], algorithm: str) -> None:
    signed = cu.sign_request(dict(params), {"api_key": "key", "api_secret": SECRET,
                                            "signature_algorithm": algorithm})  # fmt: skip
    # what the server receives: every field as text, plus `file` and the api key
    form = {k: ",".join(v) if isinstance(v, list) else str(v) for k, v in signed.items()}
    form |= {"file": "data:image/png;base64,AAAA", "cloud_name": "demo", "resource_type": "image"}
    assert verify_api_signature(form, SECRET)
    assert not verify_api_signature(form, SECRET + "x")
    assert api_sign_request(signed, SECRET, algorithm) == signed["signature"]
    expected = cu.api_sign_request(cu.cleanup_params(params), SECRET, algorithm)
    assert api_sign_request(cu.cleanup_params(params), SECRET, algorithm) == expected
    assert not verify_api_signature({**form, "public_id": "evil"}, SECRET)
    assert not verify_api_signature({k: v for k, v in form.items() if k != "signature"}, SECRET)
