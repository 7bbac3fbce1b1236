"""Outline steps: `e_outline[:<mode>][:<width>][:<blur>]` with `co_`.

The outline follows the shape of the image's alpha (an opaque image's rectangle):

- `outer` (default): a band of `width` px around the shape, drawn behind the image (the canvas
  grows by the band and its blur);
- `inner`: a band of `width` px inside the shape's edge, drawn over the image;
- `fill`: the outer band, and the colour behind the whole shape too (it shows through the
  shape's semi-transparent parts);
- `inner_fill`: the inner band, and the colour behind the whole shape.

`width` is 1..100 px (default 5), `blur` 0..2000 (default 0: a sharp band; the band is blurred
with sigma = width × min(blur, 400) / 400), colour from `co_` (default black). The mode may be
left out (`e_outline:20:200` = outer, width 20, blur 200), as Cloudinary's examples do.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Annotated

from .fields import invalid, parse_int, specs
from .registry import Qualifier, Range, action
from .syntax import syntax
from .values import BLACK, Color


class OutlineMode(Enum):
    OUTER = "outer"
    INNER = "inner"
    FILL = "fill"
    INNER_FILL = "inner_fill"


@action("e_outline")
@dataclass(frozen=True, slots=True)
class Outline:
    """`e_outline[:<mode>][:<1-100>][:<0-2000>]`, `co_<color>`: see the module docstring."""

    mode: OutlineMode = OutlineMode.OUTER
    width: Annotated[int, Range(1, 100)] = 5
    blur: Annotated[int, Range(0, 2000)] = 0
    color: Annotated[Color, Qualifier("co")] = BLACK

    @property
    def sigma(self) -> float:
        """The gaussian sigma of the band's edge (0: sharp): grows with the blur up to 400,
        where it reaches the band's width (more would only widen the canvas, not the look)."""
        return min(self.blur, 400) / 400 * self.width

    @property
    def reach(self) -> int:
        """How far outside the shape the outline can paint (outer modes), in px."""
        return self.width + int(3 * self.sigma + 1) if self.sigma else self.width


def _range(name: str) -> Range | None:
    return next(s.range for s in specs(Outline) if s.name == name)


def parse_outline(value: str, param: str) -> Outline:
    parts = value.split(":") if value else []
    mode = OutlineMode.OUTER
    if parts and not parts[0].lstrip("-").isdigit() and parts[0] != "":
        try:
            mode = OutlineMode(parts.pop(0))
        except ValueError:
            raise invalid(param, f"unsupported outline mode {value.split(':')[0]!r} "
                          "(outer, inner, fill or inner_fill)") from None  # fmt: skip
    if len(parts) > 2:
        raise invalid(param, "expected e_outline[:<mode>][:<width>][:<blur>]")
    width, blur = 5, 0
    if parts and parts[0] != "":
        width = parse_int(parts[0], param, _range("width"), "width")
    if len(parts) > 1 and parts[1] != "":
        blur = parse_int(parts[1], param, _range("blur"), "blur")
    return Outline(mode, width, blur)


def print_outline(step: Outline) -> str:
    parts = [step.mode.value] if step.mode is not OutlineMode.OUTER else []
    if step.width != 5 or step.blur:
        parts.append(str(step.width))
    if step.blur:
        parts.append(str(step.blur))
    return ":".join(parts)


syntax(Outline, parse_outline, print_outline)

__all__ = ["Outline", "OutlineMode", "parse_outline", "print_outline"]
