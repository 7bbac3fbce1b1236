"""Model fixtures: the shared u2netp session (weights from `alphacdn fetch-models --for-tests`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from alphacdn.models import MODELS, Matter
from alphacdn.models.fetch import is_verified


@pytest.fixture(scope="session")
def matter(models_dir: Path) -> Matter:
    """A Matter on the test models dir; fails (never skips) when u2netp is not installed."""
    if not is_verified(MODELS["u2netp"], models_dir):
        pytest.fail(
            f"u2netp weights missing or corrupt in {models_dir}: "
            "run `alphacdn fetch-models --for-tests` (the test command does)"
        )
    return Matter(models_dir, ort_threads=1)


def disk_scene(size: int = 256, radius: int = 70) -> tuple[np.ndarray, np.ndarray]:
    """A shaded orange disk on a flat grey-blue background, and its exact mask."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    cy, cx = size * 0.5, size * 0.5
    mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2
    shade = 1.0 - 0.35 * ((yy - cy + radius) / (2 * radius)).clip(0, 1)
    rgb = np.empty((size, size, 3), dtype=np.float32)
    rgb[...] = (150, 160, 175)
    rgb[mask] = np.stack([230 * shade, 110 * shade, 30 * shade], axis=-1)[mask]
    return rgb.astype(np.uint8), mask
