"""`e_vectorize`: trace the image into vector shapes (delivered as SVG with `f_svg` / `.svg`).

`e_vectorize[:<colors>[:<detail>[:<despeckle>[:<paths>[:<corners>]]]]]`, or the same options
by name in any order, as url-gen writes them: `e_vectorize:colors:3:detail:0.5:despeckle:0.1`.

- colors 2..30 (default 10): the palette the image is reduced to before tracing;
- detail: a fraction of the image (0..1.0) or pixels (1..1000, default 300): the size the
  image is traced at (its longest side);
- despeckle: a fraction (0..1.0) or pixels (0..100, default 2): specks smaller than this go;
- paths 0..100 (default 100): how closely curves follow the pixels (100 = most exact);
- corners 0..100 (default 25): corner threshold (100 = polygon corners, 0 = smooth).

A raster format delivers the traced shapes rasterised at the image's size (the effect).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from .fields import format_number, invalid, parse_float, parse_int
from .registry import Range, action
from .syntax import syntax

#: the longest side traced (Cloudinary scales larger images down to 1000 px)
MAX_TRACE_SIDE = 1000
_NAMES = ("colors", "detail", "despeckle", "paths", "corners")
_RANGES = {
    "colors": Range(2, 30),
    "detail": Range(0, 1000),
    "despeckle": Range(0, 100),
    "paths": Range(0, 100),
    "corners": Range(0, 100),
}


@action("e_vectorize")
@dataclass(frozen=True, slots=True)
class Vectorize:
    """See the module's text for the options."""

    colors: Annotated[int, Range(2, 30)] = 10
    detail: Annotated[float, Range(0, 1000)] = 300.0
    despeckle: Annotated[float, Range(0, 100)] = 2.0
    paths: Annotated[int, Range(0, 100)] = 100
    corners: Annotated[int, Range(0, 100)] = 25


def _value(name: str, text: str, param: str) -> int | float:
    if name in ("colors", "paths", "corners"):
        return parse_int(text, param, _RANGES[name], name)
    value = parse_float(text, param, _RANGES[name], name)
    if name == "detail" and value == 0:
        raise invalid(param, "detail must be above 0")
    return value


def parse_vectorize(value: str, param: str) -> Vectorize:
    parts = value.split(":") if value else []
    kwargs: dict[str, int | float] = {}
    if parts and parts[0] in _NAMES:  # named: `colors:3:detail:0.5`
        if len(parts) % 2:
            raise invalid(param, "expected <name>:<value> pairs")
        for name, text in zip(parts[::2], parts[1::2], strict=True):
            if name not in _NAMES or name in kwargs:
                raise invalid(param, f"unknown or repeated option {name!r}")
            kwargs[name] = _value(name, text, param)
    else:
        if len(parts) > len(_NAMES):
            raise invalid(param, f"takes at most {len(_NAMES)} values")
        for name, text in zip(_NAMES, parts, strict=False):
            if text:
                kwargs[name] = _value(name, text, param)
    return Vectorize(**kwargs)  # type: ignore[arg-type]


def print_vectorize(step: Vectorize) -> str:
    default = Vectorize()
    parts = [
        f"{name}:{format_number(getattr(step, name))}"
        for name in _NAMES
        if getattr(step, name) != getattr(default, name)
    ]
    return ":".join(parts)


def trace_side(step: Vectorize, side: int) -> int:
    """The longest side the image is traced at, for an image whose longest side is `side`."""
    want = step.detail * side if step.detail <= 1.0 else step.detail
    return max(8, min(side, MAX_TRACE_SIDE, round(want)))


syntax(Vectorize, parse_vectorize, print_vectorize)

__all__ = ["MAX_TRACE_SIDE", "Vectorize", "parse_vectorize", "trace_side"]
