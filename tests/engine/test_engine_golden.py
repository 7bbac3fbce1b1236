"""Golden images for a few chains, compared by mean absolute difference (never bytes)."""

from __future__ import annotations

import pytest

from alphacdn.engine import render
from alphacdn.transform.plan import Plan
from alphacdn.transform.steps import (
    Border,
    Grayscale,
    Resize,
    RoundCorners,
    Saturation,
    Sepia,
    Vignette,
)
from alphacdn.transform.values import Color, CropMode, Gravity

from .imaging import MAX_PIXELS, check_golden, decode, fixture, plan

CHAINS: dict[str, Plan] = {
    "c_fill,g_auto,h_90,w_120/e_grayscale": plan(
        Resize(120, 90, CropMode.FILL, Gravity.AUTO), Grayscale()
    ),
    "c_pad,h_120,w_120/bo_3px_solid_rgb:203040": plan(
        Resize(120, 120, CropMode.PAD), Border(3, Color(0x20, 0x30, 0x40))
    ),
    "c_thumb,g_north,h_100,w_100,z_1.5/r_max": plan(
        Resize(100, 100, CropMode.THUMB, Gravity.NORTH, zoom=1.5), RoundCorners(None)
    ),
    "w_0.5/e_sepia:60/e_saturation:40/e_vignette:50": plan(
        Resize(width=0.5), Sepia(60), Saturation(40), Vignette(50)
    ),
}


@pytest.mark.parametrize("chain", sorted(CHAINS))
def test_golden_chain(chain: str) -> None:
    out = render(fixture("sunset-srgb.png"), CHAINS[chain], max_pixels=MAX_PIXELS)
    check_golden(chain, "sunset", decode(out.body))
