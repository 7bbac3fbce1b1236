"""Effects for accessibility (what the SDKs' `accessibility` plugin modes ask for).

- `e_tint[:equalize][:<amount>[:<color>[:<pos>p]][:<color>[:<pos>p]]…]`: Cloudinary's multi-step
  tint: one colour tints by luma (`e_tint:75:black`, the legacy dark mode; `e_tint:50:white`,
  bright mode), several make a gradient map (`e_tint:100:red:blue:yellow`,
  `e_tint:equalize:80:red:50p:blue:60p`). Positions are percent of the luma range; colours
  without one are spread evenly between their neighbours. The step is `steps.Tint`.
- `e_assist_colorblind[:<1-100>|xray]`: stripes over red and over green areas (in two
  directions, `strength` % dark, default 10) so the two can be told apart without seeing the
  hue; `xray` shifts the red–green difference into colours colour-blind eyes distinguish
  (daltonize) instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from .colors import format_color, parse_color
from .fields import invalid, parse_int
from .registry import Range, action
from .steps import Tint
from .syntax import syntax, syntax_with_qualifiers
from .values import Color

#: colours in one tint gradient
MAX_TINT_COLORS = 10
_POSITION = re.compile(r"(\d{1,3})p")
_AMOUNT = Range(0, 100)


@action("e_assist_colorblind")
@dataclass(frozen=True, slots=True)
class AssistColorblind:
    """`e_assist_colorblind[:<1-100>|xray]`: stripes (default strength 10) or `xray`."""

    strength: Annotated[int, Range(1, 100)] = 10
    xray: bool = False


def parse_assist(value: str, param: str) -> AssistColorblind:
    if value == "xray":
        return AssistColorblind(xray=True)
    if not value:
        return AssistColorblind()
    return AssistColorblind(parse_int(value, param, Range(1, 100), "strength"))


def print_assist(step: AssistColorblind) -> str:
    if step.xray:
        return "xray"
    return "" if step.strength == 10 else str(step.strength)


def _colour_parts(parts: list[str]) -> list[str]:
    """`rgb`, `ff0000` → `rgb:ff0000` (a colour's `rgb:` stays whole)."""
    out: list[str] = []
    for part in parts:
        if out and out[-1] == "rgb":
            out[-1] += ":" + part
        else:
            out.append(part)
    return out


def parse_tint(value: str, param: str, qualifiers: dict[str, Any]) -> Tint:
    parts = _colour_parts(value.split(":")) if value else []
    equalize = bool(parts) and parts[0] == "equalize"
    if equalize:
        parts = parts[1:]
    amount = 60
    if parts and parts[0] != "" and parts[0][0].isdigit() and not _POSITION.fullmatch(parts[0]):
        amount = parse_int(parts[0], param, _AMOUNT, "amount")
        parts = parts[1:]
    elif parts and parts[0] == "":  # `e_tint::red` keeps the default amount
        parts = parts[1:]
    stops: list[tuple[Color, int | None]] = []
    for part in parts:
        if m := _POSITION.fullmatch(part):
            if not stops or stops[-1][1] is not None:
                raise invalid(param, f"position {part!r} follows no colour")
            stops[-1] = (stops[-1][0], parse_int(m.group(1), param, _AMOUNT, "position"))
            continue
        color = parse_color(part)
        if color is None:
            raise invalid(param, f"unknown colour {part!r}")
        stops.append((color, None))
    if len(stops) > MAX_TINT_COLORS:
        raise invalid(param, f"at most {MAX_TINT_COLORS} colours")
    if not stops:
        return Tint(amount, qualifiers.get("color", Tint().color), equalize=equalize)
    (first, position), *more = stops
    return Tint(amount, first, position, tuple(more), equalize)


def print_tint(step: Tint) -> str:
    parts = ["equalize"] if step.equalize else []
    default = Tint()
    plain = step.position is None and not step.more
    if step.amount != default.amount or not plain or step.color != default.color:
        parts.append(str(step.amount))
    if not plain or step.color != default.color:
        for color, position in ((step.color, step.position), *step.more):
            parts.append(format_color(color))
            if position is not None:
                parts.append(f"{position}p")
    return ":".join(parts)


syntax(AssistColorblind, parse_assist, print_assist)
syntax_with_qualifiers(Tint, parse_tint, print_tint)

__all__ = ["MAX_TINT_COLORS", "AssistColorblind", "parse_assist", "parse_tint"]
