"""How a layer meets the image under it: blend modes and layer flags (issue 17).

- `e_multiply`, `e_screen`, `e_overlay`: the overlay's colours blend with the base's (the PDF
  blend modes, alpha respected);
- `e_mask`: the base is cut out by the overlay: it keeps its pixels only where the overlay is
  opaque (its alpha times the overlay's; transparent outside the overlay);
- `fl_cutter`: the same cut, as Cloudinary's flag spells it;
- `e_anti_removal[:<1-100>]` (default 50): the overlay (a watermark) is slightly distorted, in
  position and in colour, with a fixed pattern, so a clean copy cannot simply be subtracted;
- `fl_tiled`: the overlay repeats over the whole base, starting at its placement.

They are written in the layer's opening component or in its `fl_layer_apply` component (the
latter wins), and print in the `fl_layer_apply` component. They go with overlays (`l_`) only.
With a blend mode, or when tiled or cut, the canvas stays the base's (nothing overflows).
Bare `e_mask` there is a blend; `e_mask:<options>` elsewhere edits a matte (`Mask`).
"""

from __future__ import annotations

from enum import Enum

from .fields import invalid, parse_int
from .registry import Range

#: `e_anti_removal` strength
ANTI_REMOVAL = Range(1, 100)
ANTI_REMOVAL_DEFAULT = 50


class BlendMode(Enum):
    NORMAL = "normal"
    MULTIPLY = "multiply"
    SCREEN = "screen"
    OVERLAY = "overlay"
    MASK = "mask"
    ANTI_REMOVAL = "anti_removal"
    #: `fl_cutter`
    CUTTER = "cutter"


#: effect names that are blend modes in a layer's components
BLEND_EFFECTS = frozenset({"multiply", "screen", "overlay", "mask", "anti_removal"})


def is_blend_token(token: str) -> bool:
    """`e_multiply` … `e_anti_removal[:n]`, and bare `e_mask` (with options it edits a matte)."""
    if not token.startswith("e_"):
        return False
    name, _, value = token[2:].partition(":")
    if name == "mask":
        return value == ""
    return name in BLEND_EFFECTS


def parse_blend(token: str) -> tuple[BlendMode, int]:
    """(mode, anti-removal level) of one blend token (see `is_blend_token`)."""
    name, _, value = token[2:].partition(":")
    if name == "anti_removal":
        level = parse_int(value, token, ANTI_REMOVAL, "level") if value else ANTI_REMOVAL_DEFAULT
        return BlendMode.ANTI_REMOVAL, level
    if value:
        raise invalid(token, f"e_{name} takes no value")
    return BlendMode(name), 0


def print_blend(mode: BlendMode, level: int) -> list[str]:
    """The tokens of a blend for the `fl_layer_apply` component (`fl_cutter` is a flag)."""
    if mode in (BlendMode.NORMAL, BlendMode.CUTTER):
        return []
    if mode is BlendMode.ANTI_REMOVAL:
        return ["e_anti_removal" + ("" if level == ANTI_REMOVAL_DEFAULT else f":{level}")]
    return ["e_" + mode.value]


__all__ = [
    "ANTI_REMOVAL",
    "ANTI_REMOVAL_DEFAULT",
    "BLEND_EFFECTS",
    "BlendMode",
    "is_blend_token",
    "parse_blend",
    "print_blend",
]
