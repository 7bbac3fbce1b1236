"""`fl_getinfo`: JSON about a render instead of its pixels.

    {"input": {"width", "height", "format"},
     "output": {"width", "height", "format", "bytes"},
     "subject": {"x", "y", "width", "height"},          # a cut-out's subject, input pixels
     "output_subject": {…},                            # the same in the delivered image
     "g_auto": [{"x", "y", "width", "height", "of": {"width", "height"}, "by",
                 "attention"?: {"x", "y"}}]}          # each g_auto crop, in the image it cut

`subject` is there when the source has transparency (background removal, a transparent
original): the box of its alpha above the subject threshold. `g_auto` lists the crops a `g_auto`
resize made, `by` "subject" (centred on a cut-out's subject) or "attention" (libvips
attention, with the point it found).
"""

from __future__ import annotations

import json
from typing import Any

import pyvips

from .load import SourceInfo
from .subject import has_transparency, subject_box

CONTENT_TYPE = "application/json"


def _box(image: pyvips.Image, scale_x: float = 1.0, scale_y: float = 1.0) -> dict[str, int] | None:
    if not has_transparency(image):
        return None
    box = subject_box(image[image.bands - 1])
    if box is None:
        return None
    left, top, width, height = box
    return {"x": round(left * scale_x), "y": round(top * scale_y),
            "width": round(width * scale_x), "height": round(height * scale_y)}  # fmt: skip


def start(info: SourceInfo, loaded: pyvips.Image) -> dict[str, Any]:
    """The input part, read from the source before any step (it may be shrunk on load)."""
    notes: dict[str, Any] = {
        "input": {"width": info.width, "height": info.height, "format": info.format}
    }
    subject = _box(loaded, info.width / loaded.width, info.height / loaded.height)
    if subject is not None:
        notes["subject"] = subject
    return notes


def finish(notes: dict[str, Any], image: pyvips.Image, fmt: str, body: bytes) -> bytes:
    """The JSON body: what `start` and the steps noted, plus the output."""
    notes["output"] = {"width": image.width, "height": image.height, "format": fmt,
                       "bytes": len(body)}  # fmt: skip
    subject = _box(image)
    if subject is not None:
        notes["output_subject"] = subject
    ordered = {k: notes[k] for k in ("input", "output", "subject", "output_subject", "faces",
                                  "g_auto")
               if k in notes}  # fmt: skip
    return json.dumps(ordered, separators=(",", ":")).encode()


__all__ = ["CONTENT_TYPE", "finish", "start"]
