"""make_cutout on real weights (u2netp, 320²): the cut-out matches a known shape."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from alphacdn.models import Matter, ModelMissing, make_cutout

from .conftest import disk_scene

pytestmark = pytest.mark.model


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def test_cutout_of_a_disk_matches_its_shape(matter: Matter) -> None:
    rgb, mask = disk_scene(384, 110)
    cut = make_cutout(matter, "u2netp", rgb, fine_edges=False)
    assert cut.rgba.shape == (384, 384, 4) and cut.rgba.dtype == np.uint8
    assert iou(cut.rgba[..., 3] > 127, mask) > 0.95
    assert 0.5 < cut.confidence <= 1.0
    assert {"inference", "upsample", "decontaminate"} <= set(cut.timings)
    # opaque pixels keep their colour
    inner = mask & (cut.rgba[..., 3] == 255)
    assert np.abs(cut.rgba[..., :3][inner].astype(int) - rgb[inner]).mean() < 2


def test_fine_edges_keeps_the_shape(matter: Matter) -> None:
    rgb, mask = disk_scene(192, 60)
    cut = make_cutout(matter, "u2netp", rgb, fine_edges=True)
    assert iou(cut.rgba[..., 3] > 127, mask) > 0.95
    assert "fine_edges" in cut.timings


def test_estimate_is_measured(matter: Matter) -> None:
    rgb, _ = disk_scene(64, 20)
    matter.predict("u2netp", rgb)
    assert 0 < matter.estimated_seconds("u2netp") < 30


def test_a_missing_model_fails_with_the_install_command(tmp_path: Path) -> None:
    with pytest.raises(ModelMissing, match="alphacdn fetch-models u2netp"):
        Matter(tmp_path, 1).predict("u2netp", np.zeros((8, 8, 3), np.uint8))
