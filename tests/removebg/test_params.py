"""Pure units: parameter parsing (aliases, defaults, caps), colours, size plan and weights."""

from __future__ import annotations

import pytest

from alphacdn.removebg.errors import ApiError
from alphacdn.removebg.limits import image_weight
from alphacdn.removebg.options import ShadowType, Size
from alphacdn.removebg.params import parse_params
from alphacdn.removebg.service import plan_size
from alphacdn.removebg.values import CENTER
from alphacdn.transform.colors import parse_css_color
from alphacdn.transform.values import Color

SRC = {"image_file_b64": "aGVsbG8="}


@pytest.mark.parametrize(
    ("raw", "size"),
    [
        ("small", Size.PREVIEW),
        ("regular", Size.PREVIEW),
        ("4k", Size.FULL),
        ("50mp", Size.MP50),
        ("HD", Size.HD),
        ("medium", Size.MEDIUM),
        ("auto", Size.AUTO),
    ],
)
def test_size_aliases(raw: str, size: Size) -> None:
    assert parse_params({**SRC, "size": raw}, {}).size is size


def test_defaults_and_derived_defaults() -> None:
    p = parse_params(SRC, {})
    assert (p.size, p.position, p.shadow_type) == (Size.PREVIEW, None, ShadowType.NONE)
    assert parse_params({**SRC, "scale": "50%"}, {}).position == CENTER
    assert parse_params({**SRC, "add_shadow": "true"}, {}).shadow_type is ShadowType.CAR
    margin = parse_params({**SRC, "crop_margin": "900px 80%"}, {}).crop_margin
    assert (margin.top, margin.right) == (500, 0.5)  # 500 px, 50 % of the subject


@pytest.mark.parametrize(
    ("raw", "rgba"),
    [
        ("fff", (255, 255, 255, 255)),
        ("#81d4fa77", (0x81, 0xD4, 0xFA, 0x77)),
        ("green", (0, 128, 0, 255)),
        ("0008", (0, 0, 0, 0x88)),
        ("nope", None),
        ("12345", None),
    ],
)
def test_colors(raw: str, rgba: tuple[int, int, int, int] | None) -> None:
    assert parse_css_color(raw) == (Color(*rgba) if rgba else None)


@pytest.mark.parametrize(
    ("w", "h", "weight"),
    [
        (625, 400, 1),
        (1200, 800, 1),
        (1600, 1200, 2),
        (2500, 1600, 4),
        (4000, 2500, 10),
        (6250, 4000, 25),
        (8000, 6250, 50),
    ],
)
def test_rate_weights_match_the_reference_table(w: int, h: int, weight: int) -> None:
    assert image_weight(w, h) == weight


def test_size_plan() -> None:
    auto = parse_params({**SRC, "size": "auto"}, {})
    assert plan_size(auto, 400, 400, can_pay_full=True).cost == 0.25  # small: priced as preview
    assert plan_size(auto, 2000, 2000, can_pay_full=False).max_pixels == 250_000
    assert plan_size(auto, 2000, 2000, can_pay_full=True).max_pixels == 10_000_000  # PNG cap
    full = parse_params({**SRC, "size": "full", "format": "webp"}, {})
    with pytest.raises(ApiError) as err:
        plan_size(full, 6000, 5000, can_pay_full=True)
    assert err.value.code == "limit_full_25mp"
