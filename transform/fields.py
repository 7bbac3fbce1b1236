"""Reading step classes and writing numbers: the generic half of the grammar.

`specs(cls)` turns a step dataclass into `FieldSpec`s (name, base type, default, `Range`,
`Qualifier`), so parsing, printing and the hypothesis strategies all come from the class.
Numbers are parsed strictly (no exponents, no `nan`) and printed in one normal form.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any

from .errors import InvalidTransformation
from .registry import Qualifier, Range

_INT = re.compile(r"-?\d{1,9}")
_FLOAT = re.compile(r"-?(\d{1,9}(\.\d{1,12})?|\.\d{1,12})")


def invalid(param: str, why: str = "") -> InvalidTransformation:
    """The one error of the grammar: its public text names the offending param."""
    suffix = f" ({why})" if why else ""
    return InvalidTransformation(f"Invalid transformation component: {param}{suffix}")


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of a step class, as the grammar sees it."""

    name: str
    #: the base type with `Annotated` and `| None` removed (int, float, bool, Color, an Enum …)
    base: Any
    optional: bool
    default: Any
    range: Range | None
    qualifier: str | None


@functools.cache
def specs(cls: type) -> tuple[FieldSpec, ...]:
    """The fields of a step dataclass in declaration order."""
    hints = typing.get_type_hints(cls, include_extras=True)
    out: list[FieldSpec] = []
    for f in dataclasses.fields(cls):
        hint, optional = hints[f.name], False
        if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
            args = [a for a in typing.get_args(hint) if a is not type(None)]
            optional = len(args) < len(typing.get_args(hint))
            hint = args[0] if len(args) == 1 else hint
        rng: Range | None = None
        qual: str | None = None
        if typing.get_origin(hint) is Annotated:
            base, *meta = typing.get_args(hint)
            rng = next((m for m in meta if isinstance(m, Range)), None)
            qual = next((m.code for m in meta if isinstance(m, Qualifier)), None)
            hint = base
        default = f.default if f.default is not dataclasses.MISSING else None
        out.append(FieldSpec(f.name, hint, optional, default, rng, qual))
    return tuple(out)


def parse_int(text: str, param: str, rng: Range | None = None, what: str = "value") -> int:
    """A decimal integer within `rng`, else a 400 naming `param`."""
    if not _INT.fullmatch(text):
        raise invalid(param, f"{what} must be an integer")
    value = int(text)
    if rng is not None and not rng.check(value):
        raise invalid(param, f"{what} must be {format_number(rng.lo)}..{format_number(rng.hi)}")
    return value


def parse_float(text: str, param: str, rng: Range | None = None, what: str = "value") -> float:
    """A plain decimal number (`2`, `0.5`, `-1.25`) within `rng`, else a 400 naming `param`."""
    if not _FLOAT.fullmatch(text):
        raise invalid(param, f"{what} must be a number")
    value = float(text)
    if rng is not None and not rng.check(value):
        raise invalid(param, f"{what} must be {format_number(rng.lo)}..{format_number(rng.hi)}")
    return value


def format_number(value: float) -> str:
    """Integral values without a point (`90`), others in the shortest exact decimal form."""
    if isinstance(value, int) or (math.isfinite(value) and value == int(value)):
        return str(int(value))
    return format_float(value)


def format_float(value: float) -> str:
    """A float that always reads back as a float: `1.0`, `0.5`, never an exponent."""
    text = repr(float(value))
    if "e" in text or "E" in text:
        text = f"{value:.20f}".rstrip("0")
    if "." not in text:
        text += ".0"
    return text + "0" if text.endswith(".") else text


__all__ = [
    "FieldSpec",
    "format_float",
    "format_number",
    "invalid",
    "parse_float",
    "parse_int",
    "specs",
]
