"""`fl_getinfo`: the render's facts as JSON (sizes, a cut-out's subject box, g_auto crops)."""

from __future__ import annotations

import json
from typing import Any

from alphacdn.engine import render
from alphacdn.transform import canonical, parse_chain
from alphacdn.transform.values import Flag
from tests.conftest import FIXTURES

from .imaging import MAX_PIXELS, jpeg, png, red_disc, solid

CUTOUT = (FIXTURES / "e2e" / "tiger-cutout.png").read_bytes()  # 320×213 RGBA


def info(chain: str, source: bytes) -> dict[str, Any]:
    out = render(source, parse_chain(chain), max_pixels=MAX_PIXELS)
    assert out.content_type == "application/json"
    data: dict[str, Any] = json.loads(out.body)
    return data


def test_getinfo_is_an_output_flag_in_the_key() -> None:
    plan = parse_chain("w_100,fl_getinfo")
    assert Flag.GETINFO in plan.output.flags
    assert canonical(plan) == "w_100/fl_getinfo"
    assert parse_chain(canonical(plan)) == plan


def test_sizes_in_and_out() -> None:
    data = info("c_scale,w_60/fl_getinfo", jpeg(solid(120, 80, (10, 20, 30))))
    assert data["input"] == {"width": 120, "height": 80, "format": "jpg"}
    assert {k: data["output"][k] for k in ("width", "height", "format")} == {
        "width": 60, "height": 40, "format": "jpg"}  # fmt: skip
    assert data["output"]["bytes"] > 100
    assert "subject" not in data and "g_auto" not in data


def test_subject_box_of_a_cutout() -> None:
    disc = png(red_disc(100).embed(50, 20, 200, 140))  # disc of radius 40 around (100, 70)
    data = info("fl_getinfo", disc)
    box = data["subject"]
    assert abs(box["x"] - 60) <= 1 and abs(box["y"] - 30) <= 1
    assert abs(box["width"] - 80) <= 2 and abs(box["height"] - 80) <= 2
    assert data["output_subject"] == box  # no step moved it


def test_subject_box_is_in_input_pixels_after_shrink_on_load() -> None:
    data = info("w_160/fl_getinfo", CUTOUT)
    full = info("fl_getinfo", CUTOUT)["subject"]
    assert all(abs(data["subject"][k] - full[k]) <= 3 for k in full)
    assert data["output_subject"]["width"] < full["width"]


def test_g_auto_crop_is_reported() -> None:
    crop = info("c_fill,g_auto,h_100,w_100/fl_getinfo", CUTOUT)["g_auto"]
    assert len(crop) == 1 and crop[0]["by"] == "subject"
    assert crop[0]["width"] == crop[0]["height"] == 100
    opaque = jpeg(solid(300, 200, (200, 200, 200)).draw_rect(20, 240, 150, 30, 30, fill=True))
    found = info("c_fill,g_auto,h_100,w_100/fl_getinfo", opaque)["g_auto"][0]
    assert found["by"] == "attention" and found["x"] > 0  # moved towards the dark square
