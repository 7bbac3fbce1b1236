"""The text of one action param ↔ one step: generic from the dataclass fields, with overrides.

Generic rule (most actions): the value after the code is `:`-separated, one part per field in
declaration order (`e_blur:300` → `Blur(strength=300)`, `o_50` → `Opacity(50)`); a colour part
may itself be `rgb:…`. A field marked `Qualifier("co")` is also set by `co_…` in the same
component (an explicit positional value wins). Effects print only up to their last non-default
field; other actions always print their value.

Irregular grammars register a pair with `@syntax(StepClass)`: `parse(value, param) -> step | None`
and `print(step) -> value`; their `Qualifier` fields are still read from (and printed as) the
component's qualifier params (`co_` of `e_outline`), set on the parsed step.
`syntax_with_qualifiers` instead hands the parser the qualifiers' values as its defaults, which
the step's own value overrides (`e_tint`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from .colors import format_color, parse_color
from .fields import FieldSpec, format_number, invalid, parse_float, parse_int, specs
from .registry import CODES
from .values import Color

Parse = Callable[[str, str], Any]
Print = Callable[[Any], str]


@dataclass(frozen=True, slots=True)
class _Syntax:
    parse: Callable[..., Any]
    print: Print
    qualifiers: bool = False


_OVERRIDES: dict[type, _Syntax] = {}


def syntax(cls: type, parse: Parse, print_: Print) -> None:
    """Give `cls` an irregular param grammar (used by modules that define such actions)."""
    _OVERRIDES[cls] = _Syntax(parse, print_)


def syntax_with_qualifiers(
    cls: type, parse: Callable[[str, str, dict[str, Any]], Any], print_: Print
) -> None:
    """As `syntax`, for a grammar whose `Qualifier` fields also come from qualifier params:
    `parse(value, param, {field: value})` gets them as its defaults (its value wins)."""
    _OVERRIDES[cls] = _Syntax(parse, print_, True)


def parse_value(spec: FieldSpec, text: str, param: str) -> Any:
    """One field value from its URL text, validated (`Range`, enum values, colours)."""
    base = spec.base
    if base is bool:
        if text not in ("y", "n", "true", "false", "1", "0"):
            raise invalid(param, f"{spec.name} must be y or n")
        return text in ("y", "true", "1")
    if base is int:
        return parse_int(text, param, spec.range, spec.name)
    if base is float:
        return parse_float(text, param, spec.range, spec.name)
    if base is Color:
        color = parse_color(text)
        if color is None:
            raise invalid(param, f"unknown colour {text!r}")
        return color
    if isinstance(base, type) and issubclass(base, Enum):
        try:
            return base(text)
        except ValueError:
            raise invalid(param, f"unsupported {spec.name} {text!r}") from None
    raise invalid(param, f"{spec.name} cannot be given in the URL")


def print_value(value: Any) -> str:
    """The canonical URL text of one field value."""
    if isinstance(value, bool):
        return "y" if value else "n"
    if isinstance(value, Color):
        return format_color(value)
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, int | float):
        return format_number(value)
    raise TypeError(f"no URL form for {value!r}")


def _parts(value: str) -> list[str]:
    """`50:rgb:ff0000` → `["50", "rgb:ff0000"]` (a colour's `rgb:` stays whole)."""
    raw = value.split(":") if value else []
    out: list[str] = []
    for part in raw:
        if out and out[-1] == "rgb":
            out[-1] += ":" + part
        else:
            out.append(part)
    return out


def _with_qualifiers(step: Any, quals: Mapping[str, tuple[str, str]]) -> Any:
    """An irregular step with its qualifier fields (`co_` …) set from the component."""
    if step is None or isinstance(step, tuple):
        return step
    cls: type = type(step)
    changes = {
        spec.name: parse_value(spec, *quals[spec.qualifier])
        for spec in specs(cls)
        if spec.qualifier and spec.qualifier in quals
    }
    return dataclasses.replace(step, **changes) if changes else step


def parse_step(cls: type, value: str, param: str, quals: Mapping[str, tuple[str, str]]) -> Any:
    """The step `cls` from the text after its code, plus the component's qualifiers.

    Returns None when the param is a no-op (e.g. `r_0`). `quals` maps a qualifier code to
    (its value, its param text)."""
    fields = specs(cls)
    kwargs: dict[str, Any] = {}
    for spec in fields:
        if spec.qualifier and spec.qualifier in quals:
            qvalue, qparam = quals[spec.qualifier]
            kwargs[spec.name] = parse_value(spec, qvalue, qparam)
    if cls in _OVERRIDES:
        override = _OVERRIDES[cls]
        if override.qualifiers:  # the qualifiers' values are its defaults
            return override.parse(value, param, kwargs)
        return _with_qualifiers(override.parse(value, param), quals)
    parts = _parts(value)
    if CODES[cls].startswith("e_"):
        while parts and parts[-1] == "":
            parts.pop()  # `e_trim::` (url-gen's `trim()`): empty trailing values are defaults
    if len(parts) > len(fields):
        raise invalid(param, f"takes at most {len(fields)} value(s)")
    for spec, text in zip(fields, parts, strict=False):
        if text == "" and CODES[cls].startswith("e_"):
            continue  # `e_tint::red` keeps the default amount
        kwargs[spec.name] = parse_value(spec, text, param)
    if not fields and value:
        raise invalid(param, "takes no value")
    if fields and not parts and not CODES[cls].startswith("e_"):
        raise invalid(param, "a value is required")
    return cls(**kwargs)


def print_step(step: Any) -> list[str]:
    """The params of one step in canonical form: its action param plus qualifier params."""
    cls: type = type(step)
    code = CODES[cls]
    if cls in _OVERRIDES:
        value = _OVERRIDES[cls].print(step)
        quals = [
            f"{spec.qualifier}_{print_value(getattr(step, spec.name))}"
            for spec in specs(cls)
            if spec.qualifier and getattr(step, spec.name) != spec.default
        ]
        if code.startswith("e_"):
            return [f"{code}:{value}" if value else code, *quals]
        return [code + "_" + value, *quals]
    tokens: list[str] = []
    positional: list[str] = []
    for spec in specs(cls):
        val = getattr(step, spec.name)
        if spec.qualifier:  # printed as its qualifier; the empty slot keeps positions
            if val != spec.default:
                tokens.append(f"{spec.qualifier}_{print_value(val)}")
            positional.append("")
            continue
        positional.append("" if val == spec.default and code.startswith("e_") else print_value(val))
    if code.startswith("e_"):
        while positional and positional[-1] == "":
            positional.pop()
        tokens.append(":".join([code, *positional]))
    else:
        tokens.append(code + "_" + ":".join(positional))
    return tokens


__all__ = [
    "parse_step",
    "parse_value",
    "print_step",
    "print_value",
    "syntax",
    "syntax_with_qualifiers",
]
