"""`MatteModels.make` on real weights: a new salient matte, hints on a cached one, and a cached
matte with its detections needs no pixels at all."""

from __future__ import annotations

import numpy as np
import pytest
import pyvips

from alphacdn import engine
from alphacdn.models import Matter
from alphacdn.models.matting import Codec, MatteModels, Picture

from .conftest import disk_scene

pytestmark = pytest.mark.model

CODEC = Codec(encode=engine.encode_rgba_png, decode=engine.decode_rgba_png)


def _png(rgb: np.ndarray) -> bytes:
    h, w = rgb.shape[:2]
    image = pyvips.Image.new_from_memory(rgb.tobytes(), w, h, 3, "uchar")
    return bytes(image.pngsave_buffer())


class CountingPicture:
    """The engine's picture, counting how often the pixels are asked for."""

    def __init__(self, data: bytes) -> None:
        self._picture = engine.Picture(data, max_pixels=10_000_000, fit_pixels=10_000_000)
        self.decodes = 0

    @property
    def scaled_from(self) -> tuple[int, int] | None:
        return self._picture.scaled_from

    def rgb(self) -> np.ndarray:
        self.decodes += 1
        return self._picture.rgb()

    def rgb_within(self, side: int) -> tuple[np.ndarray, float]:
        self.decodes += 1
        return self._picture.rgb_within(side)


def test_make_runs_the_model_once_and_hints_reuse_the_salient_matte(matter: Matter) -> None:
    models = MatteModels(matter, CODEC, detector_threads=1, person_model=None)
    rgb, mask = disk_scene(256, 80)
    data = _png(rgb)
    first: Picture = CountingPicture(data)
    made = models.make(first, "u2netp", fine_edges=False, hints=(), salient=None)
    assert made.inferred and not made.detected
    alpha = CODEC.decode(made.outcome.png)[..., 3] > 127
    assert (alpha & mask).sum() / (alpha | mask).sum() > 0.95
    assert (made.outcome.width, made.outcome.height) == (256, 256)
    assert {"decode", "inference", "upsample", "encode"} <= set(made.outcome.timings)
    assert made.outcome.detected is None  # the detector did not look
    assert made.outcome.route == "salient (person routing off)"
    assert made.salient.png == made.outcome.png

    hinted = models.make(
        CountingPicture(data), "u2netp", fine_edges=False, hints=("dog",), salient=made.salient
    )
    assert not hinted.inferred and hinted.detected
    assert hinted.salient.detections is not None
    assert hinted.outcome.hints == ("dog",) and "encode_hinted" in hinted.outcome.timings
    assert hinted.outcome.confidence == made.outcome.confidence


def test_a_cached_matte_with_its_detections_needs_no_pixels(matter: Matter) -> None:
    models = MatteModels(matter, CODEC, detector_threads=1)
    rgb, _ = disk_scene(128, 40)
    data = _png(rgb)
    made = models.make(
        CountingPicture(data), "u2netp", fine_edges=False, hints=(), salient=None, detect=True
    )
    assert made.inferred and made.detected and made.outcome.detected is not None
    again = CountingPicture(data)
    for hints in ((), ("cat",)):
        reused = models.make(
            again, "u2netp", fine_edges=False, hints=hints, salient=made.salient, detect=True
        )
        assert not reused.inferred and not reused.detected
    assert again.decodes == 0


def test_with_person_routing_the_detector_decides_the_route(matter: Matter) -> None:
    models = MatteModels(matter, CODEC, detector_threads=1)  # rvm is a --for-tests model
    assert models.person_route() == "rvm" and models.route_tag("u2netp") == "u2netp+rvm"
    rgb, _ = disk_scene(256, 80)
    made = models.make(
        CountingPicture(_png(rgb)), "u2netp", fine_edges=False, hints=(), salient=None
    )
    assert made.inferred and made.detected and made.salient.detections is not None
    assert made.outcome.route.startswith("salient (no-person;")
    assert "detect" in made.outcome.timings and "route" in made.outcome.timings
    assert MatteModels(matter, CODEC, detector_threads=1, person_model=None).route_tag(
        "u2netp"
    ) == ("u2netp")
