"""The bridge to numpy for model I/O (mattes): nothing else in the engine uses arrays."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pyvips

from . import alpha
from .load import MAX_SIDE, load, probe_checked


def scale_image(image: pyvips.Image, scale: float) -> pyvips.Image:
    """Resize by `scale` (lanczos3, premultiplied when the image has alpha)."""
    return alpha.resize(image, scale)


def to_rgb_array(image: pyvips.Image) -> npt.NDArray[np.uint8]:
    """An H×W×3 uint8 array of an 8-bit sRGB image (alpha flattened on white)."""
    rgb = alpha.flatten(image)[0:3].cast("uchar")
    return np.ndarray(
        buffer=rgb.write_to_memory(), dtype=np.uint8, shape=(rgb.height, rgb.width, 3)
    ).copy()


def encode_rgba_png(rgba: npt.NDArray[np.uint8]) -> bytes:
    """A lossless RGBA PNG (fast compression: it is a cache entry, not a delivery)."""
    if rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.dtype != np.uint8:
        raise ValueError(f"expected H×W×4 uint8, got {rgba.shape} {rgba.dtype}")
    height, width = rgba.shape[:2]
    image = pyvips.Image.new_from_memory(
        np.ascontiguousarray(rgba).tobytes(), width, height, 4, "uchar"
    ).copy(interpretation="srgb")
    return bytes(image.pngsave_buffer(compression=1, keep=pyvips.enums.ForeignKeep.NONE))


def decode_rgba_png(data: bytes) -> npt.NDArray[np.uint8]:
    """The H×W×4 uint8 array of a cached RGBA cut-out PNG (written by us, from a source that
    passed `check_size`)."""
    image = pyvips.Image.new_from_buffer(data, "")
    if image.bands != 4 or image.format != "uchar":
        raise ValueError(f"expected an 8-bit RGBA PNG, got {image.bands} bands {image.format}")
    return np.ndarray(
        buffer=image.write_to_memory(), dtype=np.uint8, shape=(image.height, image.width, 4)
    ).copy()


class Picture:
    """An encoded source as the matte models see it: the header is read (and its size checked)
    now, the pixels are decoded on first use, upright in sRGB and scaled down to at most
    `fit_pixels` (a cached matte whose detections are cached too needs no pixels)."""

    def __init__(
        self, data: bytes, *, max_pixels: int, max_side: int = MAX_SIDE, fit_pixels: int
    ) -> None:
        info = probe_checked(data, max_pixels=max_pixels, max_side=max_side)
        self._data = data
        self._max_pixels = max_pixels
        self._max_side = max_side
        self._image: pyvips.Image | None = None
        #: the upright source size when it was scaled down to `fit_pixels`, else None
        self.scaled_from: tuple[int, int] | None = None
        self._scale = 1.0
        if info.pixels > fit_pixels:
            self.scaled_from = (info.width, info.height)
            self._scale = math.sqrt(fit_pixels / info.pixels)

    def _upright(self) -> pyvips.Image:
        if self._image is None:
            full = load(self._data, max_pixels=self._max_pixels, max_side=self._max_side)
            self._image = scale_image(full, self._scale) if self.scaled_from else full
        return self._image

    def rgb(self) -> npt.NDArray[np.uint8]:
        """The H×W×3 uint8 pixels (scaled as the header decided)."""
        return to_rgb_array(self._upright())

    def rgb_within(self, side: int) -> tuple[npt.NDArray[np.uint8], float]:
        """A copy at most `side` pixels long, and the factor it was scaled by (≤ 1)."""
        image = self._upright()
        factor = min(1.0, side / max(image.width, image.height))
        small = scale_image(image, factor) if factor < 1.0 else image
        return to_rgb_array(small), factor


__all__ = ["Picture", "decode_rgba_png", "encode_rgba_png", "scale_image", "to_rgb_array"]
