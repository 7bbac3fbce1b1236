"""Refinement pieces on synthetic images (no weights): guided upsampling, colours, confidence."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import uniform_filter

from alphacdn.models import matte_confidence, refine
from alphacdn.models.refine import box_blur, estimate_foreground, guided_upsample, resize_float

from .conftest import disk_scene


def test_guided_upsampling_keeps_a_sharp_edge_better_than_bilinear() -> None:
    rgb, mask = disk_scene(512, 150)
    truth = mask.astype(np.float32)
    low = resize_float(truth, 64, 64)  # the model's coarse view of the shape
    bilinear = np.clip(resize_float(low, 512, 512), 0, 1)
    guided = guided_upsample(low, rgb.astype(np.float32) / 255)
    assert guided.shape == truth.shape and guided.dtype == np.float32
    err_bilinear = np.abs(bilinear - truth).mean()
    err_guided = np.abs(guided - truth).mean()
    assert err_guided < 0.5 * err_bilinear, (err_guided, err_bilinear)
    # the soft band is narrower: fewer pixels neither background nor foreground
    soft = lambda a: np.count_nonzero((a > 0.05) & (a < 0.95))  # noqa: E731
    assert soft(guided) < 0.5 * soft(bilinear)


def test_foreground_estimation_removes_background_bleed() -> None:
    h, w = 64, 240  # a 20 px soft edge between flat foreground and background
    alpha = np.tile(np.clip((np.arange(w, dtype=np.float32) - 110) / 20, 0, 1), (h, 1))
    fg = np.array([0.9, 0.2, 0.1], np.float32)
    bg = np.array([0.1, 0.3, 0.9], np.float32)
    image = alpha[..., None] * fg + (1 - alpha[..., None]) * bg
    est = estimate_foreground(image, alpha)
    band = (alpha > 0.2) & (alpha < 0.9)
    naive = np.abs(image - fg)[band].mean()
    ours = np.abs(est - fg)[band].mean()
    assert ours < 0.25 * naive, (ours, naive)


@pytest.mark.parametrize("size", [2, 3, 7, 17, 91])
@pytest.mark.parametrize("shape", [(37, 53), (40, 31, 3)])
def test_box_blur_is_scipys_uniform_filter(shape: tuple[int, ...], size: int) -> None:
    x = np.random.default_rng(size).random(shape, dtype=np.float32)
    spatial = (size, size) + ((1,) if len(shape) == 3 else ())
    expected = uniform_filter(x, size=spatial, mode="reflect")
    assert np.abs(box_blur(x, size) - expected).max() < 1e-5


def test_coarse_decontamination_pass_matches_the_full_resolution_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The wide pass on a shrunk grid (large images) gives the same colours in the soft band."""
    h, w = 256, 512
    x = np.arange(w, dtype=np.float32)
    alpha = np.tile(np.clip((x - 240) / 30, 0, 1), (h, 1))
    yy = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    fg = np.concatenate([0.9 - 0.3 * yy, 0.2 + 0 * yy, 0.1 + 0.2 * yy], axis=2) * np.ones(
        (h, w, 3), np.float32
    )
    bg = np.array([0.1, 0.3, 0.9], np.float32)
    image = alpha[..., None] * fg + (1 - alpha[..., None]) * bg
    full = estimate_foreground(image, alpha)
    monkeypatch.setattr(refine, "COARSE_PIXELS", 0)
    coarse = estimate_foreground(image, alpha)
    band = (alpha > 0.2) & (alpha < 0.9)
    assert np.abs(coarse - full)[band].mean() < 0.01
    assert np.abs(coarse - fg)[band].mean() < 0.25 * np.abs(image - fg)[band].mean()


def test_confidence_is_high_for_a_clean_matte_and_low_for_noise() -> None:
    _, mask = disk_scene(256, 70)
    clean = matte_confidence(mask.astype(np.float32))
    noise = matte_confidence(np.random.default_rng(0).random((256, 256), dtype=np.float32))
    blurry = matte_confidence(
        np.clip(resize_float(resize_float(mask.astype(np.float32), 16, 16), 256, 256), 0, 1)
    )
    assert 0.0 <= noise < blurry < clean <= 1.0
    assert clean > 0.9 and noise < 0.1
    assert matte_confidence(np.zeros((64, 64), np.float32)) == 0.0
