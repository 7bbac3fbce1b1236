"""Blend modes, layer flags and text layer options in the grammar (issue 17): chain → Layer
tables, the SDK's own URLs, bad values naming the component, and round trips of random
layered chains that use them."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import cloudinary
import cloudinary.utils
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alphacdn.transform import InvalidTransformation, canonical, parse_chain, parse_url
from alphacdn.transform.blend import BlendMode
from alphacdn.transform.layers import Layer, LayerKind, Placement, Text, TextAlign
from alphacdn.transform.plan import Component
from alphacdn.transform.steps import Grayscale, Resize, Trim
from alphacdn.transform.values import Color, CropMode, Gravity

from .test_properties import NAMED, chains

OVER = LayerKind.OVERLAY


def layer_of(chain: str) -> Layer:
    [comp] = [c for c in parse_chain(chain).components if c.layer is not None]
    assert comp.layer is not None
    return comp.layer


def blended(mode: BlendMode, level: int = 0, **kw: Any) -> Placement:
    return Placement(blend=mode, level=level, **kw)


GOOD: list[tuple[str, Layer]] = [
    ("l_logo,e_multiply", Layer(OVER, "logo", placement=blended(BlendMode.MULTIPLY))),
    ("l_logo/e_screen,fl_layer_apply,g_north",
     Layer(OVER, "logo", placement=blended(BlendMode.SCREEN, gravity=Gravity.NORTH))),
    ("l_logo,e_overlay,w_50/fl_layer_apply",
     Layer(OVER, "logo", (Component((Resize(50),)),), placement=blended(BlendMode.OVERLAY))),
    ("l_logo,e_mask", Layer(OVER, "logo", placement=blended(BlendMode.MASK))),
    ("l_logo,fl_cutter", Layer(OVER, "logo", placement=blended(BlendMode.CUTTER))),
    ("l_logo/fl_layer_apply.cutter", Layer(OVER, "logo", placement=blended(BlendMode.CUTTER))),
    ("l_logo,e_anti_removal", Layer(OVER, "logo", placement=blended(BlendMode.ANTI_REMOVAL, 50))),
    ("l_logo/e_anti_removal:80,fl_layer_apply",
     Layer(OVER, "logo", placement=blended(BlendMode.ANTI_REMOVAL, 80))),
    ("l_logo,fl_tiled,x_5", Layer(OVER, "logo", placement=Placement(x=5, tiled=True))),
    ("l_logo,e_multiply/fl_layer_apply.tiled,g_south",  # the apply component adds to the opener
     Layer(OVER, "logo", placement=blended(BlendMode.MULTIPLY, gravity=Gravity.SOUTH,
                                           tiled=True))),
    ("l_logo,e_grayscale/e_screen,fl_layer_apply", Layer(OVER, "logo", (
        Component((Grayscale(),)),), placement=blended(BlendMode.SCREEN))),
    ("l_text:Arial_20:Hello world,c_fit,w_120",
     Layer(OVER, Text("Hello world", size=20, width=120))),
    ("l_text:Arial_20:Hello world,c_fit,h_40,w_120/fl_layer_apply",
     Layer(OVER, Text("Hello world", size=20, width=120, height=40))),
    ("l_text:Arial_20:Hi,c_scale,w_120",  # other crops scale the drawn text, as before
     Layer(OVER, Text("Hi", size=20), (Component((Resize(120),)),))),
    ("l_text:Arial_20_letter_spacing_4_line_spacing_-3_center:Hi,fl_text_no_trim,co_red",
     Layer(OVER, Text("Hi", size=20, color=Color(255, 0, 0), no_trim=True, line_spacing=-3,
                      letter_spacing=4, align=TextAlign.CENTER))),
    ("l_text:Arial_20_justify:a b,c_fit,w_99,e_trim/fl_layer_apply",
     Layer(OVER, Text("a b", size=20, width=99, align=TextAlign.JUSTIFY),
           (Component((Trim(),)),))),
]  # fmt: skip


@pytest.mark.parametrize(("chain", "layer"), GOOD, ids=[c for c, _ in GOOD])
def test_layer_chains(chain: str, layer: Layer) -> None:
    assert layer_of(chain) == layer
    text = canonical(parse_chain(chain))
    assert parse_chain(text) == parse_chain(chain), text


def test_canonical_spelling() -> None:
    assert canonical(parse_chain("l_logo,e_multiply")) == "l_logo/e_multiply,fl_layer_apply"
    assert canonical(parse_chain("l_logo,fl_tiled.cutter")) == "l_logo/fl_layer_apply.tiled.cutter"
    assert canonical(parse_chain("l_text:Arial_20:a,w_9,c_fit")).startswith(
        "c_fit,l_text:Arial_20:a,w_9/"
    )


def test_bare_e_mask_outside_a_layer_is_still_no_step() -> None:
    assert parse_chain("e_mask").components == ()


BAD = [
    ("e_multiply", "e_multiply", "only goes with a layer"),
    ("w_5,e_screen", "e_screen", "only goes with a layer"),
    ("fl_tiled", "fl_tiled", "only goes with a layer"),
    ("fl_cutter", "fl_cutter", "only goes with a layer"),
    ("u_logo,e_multiply", "u_logo", "overlays"),
    ("u_logo/fl_layer_apply.tiled", "fl_layer_apply.tiled", "overlays"),
    ("l_logo,e_multiply,fl_cutter", "l_logo", "one blend mode"),
    ("l_logo,e_anti_removal:0", "e_anti_removal:0", "1..100"),
    ("l_logo,e_anti_removal:x", "e_anti_removal:x", "integer"),
    ("l_logo,e_screen:3", "e_screen:3", "takes no value"),
    ("l_logo,fl_text_no_trim", "l_logo", "text layer"),
    ("fl_text_no_trim", "fl_text_no_trim", "only goes with a layer"),
    ("l_text:Arial_20_letter_spacing:x", "letter_spacing", "needs one value"),
    ("l_text:Arial_20_letter_spacing_300:x", "letter_spacing", "-50..200"),
    ("l_text:Arial_20_line_spacing_abc:x", "line_spacing", "integer"),
    ("l_text:Arial_20_line_spacing_999:x", "line_spacing", "-200..500"),
    ("l_text:Arial_20_left_right:x", "l_text", "one text alignment"),
    ("l_text:Arial_20_wavy:x", "l_text", "wavy"),
    ("l_text:Arial_9:x,c_fit,w_5000", "w_5000", "4096"),
]


@pytest.mark.parametrize(("chain", "names", "why"), BAD, ids=[c for c, _, _ in BAD])
def test_bad_values_name_the_component(chain: str, names: str, why: str) -> None:
    with pytest.raises(InvalidTransformation) as err:
        parse_chain(chain)
    assert err.value.status == 400
    assert names in err.value.public and why in err.value.public, err.value.public


SDK: list[dict[str, Any]] = [
    {"overlay": "logo", "effect": "multiply"},
    {"overlay": "logo", "effect": "screen", "gravity": "north_east", "x": 10},
    {"overlay": "logo", "flags": ["tiled"], "opacity": 30},
    {"overlay": "logo", "flags": "cutter"},
    {"overlay": "logo", "effect": "anti_removal:70"},
    {"transformation": [{"overlay": "logo", "width": 40}, {"effect": "overlay",
                                                           "flags": "layer_apply"}]},
    {"overlay": {"font_family": "Arial", "font_size": 20, "text": "Hello wide world",
                 "letter_spacing": 2, "line_spacing": 5, "text_align": "center"},
     "width": 100, "crop": "fit", "color": "white", "flags": "text_no_trim"},
    {"radius": [10, 20, 30, 40]},
    {"radius": "20:0"},
    {"effect": "outline:inner:10:200", "color": "orange"},
]  # fmt: skip


@pytest.mark.parametrize("options", SDK, ids=[str(o)[:60] for o in SDK])
def test_sdk_urls_parse(options: dict[str, Any]) -> None:
    cloudinary.config(cloud_name="demo", secure=False)
    url, _ = cloudinary.utils.cloudinary_url("dog", **options)
    req = parse_url(unquote("/" + url.split("/", 3)[3]))
    assert req.public_id == "dog" and req.plan.components
    assert parse_chain(canonical(req.plan)) == req.plan
    layer = req.plan.components[0].layer
    if isinstance(options.get("overlay"), dict):
        assert layer is not None and isinstance(layer.source, Text)
        assert layer.source == Text("Hello wide world", size=20, color=Color(255, 255, 255),
                                    width=100, no_trim=True, line_spacing=5, letter_spacing=2,
                                    align=TextAlign.CENTER)  # fmt: skip


BLEND_PLACES = ["", ",e_multiply", ",e_screen", ",e_overlay", ",e_mask", ",e_anti_removal:30",
                ".tiled", ".cutter", ".tiled,e_multiply", ".no_overflow,g_east"]  # fmt: skip
SOURCES = ["road", "shop:logo", "text:Arial_12:Hi%2C you", "text:Arial_12_center:Hi,c_fit,w_40",
           "text:Arial_12_line_spacing_3:a b,fl_text_no_trim,co_red"]  # fmt: skip


@st.composite
def blended_chains(draw: st.DrawFn) -> str:
    """A random chain with overlays (blends, tiles, cuts, wrapped text) around its parts."""
    parts = [p for p in draw(chains()).split("/") if "e_background_removal" not in p]
    out: list[str] = []
    depth = 0
    for part in parts:
        if depth < 2 and draw(st.booleans()):
            out.append("l_" + draw(st.sampled_from(SOURCES)))
            depth += 1
        if part:
            out.append(part)
        if depth and draw(st.booleans()):
            out.append("fl_layer_apply" + draw(st.sampled_from(BLEND_PLACES)))
            depth -= 1
    return "/".join(out)


@settings(max_examples=150, deadline=None)
@given(blended_chains())
def test_blended_chains_round_trip(chain: str) -> None:
    try:
        plan = parse_chain(chain, named=NAMED)
    except InvalidTransformation as e:  # only the documented layer limits may refuse
        assert "layer" in e.public or "blend" in e.public, e.public
        return
    text = canonical(plan)
    assert parse_chain(text) == plan, text
    assert canonical(parse_chain(text)) == text


def test_text_width_and_crop_fit_share_the_opener() -> None:
    plan = parse_chain("l_text:Arial_12:a b c,c_fit,w_30/c_fit,w_10/fl_layer_apply")
    layer = plan.components[0].layer
    assert layer is not None and isinstance(layer.source, Text) and layer.source.width == 30
    assert layer.components == (Component((Resize(10, crop=CropMode.FIT),)),)
    assert parse_chain(canonical(plan)) == plan
