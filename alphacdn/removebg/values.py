"""Typed parameter values (lengths, margins, regions, placement) and their string parsers.

Each parser takes the parameter name (for the error) and the raw text, and either returns a
frozen value or raises a 400 `ApiError` naming the parameter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from alphacdn.removebg.errors import bad_param
from alphacdn.transform import booleans

_LENGTH = re.compile(r"(-?\d+(?:\.\d+)?)\s*(px|%)?")

#: crop_margin caps per side, from the reference
MAX_MARGIN_PX = 500
MAX_MARGIN_PERCENT = 50.0


@dataclass(frozen=True, slots=True)
class Length:
    """`30px` (or bare `30`) or `10%` of some reference length."""

    value: float
    percent: bool

    def resolve(self, reference: float) -> float:
        return self.value * reference / 100.0 if self.percent else self.value


@dataclass(frozen=True, slots=True)
class Region:
    """`roi`: two corners, each coordinate in px or % of the image width/height."""

    x1: Length
    y1: Length
    x2: Length
    y2: Length


@dataclass(frozen=True, slots=True)
class Margin:
    """`crop_margin`, CSS order; each side capped at 500 px or 50 % of the subject size."""

    top: Length
    right: Length
    bottom: Length
    left: Length


NO_MARGIN = Margin(*(Length(0.0, False),) * 4)


class Placement(StrEnum):
    ORIGINAL = "original"
    CENTER = "center"
    PERCENT = "percent"


@dataclass(frozen=True, slots=True)
class Position:
    """`position`: original, center, or `x%` / `x% y%` (0 % = left/top, 100 % = right/bottom)."""

    placement: Placement
    x: float = 0.5
    y: float = 0.5


ORIGINAL_POSITION = Position(Placement.ORIGINAL)


def parse_bool(name: str, raw: str) -> bool:
    try:
        return booleans.parse_bool(raw)
    except ValueError:
        raise bad_param(
            name, f"Invalid value for {name}: expected true or false.", "invalid_boolean"
        ) from None


def parse_length(name: str, raw: str, *, negative: bool = False) -> Length:
    match = _LENGTH.fullmatch(raw.strip())
    if match is None:
        raise bad_param(
            name, f"Invalid length {raw!r} for {name}: use e.g. 30px or 10%.", "invalid_length"
        )
    value = float(match.group(1))
    if value < 0 and not negative:
        raise bad_param(
            name, f"Invalid length {raw!r} for {name}: must not be negative.", "invalid_length"
        )
    return Length(value, match.group(2) == "%")


def parse_region(name: str, raw: str) -> Region:
    parts = raw.split()
    if len(parts) != 4:
        raise bad_param(name, f"Invalid {name}: expected four values 'x1 y1 x2 y2'.", "invalid_roi")
    x1, y1, x2, y2 = (parse_length(name, p) for p in parts)
    for length in (x1, y1, x2, y2):
        if length.percent and length.value > 100:
            raise bad_param(
                name, f"Invalid {name}: percentages must be within 0%–100%.", "invalid_roi"
            )
    if x1.percent == x2.percent and x2.value <= x1.value:
        raise bad_param(name, f"Invalid {name}: x2 must be greater than x1.", "invalid_roi")
    if y1.percent == y2.percent and y2.value <= y1.value:
        raise bad_param(name, f"Invalid {name}: y2 must be greater than y1.", "invalid_roi")
    return Region(x1, y1, x2, y2)


def _capped(length: Length) -> Length:
    if length.percent:
        return Length(min(length.value, MAX_MARGIN_PERCENT), True)
    return Length(min(length.value, MAX_MARGIN_PX), False)


def parse_margin(name: str, raw: str) -> Margin:
    parts = [_capped(parse_length(name, p)) for p in raw.replace(",", " ").split()]
    if len(parts) == 1:
        return Margin(parts[0], parts[0], parts[0], parts[0])
    if len(parts) == 2:
        return Margin(parts[0], parts[1], parts[0], parts[1])
    if len(parts) == 4:
        return Margin(*parts)
    raise bad_param(name, f"Invalid {name}: give 1, 2 or 4 values.", "invalid_crop_margin")


def parse_percent(name: str, raw: str, low: float, high: float) -> float:
    """`25%` (the `%` is optional) within [low, high], as a fraction."""
    text = raw.strip().removesuffix("%").strip()
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        raise bad_param(
            name, f"Invalid value {raw!r} for {name}: use {low:g}%–{high:g}%.", f"invalid_{name}"
        )
    return value / 100.0


def parse_position(name: str, raw: str) -> Position:
    text = raw.strip().lower()
    if text in ("original", "center"):
        return Position(Placement(text))
    parts = text.split()
    if len(parts) not in (1, 2) or not all(p.endswith("%") for p in parts):
        raise bad_param(
            name, f"Invalid {name}: use original, center, 'x%' or 'x% y%'.", "invalid_position"
        )
    values = [parse_percent(name, p, 0, 100) for p in parts]
    return Position(Placement.PERCENT, values[0], values[-1])


def parse_int(name: str, raw: str, low: int, high: int) -> int:
    text = raw.strip().removesuffix("px")
    if not text.isdigit() or not low <= int(text) <= high:
        raise bad_param(
            name, f"Invalid value {raw!r} for {name}: an integer {low}–{high}.", f"invalid_{name}"
        )
    return int(text)


__all__ = [
    "MAX_MARGIN_PERCENT",
    "MAX_MARGIN_PX",
    "NO_MARGIN",
    "ORIGINAL_POSITION",
    "Length",
    "Margin",
    "Placement",
    "Position",
    "Region",
    "parse_bool",
    "parse_int",
    "parse_length",
    "parse_margin",
    "parse_percent",
    "parse_position",
    "parse_region",
]
