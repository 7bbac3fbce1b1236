"""Pixels: pyvips load (shrink-on-load, orientation, colour), geometry, effects, encode.

Pure given bytes: no file or network I/O, no cache. Every step type has exactly one pixel
function, registered with `@applies` (see `registry`).
"""

from .arrays import Picture, decode_rgba_png, encode_rgba_png, scale_image, to_rgb_array
from .encode import CONTENT_TYPES, QUALITY, encode, negotiate_format, quality_for
from .frames import MAX_FRAMES, frames_rendered
from .load import MAX_SIDE, SourceInfo, check_dimensions, check_size, load, probe, probe_checked
from .registry import APPLIERS, Context, applies, apply_step
from .render import Rendered, render
from .runtime import configure
from .stop import RenderStop, RenderStopped

__all__ = [
    "APPLIERS",
    "CONTENT_TYPES",
    "MAX_FRAMES",
    "MAX_SIDE",
    "QUALITY",
    "Context",
    "Picture",
    "RenderStop",
    "RenderStopped",
    "Rendered",
    "SourceInfo",
    "applies",
    "apply_step",
    "check_dimensions",
    "check_size",
    "configure",
    "decode_rgba_png",
    "encode",
    "encode_rgba_png",
    "frames_rendered",
    "load",
    "negotiate_format",
    "probe",
    "probe_checked",
    "quality_for",
    "render",
    "scale_image",
    "to_rgb_array",
]
