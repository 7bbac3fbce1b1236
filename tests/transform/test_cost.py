"""The cost estimate: hostile plans are refused naming their component, ordinary storefront
plans and every golden chain pass under the default budget, and the estimate grows with what
makes a render dear."""

from __future__ import annotations

from pathlib import Path

import pytest

from alphacdn.settings import EngineSettings
from alphacdn.transform import InvalidTransformation, parse_chain
from alphacdn.transform.cost import check_cost, estimate

GOLDEN = Path(__file__).resolve().parents[1] / "golden"

BUDGET = EngineSettings().render_budget
CANVAS = EngineSettings().max_canvas_pixels


def check(chain: str, width: int, height: int, fmt: str = "jpg", **sizes: tuple[int, int]) -> None:
    check_cost(
        parse_chain(chain),
        width,
        height,
        budget=BUDGET,
        max_canvas=CANVAS,
        source_format=fmt,
        layer_sizes=sizes,
    )


HOSTILE = [
    # issue 15: 111 CPU-s (RGBA blurs in float), and the same on an opaque JPEG
    ("w_3000,e_blur:2000", 480, 360, "png", {}, r"e_blur:2000 on a 3000x2250 canvas .*budget"),
    ("w_3000,e_blur:2000", 480, 360, "jpg", {}, r"e_blur:2000 on a 3000x2250 canvas .*budget"),
    # issue 15: 18.7 s and 670 MB from a 64x64 base
    ("l_x,fl_relative,w_99.0", 64, 64, "png", {"x": (64, 64)}, r"w_99.0 in layer .*l_x.*canvas"),
    ("w_16000,h_16000,c_scale", 100, 100, "jpg", {}, r"w_16000.*16000x16000 canvas"),
    ("e_background_removal/w_4000/e_shadow", 4000, 3000, "jpg", {}, r"e_shadow.*budget"),
    ("l_text:Arial_300:" + "W" * 300, 400, 300, "jpg", {}, r"l_text:Arial_300"),
    ("bo_1000px_solid_red/bo_1000px_solid_red/bo_1000px_solid_red", 4000, 3000, "jpg", {},
     r"bo_1000px_solid_.* makes a 6000x5000 canvas"),
    # issue 17: a wide, blurred outline is float blurs over a grown canvas
    ("e_outline:100:2000", 3000, 3000, "png", {}, r"e_outline:100:2000 on a 3802x3802 canvas"),
    ("l_text:Arial_20:" + "word " * 99 + ",c_fit,w_4096/e_outline:100:2000", 400, 300, "jpg",
     {}, r"e_outline:100:2000 on a \d+x\d+ canvas .*budget"),
]  # fmt: skip


@pytest.mark.parametrize(("chain", "w", "h", "fmt", "sizes", "message"), HOSTILE)
def test_hostile_plans_are_refused_naming_the_component(
    chain: str, w: int, h: int, fmt: str, sizes: dict[str, tuple[int, int]], message: str
) -> None:
    with pytest.raises(InvalidTransformation, match=message) as err:
        check(chain, w, h, fmt, **sizes)
    assert err.value.status == 400


ORDINARY = [
    ("", 6000, 4000, "jpg"),  # a large original as uploaded
    ("f_auto,q_auto", 8000, 6000, "jpg"),
    ("c_fill,g_auto,w_400,h_400/f_auto,q_auto", 6000, 4000, "jpg"),
    ("w_2000,c_limit/e_sharpen/q_auto", 6000, 4000, "jpg"),
    ("e_blur:300,w_800", 1200, 900, "png"),
    ("e_blur:2000,w_400", 3000, 2000, "png"),
    ("w_1600,c_scale,e_blur:800", 800, 600, "jpg"),
    ("w_2400", 600, 400, "jpg"),
    ("c_pad,w_1200,h_1200,b_white/e_trim/e_vignette/r_20", 1000, 1000, "png"),
    ("a_45,w_800/bo_10px_solid_black", 2000, 1500, "jpg"),
    ("e_background_removal/c_fill,w_1000,h_1000/e_dropshadow", 3000, 3000, "jpg"),
    ("e_background_removal/e_shadow/w_800", 1500, 1500, "jpg"),
    ("e_background_removal:fineedges_y/e_mask:expand_10;feather_10/w_600", 2000, 2000, "jpg"),
    ("l_logo,w_0.25,fl_relative,g_north_east,x_10,y_10", 2000, 1500, "jpg"),
    ("u_road/c_fill,w_1200,h_800/fl_layer_apply/e_saturation:30", 1200, 800, "png"),
    ("l_text:Arial_60_bold:Summer sale 50%25 off,co_white,g_south,y_40", 1600, 1200, "jpg"),
    # issue 17
    ("r_0:40:0:40/co_white,e_outline:inner:8", 2000, 1500, "jpg"),
    ("e_background_removal/co_red,e_outline:20:200/w_800", 2000, 2000, "jpg"),
    ("l_logo,e_multiply,fl_tiled/l_logo,fl_cutter", 2000, 1500, "jpg"),
    ("l_logo,e_anti_removal:80,g_south_east", 4000, 3000, "jpg"),
    (
        "l_text:Arial_40_center_line_spacing_10:" + "caption " * 30 + ",c_fit,w_600,co_white",
        2000,
        1500,
        "jpg",
    ),
]


@pytest.mark.parametrize(("chain", "w", "h", "fmt"), ORDINARY)
def test_ordinary_storefront_plans_pass(chain: str, w: int, h: int, fmt: str) -> None:
    check(chain, w, h, fmt, logo=(800, 400), road=(4000, 3000))


def _golden_chains() -> list[str]:
    chains = set()
    for path in GOLDEN.rglob("*.png"):
        if path.parent == GOLDEN:  # a picture of its own (the gallery screenshot), not a chain
            continue
        chain = str(path.parent.relative_to(GOLDEN))
        if "text-" not in chain and not chain.startswith("removebg"):  # not chains
            chains.add(chain)
    return sorted(chains)


@pytest.mark.parametrize("chain", _golden_chains())
def test_every_golden_chain_passes_on_a_large_source(chain: str) -> None:
    check(chain, 2000, 2000, "png", shop_logo=(2000, 2000), **{"shop/logo": (2000, 2000)})


def test_the_estimate_grows_with_what_makes_a_render_dear() -> None:
    def units(chain: str, w: int = 1000, h: int = 1000, fmt: str = "jpg") -> float:
        return estimate(parse_chain(chain), w, h, source_format=fmt).units

    assert units("e_blur:100") < units("e_blur:500") < units("e_blur:2000")
    assert units("e_blur:500") < units("e_blur:500", fmt="png")  # RGBA blurs in float
    assert units("w_500") < units("w_1000") < units("w_2000") < units("w_4000")
    assert units("e_grayscale") < units("e_sharpen")
    assert units("") < units("bo_100px_solid_red") < units("bo_400px_solid_red")


def test_a_source_larger_than_the_canvas_limit_can_still_be_delivered() -> None:
    check("f_webp", 8000, 6000)  # 48 MP, over the 25 MP canvas limit: its own size is allowed
    check("w_0.5/e_grayscale", 8000, 6000)
    with pytest.raises(InvalidTransformation, match="canvas"):
        check("w_10000", 8000, 6000)  # but growing it is not


def test_an_animation_costs_each_of_its_frames() -> None:
    plan = parse_chain("e_blur:2000")  # ~670 units over a still's baseline: within the budget
    one = estimate(plan, 480, 360, source_format="gif")
    many = estimate(plan, 480, 360, source_format="gif", frames=40)
    assert many.units == pytest.approx(40 * one.units)
    assert many.baseline == pytest.approx(40 * one.baseline)
    check_cost(plan, 480, 360, budget=BUDGET, max_canvas=CANVAS, source_format="gif")
    with pytest.raises(InvalidTransformation, match="in each of 100 frames"):
        check_cost(
            plan, 480, 360, budget=BUDGET, max_canvas=CANVAS, source_format="gif", frames=100
        )
