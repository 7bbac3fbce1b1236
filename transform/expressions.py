"""Arithmetic expressions, user-defined variables and conditions, as Cloudinary writes them. Pure.

An **expression** is operands joined by operators with `_`: `iw_div_2`, `ih_mul_0.5`,
`$w_add_10`, `iw_mul_2_add_ih_mul_2`. Operands: plain numbers, `$name` variables and the
image's characteristics — `w h ar` (the image as it is at that point of the chain), `iw ih iar`
(the original), also spelled `width height aspect_ratio initial_width initial_height
initial_aspect_ratio`. Operators: `add sub mul div mod pow`; `pow` binds tightest, then
`mul div mod`, then `add sub`, left to right within a level.

A **condition** is comparisons `<expr>_<op>_<expr>` (`eq ne lt gt lte gte`, or `= != < > <= >=`)
joined with `_and_` / `_or_` (`and` binds tighter): `w_gt_400`, `ar_gte_1.0_and_iw_lt_2000`.

Values print back in one form (short names, numbers normalised, word operators), so equivalent
spellings share a cache key. Evaluation needs the image's sizes and the variables set so far:
an `Env`, kept by whoever walks the chain (the engine, the cost estimate).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from .errors import InvalidTransformation
from .fields import format_number, invalid

#: arithmetic operators → (precedence, function)
OPERATORS = ("add", "sub", "mul", "div", "mod", "pow")
_PRECEDENCE = {"add": 1, "sub": 1, "mul": 2, "div": 2, "mod": 2, "pow": 3}
#: characteristics an expression may read, with their long spellings
PREDEFINED = ("w", "h", "ar", "iw", "ih", "iar")
_LONG = {
    "initial_aspect_ratio": "iar",
    "initial_width": "iw",
    "initial_height": "ih",
    "aspect_ratio": "ar",
    "width": "w",
    "height": "h",
}
COMPARISONS = ("eq", "ne", "lt", "gt", "lte", "gte")
_SYMBOLS = {"=": "eq", "!=": "ne", "<": "lt", ">": "gt", "<=": "lte", ">=": "gte"}
#: at most this many operands in one expression, and comparisons in one condition
MAX_TERMS = 16
_NUMBER = re.compile(r"-?(\d{1,9}(\.\d{1,9})?|\.\d{1,9})")
_VARIABLE = re.compile(r"\$[a-zA-Z][a-zA-Z0-9]{0,31}")
#: results are kept within this magnitude (an expression cannot make an absurd number)
_LIMIT = 1e9


@dataclass(slots=True)
class Env:
    """What an expression may read at one point of a chain: the original's size, the variables
    set so far, the client hints of the request (None: not sent)."""

    initial_width: int
    initial_height: int
    variables: dict[str, float] = field(default_factory=dict)
    hint_width: int | None = None
    hint_dpr: float | None = None
    #: the engine's note that the chain has fixed the output size (see `engine.shadows`)
    fixed_size: bool = False
    #: the engine's SVG text when the last step was `e_vectorize` (see `engine.vectorize`)
    svg: str | None = None


@dataclass(frozen=True, slots=True)
class Expr:
    """Operands and operators in canonical spelling, alternating: `("iw", "div", "2")`."""

    tokens: tuple[str, ...]

    def text(self) -> str:
        return "_".join(self.tokens)

    @property
    def variables(self) -> tuple[str, ...]:
        return tuple(t[1:] for t in self.tokens[::2] if t.startswith("$"))

    def evaluate(self, env: Env, width: int, height: int) -> float:
        """The value for an image of `width` × `height` at this point (400 on a division by
        zero, an unset variable or an absurd result)."""
        values = [_operand(t, env, width, height, self) for t in self.tokens[::2]]
        ops = list(self.tokens[1::2])
        for level in (3, 2, 1):
            i = 0
            while i < len(ops):
                if _PRECEDENCE[ops[i]] == level:
                    values[i : i + 2] = [_apply(ops[i], values[i], values[i + 1], self)]
                    del ops[i]
                else:
                    i += 1
        result = values[0]
        if not math.isfinite(result) or abs(result) > _LIMIT:
            raise invalid(self.text(), "the expression's value is out of range")
        return result


def _operand(token: str, env: Env, width: int, height: int, expr: Expr) -> float:
    if token.startswith("$"):
        if token[1:] not in env.variables:
            raise invalid(expr.text(), f"variable {token} is not set before it is used")
        return env.variables[token[1:]]
    if token == "w":
        return float(width)
    if token == "h":
        return float(height)
    if token == "ar":
        return width / height
    if token == "iw":
        return float(env.initial_width)
    if token == "ih":
        return float(env.initial_height)
    if token == "iar":
        return env.initial_width / env.initial_height
    return float(token)


def _apply(op: str, a: float, b: float, expr: Expr) -> float:
    try:
        if op == "add":
            return a + b
        if op == "sub":
            return a - b
        if op == "mul":
            return a * b
        if op == "div":
            return a / b
        if op == "mod":
            return math.fmod(a, b)
        if abs(b) > 64 or (a < 0 and b != int(b)):
            raise ValueError
        return float(a**b)
    except (ZeroDivisionError, ValueError, OverflowError):
        why = f"cannot compute {format_number(a)} {op} {format_number(b)}"
        raise invalid(expr.text(), why) from None
    except TypeError:  # a complex result
        raise invalid(expr.text(), "the expression has no real value") from None


def _canonical_operand(token: str) -> str | None:
    if token in PREDEFINED:
        return token
    if _VARIABLE.fullmatch(token):
        return token
    if _NUMBER.fullmatch(token):
        return format_number(float(token))
    return None


def _join_long(parts: list[str]) -> list[str]:
    """`initial_width_div_2` split on `_` → `["iw", "div", "2"]`: long names rejoined."""
    out: list[str] = []
    i = 0
    while i < len(parts):
        for n in (3, 2, 1):
            name = "_".join(parts[i : i + n])
            if name in _LONG:
                out.append(_LONG[name])
                i += n
                break
        else:
            out.append(parts[i])
            i += 1
    return out


def parse_expr(text: str, param: str) -> Expr:
    """An expression (or a lone operand) from its URL text; 400 naming `param` otherwise."""
    parts = _join_long(text.split("_"))
    if len(parts) % 2 == 0 or len(parts) > 2 * MAX_TERMS - 1:
        raise invalid(param, f"{text!r} is not an expression")
    tokens: list[str] = []
    for i, part in enumerate(parts):
        if i % 2:
            if part not in OPERATORS:
                raise invalid(param, f"unknown operator {part!r} (use {', '.join(OPERATORS)})")
            tokens.append(part)
        else:
            operand = _canonical_operand(part)
            if operand is None:
                raise invalid(param, f"unknown operand {part!r} in an expression")
            tokens.append(operand)
    return Expr(tuple(tokens))


def is_expression(text: str) -> bool:
    """Whether a param value is an expression rather than a plain value: it reads a variable
    or a characteristic, or applies an operator (`400` is not; `iw_div_2`, `$w`, `ih` are)."""
    if "$" in text:
        return True
    parts = _join_long(text.split("_"))
    if len(parts) == 1:
        return parts[0] in PREDEFINED
    return len(parts) % 2 == 1 and all(p in OPERATORS for p in parts[1::2])


@dataclass(frozen=True, slots=True)
class Comparison:
    left: Expr
    op: str
    right: Expr

    def text(self) -> str:
        return f"{self.left.text()}_{self.op}_{self.right.text()}"


@dataclass(frozen=True, slots=True)
class Condition:
    """Comparisons: OR of ANDs, `((a, b), (c,))` = `a and b or c`."""

    any_of: tuple[tuple[Comparison, ...], ...]

    def text(self) -> str:
        return "_or_".join("_and_".join(c.text() for c in group) for group in self.any_of)

    def holds(self, env: Env, width: int, height: int) -> bool:
        return any(all(_compare(c, env, width, height) for c in group) for group in self.any_of)


def _compare(c: Comparison, env: Env, width: int, height: int) -> bool:
    a, b = c.left.evaluate(env, width, height), c.right.evaluate(env, width, height)
    return {
        "eq": a == b,
        "ne": a != b,
        "lt": a < b,
        "gt": a > b,
        "lte": a <= b,
        "gte": a >= b,
    }[c.op]


def parse_condition(text: str, param: str) -> Condition:
    """`w_gt_400_and_ar_lt_1.5` → `Condition` (400 naming `param` on anything else)."""
    parts = [_SYMBOLS.get(p, p) for p in text.split("_")]
    groups: list[tuple[Comparison, ...]] = []
    current: list[Comparison] = []
    start = 0
    count = 0
    for i in range(len(parts) + 1):
        if i < len(parts) and parts[i] not in ("and", "or"):
            continue
        current.append(_comparison(parts[start:i], param))
        count += 1
        if count > MAX_TERMS:
            raise invalid(param, f"more than {MAX_TERMS} comparisons")
        if i == len(parts) or parts[i] == "or":
            groups.append(tuple(current))
            current = []
        start = i + 1
    return Condition(tuple(groups))


def _comparison(parts: list[str], param: str) -> Comparison:
    at = [i for i, p in enumerate(parts) if p in COMPARISONS]
    if len(at) != 1 or at[0] == 0 or at[0] == len(parts) - 1:
        raise invalid(param, "expected <value>_<eq|ne|lt|gt|lte|gte>_<value>")
    i = at[0]
    left = parse_expr("_".join(parts[:i]), param)
    right = parse_expr("_".join(parts[i + 1 :]), param)
    return Comparison(left, parts[i], right)


def check_variable_name(name: str, param: str) -> str:
    """`$name` → `name` (letters then letters/digits, as Cloudinary names them)."""
    if not _VARIABLE.fullmatch(name):
        raise invalid(param, f"invalid variable name {name!r}")
    return name[1:]


__all__ = [
    "COMPARISONS",
    "OPERATORS",
    "PREDEFINED",
    "Comparison",
    "Condition",
    "Env",
    "Expr",
    "InvalidTransformation",
    "check_variable_name",
    "is_expression",
    "parse_condition",
    "parse_expr",
]
