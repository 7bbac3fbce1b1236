"""Layers, shadows and mask controls in the grammar: chain → Plan tables, the SDK's own URLs,
bad input naming the component, and parse ∘ canonical round trips with layers around chains."""

from __future__ import annotations

from typing import Any

import cloudinary
import cloudinary.utils
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alphacdn.transform import InvalidTransformation, canonical, parse_chain, parse_url
from alphacdn.transform.compositing import DropShadow, Mask, Shadow
from alphacdn.transform.layers import Layer, LayerKind, Placement, Text, layer_public_ids
from alphacdn.transform.plan import Component
from alphacdn.transform.remote import Remote, encode_layer_url
from alphacdn.transform.steps import BackgroundRemoval, Grayscale, Resize
from alphacdn.transform.values import AutoColor, Color, CropMode, Format, Gravity

from .test_properties import NAMED, chains

OVER, UNDER = LayerKind.OVERLAY, LayerKind.UNDERLAY
ROAD_FILL = Component((Resize(1200, 800, CropMode.FILL),))


def layer_of(chain: str) -> Layer:
    [comp] = [c for c in parse_chain(chain).components if c.layer is not None]
    assert comp.layer is not None
    return comp.layer


GOOD: list[tuple[str, Layer]] = [
    ("u_road/c_fill,h_800,w_1200/fl_layer_apply,g_center", Layer(UNDER, "road", (ROAD_FILL,))),
    ("u_road,c_fill,h_800,w_1200/fl_layer_apply", Layer(UNDER, "road", (ROAD_FILL,))),
    ("l_shop:logo", Layer(OVER, "shop/logo")),
    ("l_logo,w_100,g_south_east,x_10,y_0.1",  # self-closed: g/x/y place the layer
     Layer(OVER, "logo", (Component((Resize(100),)),),
           placement=Placement(Gravity.SOUTH_EAST, 10, 0.1))),
    ("l_logo,c_crop,g_north,w_50/fl_layer_apply,g_south",  # explicit: g_north crops the layer
     Layer(OVER, "logo", (Component((Resize(50, crop=CropMode.CROP, gravity=Gravity.NORTH),)),),
           placement=Placement(Gravity.SOUTH))),
    ("l_logo,c_fill,g_auto,h_9,w_9", Layer(OVER, "logo", (Component(
        (Resize(9, 9, CropMode.FILL, Gravity.AUTO),)),))),
    ("fl_relative,g_south_east,l_road,w_0.5,x_10,y_10",
     Layer(OVER, "road", (Component((Resize(0.5),)),), True,
           Placement(Gravity.SOUTH_EAST, 10, 10))),
    ("l_logo,fl_relative,w_100", Layer(OVER, "logo", (Component((Resize(100),)),))),
    ("l_logo,fl_no_overflow,x_-5", Layer(OVER, "logo", placement=Placement(x=-5, overflow=False))),
    ("l_logo/fl_layer_apply.no_overflow", Layer(OVER, "logo", placement=Placement(overflow=False))),
    ("l_text:Arial_40_bold:Hello%2C World%2F50%25 #1,co_red",
     Layer(OVER, Text("Hello, World/50% #1", "Arial", 40, bold=True, color=Color(255, 0, 0)))),
    ("l_text:Open Sans_12_italic:a:b", Layer(OVER, Text("a:b", "Open Sans", 12, italic=True))),
    ("l_fetch:aHR0cHM6Ly94LmV4YW1wbGUvbG9nby5wbmc=,w_10",  # https://x.example/logo.png
     Layer(OVER, Remote("https://x.example/logo.png"), (Component((Resize(10),)),))),
    ("u_fetch:aHR0cHM6Ly94LmV4YW1wbGUvbG9nby5wbmc",  # unpadded, as some SDKs write it
     Layer(UNDER, Remote("https://x.example/logo.png"))),
    ("l_logo,e_grayscale,o_50/fl_layer_apply", Layer(OVER, "logo", (Component(
        (Grayscale(), parse_chain("o_50").components[0].steps[0])),))),
]  # fmt: skip


@pytest.mark.parametrize(("chain", "layer"), GOOD, ids=[c for c, _ in GOOD])
def test_layer_chains(chain: str, layer: Layer) -> None:
    assert layer_of(chain) == layer
    text = canonical(parse_chain(chain))
    assert parse_chain(text) == parse_chain(chain)
    assert "fl_layer_apply" in text  # canonical layers are always explicit


def test_documented_underlay_chain() -> None:
    chain = ("e_background_removal:hints_(dog)/c_scale,w_600/u_road/c_fill,h_800,w_1200/"
             "fl_layer_apply,g_center/f_auto/q_auto")  # fmt: skip
    plan = parse_chain(chain)
    assert plan.removal == BackgroundRemoval(hints=("dog",))
    assert [c.layer for c in plan.components] == [None, None, Layer(UNDER, "road", (ROAD_FILL,))]
    assert plan.output.format is Format.AUTO
    assert layer_public_ids(plan) == ("road",)


def test_nested_layers_and_apply_params() -> None:
    plan = parse_chain("l_a/l_b,w_10/fl_layer_apply,g_north/fl_layer_apply,e_grayscale")
    outer, after = plan.components
    assert outer.layer is not None and after == Component((Grayscale(),))
    inner = Layer(OVER, "b", (Component((Resize(10),)),), placement=Placement(Gravity.NORTH))
    assert outer.layer.components == (Component((), inner),)
    assert layer_public_ids(plan) == ("a", "b")
    assert layer_public_ids(parse_chain("l_text:Arial_9:x/w_5")) == ()


def test_shadow_and_mask_steps() -> None:
    steps = parse_chain("co_red,e_shadow:50,x_10,y_-4/e_dropshadow:spread_20;azimuth_220/"
                        "e_mask:feather_2;expand_3;invert").components  # fmt: skip
    assert steps[0].steps == (Shadow(50, Color(255, 0, 0), 10, -4),)
    assert steps[1].steps == (DropShadow(azimuth=220, spread=20),)
    assert steps[2].steps == (Mask(expand=3, feather=2, invert=True),)
    assert canonical(parse_chain("e_dropshadow:azimuth_215;elevation_45")) == "e_dropshadow"
    assert canonical(parse_chain("e_mask:alpha;shrink_2")) == "e_mask:shrink_2;alpha"
    assert parse_chain("e_mask").components == ()


def test_b_auto_pads() -> None:
    [comp] = parse_chain("b_auto:predominant,c_pad,w_10").components
    assert comp.steps == (Resize(10, crop=CropMode.PAD, background=AutoColor.PREDOMINANT),)
    assert canonical(parse_chain("b_auto:border,c_lpad,w_10")) == "b_auto,c_lpad,w_10"


BAD = [
    ("fl_layer_apply,g_south", "fl_layer_apply without an open layer"),
    ("l_a/fl_layer_apply/fl_layer_apply", "fl_layer_apply without an open layer"),
    ("l_a/l_b/l_c/l_d/fl_layer_apply/fl_layer_apply/fl_layer_apply/fl_layer_apply",
     "nested deeper than 3"),
    ("/".join(f"l_a{i}" for i in range(9)), "more than 8 layers"),
    ("l_text:Arial_20:" + "x" * 501, "longer than 500"),
    ("l_text:Arial_20:", "empty"),
    ("l_text:Arial_400:x", "font size"),
    ("l_text:Arial_20_wavy:hi", "wavy"),
    ("l_text:1Arial_20:hi", "expected text:"),
    ("l_a,u_b", "at most one layer"),
    ("l_a,fl_layer_apply", "cannot open"),
    ("l_a,e_background_removal", "inside a layer"),
    ("l_video:dog", "video layers"),
    ("l_fetch:aHR0cA==", "only http and https"),  # "http"
    ("l_fetch:Zm9vOi8vYmFy", "only http and https"),  # "foo://bar"
    ("l_fetch:not base64!", "URL-safe base64"),
    ("u_fetch:", "URL-safe base64"),
    ("l_fetch:aHR0cDovL3U6cEB4L3k=", "credentials"),  # http://u:p@x/y
    ("l_a:..:b", "invalid layer public_id"),
    ("fl_no_overflow", "only goes with a layer"),
    ("l_a/fl_layer_apply,g_auto", "g_auto"),
    ("e_dropshadow:azimuth_400", "azimuth"),
    ("e_dropshadow:height_3", "height_3"),
    ("e_mask:feather", "needs a value"),
    ("e_mask:invert_3", "takes no value"),
    ("e_mask:expand_1;expand_2", "repeated"),
    ("c_pad,w_5,b_auto:nope", "b_auto"),
]  # fmt: skip


@pytest.mark.parametrize(("chain", "why"), BAD, ids=[c[:40] for c, _ in BAD])
def test_bad_layer_chains(chain: str, why: str) -> None:
    with pytest.raises(InvalidTransformation) as err:
        parse_chain(chain)
    assert err.value.status == 400 and why in err.value.public


SDK: list[tuple[dict[str, Any], str]] = [
    ({"overlay": "road"}, "l_road/fl_layer_apply"),
    ({"underlay": "shop:road", "width": 0.5, "flags": "relative", "gravity": "north"},
     "fl_relative,l_road,w_0.5"),
    ({"overlay": {"public_id": "a/b/c"}, "gravity": "south_east", "x": 10, "y": 10}, ""),
    ({"overlay": {"font_family": "Arial", "font_size": 40, "font_weight": "bold",
                  "text": "Hello, World/50% #1"}, "color": "#ff0000"}, ""),
    ({"transformation": [{"effect": "background_removal:hints_(dog)"},
                         {"width": 600, "crop": "scale"}, {"underlay": "road"},
                         {"width": 1200, "height": 800, "crop": "fill"},
                         {"flags": "layer_apply", "gravity": "center"},
                         {"fetch_format": "auto", "quality": "auto"}]}, ""),
    ({"effect": "shadow:50", "color": "red", "x": 10, "y": 10}, ""),
    ({"overlay": "fetch:https://x.example/logo.png?v=1&s=2", "width": 50}, ""),
    ({"underlay": {"url": "https://x.example/a b/ü.png"}, "gravity": "north"}, ""),
    ({"effect": "dropshadow:azimuth_220;elevation_40;spread_20"}, ""),
]  # fmt: skip


@pytest.mark.parametrize(("options", "_"), SDK, ids=[str(o)[:50] for o, _ in SDK])
def test_sdk_layer_urls_parse(options: dict[str, Any], _: str) -> None:
    cloudinary.config(cloud_name="demo", secure=False)
    url, _opts = cloudinary.utils.cloudinary_url("dog", **options)
    path = "/" + url.split("/", 3)[3]
    from urllib.parse import unquote

    req = parse_url(unquote(path))  # the server sees the path decoded once
    assert req.public_id == "dog"
    assert parse_chain(canonical(req.plan)) == req.plan
    if (
        "overlay" in options
        and isinstance(options["overlay"], dict)
        and "text" in options["overlay"]
    ):
        [comp] = req.plan.components
        assert comp.layer is not None and isinstance(comp.layer.source, Text)
        assert comp.layer.source.text == "Hello, World/50% #1"
        assert comp.layer.source.color == Color(255, 0, 0)
    for key in ("overlay", "underlay"):
        given = options.get(key)
        url = given.get("url") if isinstance(given, dict) else None
        if isinstance(given, str) and given.startswith("fetch:"):
            url = given.removeprefix("fetch:")
        if url is not None:
            [comp] = req.plan.components
            assert comp.layer is not None and comp.layer.source == Remote(url)


@st.composite
def layered_chains(draw: st.DrawFn) -> str:
    """A random chain with layers opened and closed around runs of its components."""
    parts = [p for p in draw(chains()).split("/") if "e_background_removal" not in p]
    out: list[str] = []
    depth = 0
    for part in parts:
        if depth < 2 and draw(st.booleans()):
            code = draw(st.sampled_from(["l", "u"]))
            src = draw(
                st.sampled_from(
                    [
                        "road",
                        "shop:logo",
                        "text:Arial_12:Hi%2C you",
                        "fetch:" + encode_layer_url("https://x.example/a b.png"),
                    ]
                )
            )
            out.append(f"{code}_{src},{part}" if part and draw(st.booleans()) else f"{code}_{src}")
            depth += 1
        if part:
            out.append(part)
        if depth and draw(st.booleans()):
            place = draw(st.sampled_from(["", ",g_south", ",g_east,x_5", ",y_0.1,fl_no_overflow"]))
            out.append("fl_layer_apply" + place)
            depth -= 1
    return "/".join(out)


@settings(max_examples=150, deadline=None)
@given(layered_chains())
def test_layered_chains_round_trip(chain: str) -> None:
    try:
        plan = parse_chain(chain, named=NAMED)
    except InvalidTransformation as e:  # only the documented layer limits may refuse
        assert "layers" in e.public or "layer" in e.public, e.public
        return
    text = canonical(plan)
    assert parse_chain(text) == plan
    assert canonical(parse_chain(text)) == text


def test_url_gen_writes_fl_relative_in_the_layers_own_component() -> None:
    """url-gen's `underlay(source(image(x).transformation(… fill().width(1.0).height(1.0)
    .relative())))` → `u_x/c_fill,fl_relative,h_1,w_1/fl_layer_apply`: that component is the
    layer's first, `w_1`/`h_1` the whole base."""
    plan = parse_chain("u_x/c_fill,fl_relative,h_1,w_1/fl_layer_apply")
    layer = plan.components[0].layer
    assert layer is not None and layer.relative
    resize = layer.components[0].steps[0]
    assert isinstance(resize, Resize) and (resize.width, resize.height) == (1.0, 1.0)
    assert parse_chain(plan.canonical()) == plan
    for bad in ("c_fill,fl_relative,w_0.5", "l_x/w_10/c_fill,fl_relative,w_0.5/fl_layer_apply"):
        with pytest.raises(InvalidTransformation, match="fl_relative only goes with a layer"):
            parse_chain(bad)
