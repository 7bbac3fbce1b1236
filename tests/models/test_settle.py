"""The settle step on synthetic scenes (no weights): far haze goes, soft edges stay."""

from __future__ import annotations

import numpy as np

from alphacdn.models.settle import settle

from .conftest import disk_scene


def _scene() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An orange disk on grey-blue; the matte: a 6 px soft edge, far haze, a half-dropped body."""
    rgb, _ = disk_scene(512, 150)
    image = rgb.astype(np.float32) / 255
    yy, xx = np.mgrid[:512, :512]
    r = np.hypot(yy - 256, xx - 256)
    truth = np.clip((153 - r) / 6, 0, 1).astype(np.float32)  # the soft edge is real
    alpha = truth.copy()
    alpha[:100, :100] = 0.4  # the model's haze over background, far from the subject
    alpha[(r < 60)] = 0.65  # the subject's centre, half-dropped by the model
    return image, truth, alpha


def test_settle_clears_far_haze_fills_the_body_and_keeps_the_soft_edge() -> None:
    image, truth, alpha = _scene()
    out = settle(alpha, image)
    assert out.shape == alpha.shape and out.dtype == np.float32
    assert out[:80, :80].max() < 0.05, "background haze far from the subject is cleared"
    yy, xx = np.mgrid[:512, :512]
    r = np.hypot(yy - 256, xx - 256)
    assert out[r < 40].min() > 0.95, "a half-dropped body far from the edge is filled"
    edge = (truth > 0.1) & (truth < 0.9)
    assert np.abs(out[edge] - truth[edge]).max() < 0.02, "the soft edge band is left alone"
    assert np.abs(out - truth).sum() < 0.1 * np.abs(alpha - truth).sum()


def test_settle_decides_by_colour_where_the_model_is_unsure() -> None:
    image, _, alpha = _scene()
    # the model says 0.5 over two far regions; the one coloured like the subject is kept, the
    # one coloured like the background goes: the colour model is learnt from the sure regions
    image[:100, :100] = image[256, 256]
    alpha[:100, :100] = 0.5
    alpha[-100:, -100:] = 0.5
    out = settle(alpha, image)
    assert out[:80, :80].min() > 0.9
    assert out[-80:, -80:].max() < 0.1


def test_settle_leaves_a_matte_without_a_confident_subject_alone() -> None:
    image, _, _ = _scene()
    haze = np.full((512, 512), 0.3, np.float32)  # the model found nothing
    assert np.array_equal(settle(haze, image), haze)
