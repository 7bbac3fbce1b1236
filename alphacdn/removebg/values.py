"""String parsers of parameter values (lengths, margins, regions, position, numbers).

Each parser takes the parameter name (for the error) and the raw text, and either returns the
engine's frozen value (`transform`'s `Length`: int pixels or a float fraction, so `10%` is 0.1)
or raises a 400 `ApiError` naming the parameter.
"""

from __future__ import annotations

import re

from alphacdn.engine.cutout import Margin, Position, Region
from alphacdn.removebg.errors import bad_param
from alphacdn.transform import booleans
from alphacdn.transform.values import Length

_LENGTH = re.compile(r"(-?\d+(?:\.\d+)?)\s*(px|%)?")

#: crop_margin caps per side, from the reference
MAX_MARGIN_PX = 500
MAX_MARGIN_PERCENT = 50.0


NO_MARGIN = Margin()
CENTER = Position()


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
    return value / 100 if match.group(2) == "%" else round(value)


def _percent(length: Length) -> bool:
    return isinstance(length, float)


def parse_region(name: str, raw: str) -> Region:
    parts = raw.split()
    if len(parts) != 4:
        raise bad_param(name, f"Invalid {name}: expected four values 'x1 y1 x2 y2'.", "invalid_roi")
    x1, y1, x2, y2 = (parse_length(name, p) for p in parts)
    for length in (x1, y1, x2, y2):
        if _percent(length) and length > 1:
            raise bad_param(
                name, f"Invalid {name}: percentages must be within 0%–100%.", "invalid_roi"
            )
    if _percent(x1) == _percent(x2) and x2 <= x1:
        raise bad_param(name, f"Invalid {name}: x2 must be greater than x1.", "invalid_roi")
    if _percent(y1) == _percent(y2) and y2 <= y1:
        raise bad_param(name, f"Invalid {name}: y2 must be greater than y1.", "invalid_roi")
    return Region(x1, y1, x2, y2)


def _capped(length: Length) -> Length:
    if _percent(length):
        return min(length, MAX_MARGIN_PERCENT / 100)
    return min(length, MAX_MARGIN_PX)


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


def parse_position(name: str, raw: str) -> Position | None:
    """`original` (None: where the subject is), `center`, `x%` or `x% y%`."""
    text = raw.strip().lower()
    if text == "original":
        return None
    if text == "center":
        return CENTER
    parts = text.split()
    if len(parts) not in (1, 2) or not all(p.endswith("%") for p in parts):
        raise bad_param(
            name, f"Invalid {name}: use original, center, 'x%' or 'x% y%'.", "invalid_position"
        )
    values = [parse_percent(name, p, 0, 100) for p in parts]
    return Position(values[0], values[-1])


def parse_int(name: str, raw: str, low: int, high: int) -> int:
    text = raw.strip().removesuffix("px")
    if not text.isdigit() or not low <= int(text) <= high:
        raise bad_param(
            name, f"Invalid value {raw!r} for {name}: an integer {low}–{high}.", f"invalid_{name}"
        )
    return int(text)


__all__ = [
    "CENTER",
    "MAX_MARGIN_PERCENT",
    "MAX_MARGIN_PX",
    "NO_MARGIN",
    "parse_bool",
    "parse_int",
    "parse_length",
    "parse_margin",
    "parse_percent",
    "parse_position",
    "parse_region",
]
