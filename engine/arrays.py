"""The bridge to numpy for model I/O (mattes): nothing else in the engine uses arrays."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyvips

from . import alpha


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
    """The H×W×4 uint8 array of a cached RGBA cut-out PNG."""
    image = pyvips.Image.new_from_buffer(data, "")
    if image.bands != 4 or image.format != "uchar":
        raise ValueError(f"expected an 8-bit RGBA PNG, got {image.bands} bands {image.format}")
    return np.ndarray(
        buffer=image.write_to_memory(), dtype=np.uint8, shape=(image.height, image.width, 4)
    ).copy()


__all__ = ["decode_rgba_png", "encode_rgba_png", "scale_image", "to_rgb_array"]
