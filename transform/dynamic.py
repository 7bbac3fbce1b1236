"""Components whose values are only known while the chain runs: variables, expressions, client
hints, conditions. The grammar of the values is in `transform.expressions`.

- `$name_<expr>` sets a variable (`$currWidth_w`: the width at that point); assignments run
  first in their component, in URL order, and later components read them (`w_$currWidth`).
- An expression as a numeric value (`w_iw_div_2`, `h_ih`, `x_$pad_mul_2`, `e_blur:$b`) makes
  its component a `Dynamic` step: the component's params are kept, and resolved into ordinary
  steps (parsed by `parse_component`, so every range still applies) for the image it meets.
  Resize lengths become pixels (rounded; a result between 0 and 1 is a fraction, like `w_0.5`).
- `w_auto[:<step>[:<fallback>]]` is the `Sec-CH-Width` (or `Width`) client hint rounded up to a
  multiple of `step` (default 100, as the JavaScript SDKs round); without a hint, `fallback`,
  else the image's own width (no resize). `dpr_auto` is `Sec-CH-DPR` (or `DPR`), else 1.0; when
  `w_auto` used a width hint the DPR is already in it (device pixels), so `dpr_auto` is 1.0.
  The delivery resolves the hints once per request and puts them in the cache key.
- `if_<condition>` … [`if_else` …] `if_end` (each in a component of its own) runs one branch of
  components: a `Conditional` step. `if_<condition>,<params>` in one component applies to that
  component only.

Both steps are control structures rather than actions: they have no `@action` code of their
own; the chain parser builds them and the canonical printer prints them whole.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .component import parse_component
from .expressions import (
    Condition,
    Env,
    Expr,
    check_variable_name,
    is_expression,
    parse_condition,
    parse_expr,
)
from .fields import format_float, format_number, invalid, parse_int
from .plan import Component
from .registry import Range
from .resize import MAX_PIXELS

if TYPE_CHECKING:
    from .steps import Step

#: codes whose whole value may be an expression
NUMERIC_CODES = frozenset({"w", "h", "x", "y", "z", "ar", "dpr", "o", "a", "r"})
_PIXELS = frozenset({"w", "h", "x", "y"})
#: anything that might be dynamic (a superset: what matches is then looked at param by param)
_MAYBE = re.compile(
    r"\$|(?:^|,)(?:w|dpr)_auto|_(?:add|sub|mul|div|mod|pow)_"
    r"|[_:](?:iw|ih|iar|w|h|ar|width|height|initial|aspect)(?=[,:_]|$)"
)
#: default rounding step of `w_auto` (pixels)
AUTO_WIDTH_STEP = 100
_STEP = Range(1, MAX_PIXELS)
#: the DPR a hint may ask for
DPR_RANGE = (1.0, 4.0)


@dataclass(frozen=True, slots=True)
class AutoWidth:
    """`w_auto[:step[:fallback]]`."""

    step: int = AUTO_WIDTH_STEP
    fallback: int | None = None

    def text(self) -> str:
        if self.fallback is not None:
            return f"auto:{self.step}:{self.fallback}"
        return "auto" if self.step == AUTO_WIDTH_STEP else f"auto:{self.step}"


@dataclass(frozen=True, slots=True)
class AutoDpr:
    """`dpr_auto`."""

    def text(self) -> str:
        return "auto"


Part = str | Expr | AutoWidth | AutoDpr


@dataclass(frozen=True, slots=True)
class Dynamic:
    """One component resolved when the chain reaches it: its assignments (in order), then its
    params (sorted by code; a value is `:`-separated parts, some of them expressions)."""

    assigns: tuple[tuple[str, Expr], ...] = ()
    params: tuple[tuple[str, tuple[Part, ...]], ...] = ()

    @property
    def uses_width_hint(self) -> bool:
        return any(isinstance(p, AutoWidth) for _, parts in self.params for p in parts)

    @property
    def uses_dpr_hint(self) -> bool:
        return any(isinstance(p, AutoDpr) for _, parts in self.params for p in parts)


@dataclass(frozen=True, slots=True)
class Conditional:
    """`if_<condition>/…[/if_else/…]/if_end`: the components of one branch run."""

    condition: Condition
    then: tuple[Component, ...] = ()
    otherwise: tuple[Component, ...] = ()


def _text(part: Part) -> str:
    return part if isinstance(part, str) else part.text()


def print_dynamic(step: Dynamic) -> str:
    """Assignments first in their order, then the params sorted: one component's text."""
    tokens = [f"${name}_{expr.text()}" for name, expr in step.assigns]
    tokens += [code + "_" + ":".join(_text(p) for p in parts) for code, parts in step.params]
    return ",".join(tokens)


def _auto_width(value: str, param: str) -> AutoWidth:
    parts = value.split(":")
    if len(parts) > 3 or parts[0] != "auto":
        raise invalid(param, "expected w_auto[:<step>[:<fallback>]]")
    step = parse_int(parts[1], param, _STEP, "w_auto step") if len(parts) > 1 and parts[1] \
        else AUTO_WIDTH_STEP  # fmt: skip
    fallback = parse_int(parts[2], param, _STEP, "w_auto fallback") if len(parts) > 2 else None
    return AutoWidth(step, fallback)


def _parts(code: str, value: str, param: str) -> tuple[Part, ...] | None:
    """The value's parts if anything in it is dynamic, else None."""
    if code == "w" and (value == "auto" or value.startswith("auto:")):
        return (_auto_width(value, param),)
    if code == "dpr" and value == "auto":
        return (AutoDpr(),)
    if code in NUMERIC_CODES:
        return (parse_expr(value, param),) if is_expression(value) else None
    if code == "e" and ":" in value:
        raw = value.split(":")
        if any(is_expression(p) for p in raw[1:]):
            return (raw[0], *(parse_expr(p, param) if is_expression(p) else p for p in raw[1:]))
    return None


def split_dynamic(text: str) -> tuple[Dynamic | None, str]:
    """A component's text → (its `Dynamic` step, the params left for `parse_component`), or
    (None, text) when nothing in it is dynamic. Output and named params (`f_ q_ fl_ t_`) stay
    with `parse_component`."""
    if _MAYBE.search(text) is None:  # the hot path: most components hold nothing dynamic
        return None, text
    tokens = [t for t in text.split(",") if t]
    assigns: list[tuple[str, Expr]] = []
    dynamic = False
    params: dict[str, tuple[tuple[Part, ...], str]] = {}
    rest: list[str] = []
    removal = ""
    for token in tokens:
        key, sep, value = token.partition("_")
        if key.startswith("$"):
            if not sep or not value:
                raise invalid(token, "expected $<name>_<value>")
            if value.startswith("!"):
                raise invalid(token, "string variables are not supported")
            assigns.append((check_variable_name(key, token), parse_expr(value, token)))
            continue
        if key in ("f", "q", "fl", "t") or not sep:
            rest.append(token)
            continue
        parts = _parts(key, value, token)
        if key == "e" and value.startswith("background_removal"):
            removal = token
        dynamic = dynamic or parts is not None
        params[key] = (parts if parts is not None else (value,), token)
    if not assigns and not dynamic:
        return None, text
    if removal:
        raise invalid(removal, "background removal shares its component with no variables or "
                      "expressions")  # fmt: skip
    step = Dynamic(tuple(assigns), tuple((k, params[k][0]) for k in sorted(params)))
    if step.params:  # the params must make a valid component whatever the values turn out
        probe = ",".join(code + "_" + ":".join(_probe(p) for p in parts)
                         for code, parts in step.params)  # fmt: skip
        parse_component(probe)
    return step, ",".join(rest)


def _probe(part: Part) -> str:
    if isinstance(part, str):
        return part
    if isinstance(part, AutoDpr):
        return "1.0"
    return "100" if isinstance(part, AutoWidth) else "1"


def _number(code: str, value: float) -> str:
    if code in _PIXELS:
        if code in ("w", "h") and 0 < value < 1:
            return format_float(value)  # a fraction of the current size
        return str(round(value))
    if code in ("ar", "z", "dpr"):
        return format_float(value)
    if code in ("o", "r"):
        return str(round(value))
    return format_number(round(value, 6))


def auto_width(part: AutoWidth, env: Env, width: int) -> int:
    """The width `w_auto` resolves to for this request (see the module's text)."""
    if env.hint_width is not None:
        return max(1, min(MAX_PIXELS, math.ceil(env.hint_width / part.step) * part.step))
    return part.fallback if part.fallback is not None else width


def resolve_dynamic(step: Dynamic, env: Env, width: int, height: int) -> tuple[Step, ...]:
    """Run the assignments (into `env`) and the params as ordinary steps, for an image of
    `width` × `height` at this point of the chain."""
    for name, expr in step.assigns:
        env.variables[name] = expr.evaluate(env, width, height)
    if not step.params:
        return ()
    tokens = []
    for code, parts in step.params:
        texts = []
        for part in parts:
            if isinstance(part, Expr):
                texts.append(
                    _number(code if code != "e" else "", part.evaluate(env, width, height))
                )
            elif isinstance(part, AutoWidth):
                texts.append(str(auto_width(part, env, width)))
            elif isinstance(part, AutoDpr):
                texts.append(format_float(env.hint_dpr or 1.0))
            else:
                texts.append(part)
        tokens.append(code + "_" + ":".join(texts))
    return parse_component(",".join(tokens)).steps


def print_conditional(step: Conditional, print_component: object) -> str:
    """`if_<cond>/<then>[/if_else/<otherwise>]/if_end`."""
    assert callable(print_component)
    parts = ["if_" + step.condition.text()]
    parts += [text for c in step.then if (text := print_component(c))]
    if step.otherwise:
        parts.append("if_else")
        parts += [text for c in step.otherwise if (text := print_component(c))]
    parts.append("if_end")
    return "/".join(parts)


def split_condition(text: str) -> tuple[Condition | None, str, str]:
    """(condition of an `if_…` param in the component, its param text, the other params)."""
    if "if_" not in text:  # the hot path
        return None, "", text
    tokens = [t for t in text.split(",") if t]
    conds = [t for t in tokens if t.startswith("if_")]
    if not conds:
        return None, "", text
    if len(conds) > 1:
        raise invalid(text, "one if_ per component")
    param = conds[0]
    value = param[3:]
    others = ",".join(t for t in tokens if t != param)
    if value in ("else", "end"):
        return None, param, others
    return parse_condition(value, param), param, others


__all__ = [
    "ACCEPT_CH",
    "AUTO_WIDTH_STEP",
    "NO_HINTS",
    "NUMERIC_CODES",
    "AutoDpr",
    "AutoWidth",
    "ClientHints",
    "Conditional",
    "Dynamic",
    "auto_width",
    "client_hints",
    "hints_read",
    "print_conditional",
    "print_dynamic",
    "resolve_dynamic",
    "split_condition",
    "split_dynamic",
]


# ── client hints: what a plan reads from the request, resolved once per request ─────────────


@dataclass(frozen=True, slots=True)
class ClientHints:
    """The hints a render uses: `w_auto`'s width (device pixels) and `dpr_auto`'s ratio; None
    when the plan does not use that hint or the browser did not send it."""

    width: int | None = None
    dpr: float | None = None
    #: which hints the plan reads (what `Vary` names), whether or not they were sent
    reads_width: bool = False
    reads_dpr: bool = False

    def key(self) -> str:
        """The cache key's part for these hints ("" when the plan reads none)."""
        if not (self.reads_width or self.reads_dpr):
            return ""
        w = "-" if self.width is None else str(self.width)
        d = "-" if self.dpr is None else format_float(self.dpr)
        return f"|hints:w={w},dpr={d}"

    def vary(self) -> tuple[str, ...]:
        """Request headers the answer depends on."""
        out: tuple[str, ...] = ()
        if self.reads_width:
            out += ("Sec-CH-Width", "Width")
        if self.reads_dpr:
            out += ("Sec-CH-DPR", "DPR")
        return out


NO_HINTS = ClientHints()
#: the hints to ask browsers for (`Accept-CH`)
ACCEPT_CH = "Sec-CH-Width, Sec-CH-DPR, Width, DPR"


def _dynamic_steps(components: tuple[Component, ...]) -> list[Dynamic]:
    out: list[Dynamic] = []
    for comp in components:
        for step in comp.steps:
            if isinstance(step, Dynamic):
                out.append(step)
            elif isinstance(step, Conditional):
                out += _dynamic_steps(step.then) + _dynamic_steps(step.otherwise)
    return out


def hints_read(components: tuple[Component, ...]) -> tuple[bool, bool]:
    """(whether the chain reads the width hint, the DPR hint)."""
    steps = _dynamic_steps(components)
    return any(s.uses_width_hint for s in steps), any(s.uses_dpr_hint for s in steps)


def _header_number(text: str | None, lo: float, hi: float) -> float | None:
    if not text:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return min(hi, max(lo, value)) if math.isfinite(value) and value > 0 else None


def client_hints(reads: tuple[bool, bool], headers: Mapping[str, str]) -> ClientHints:
    """The hints a request gives a plan that reads `reads` (see `hints_read`); `headers` maps
    lower-case names. `Sec-CH-*` wins over the legacy names. A DPR is rounded up to a tenth
    within 1..4; when the width hint is used, it already counts device pixels: DPR 1."""
    reads_width, reads_dpr = reads
    if not (reads_width or reads_dpr):
        return NO_HINTS
    width = dpr = None
    if reads_width:
        raw = headers.get("sec-ch-width") or headers.get("width")
        value = _header_number(raw, 1, MAX_PIXELS)
        width = None if value is None else math.ceil(value)
    if reads_dpr:
        raw = headers.get("sec-ch-dpr") or headers.get("dpr")
        value = _header_number(raw, *DPR_RANGE)
        dpr = None if value is None else math.ceil(round(value * 10, 6)) / 10
        if width is not None:
            dpr = 1.0
    return ClientHints(width, dpr, reads_width, reads_dpr)
