"""Actions whose params do not follow the generic `:`-positional rule.

- `a_<deg>` / `a_auto` / `a_auto_right` / `a_auto_left` / `a_hflip` / `a_vflip`, several joined
  with `.` (`a_hflip.90`: applied left to right; at most one angle, whole degrees, in a list)
- `r_<px>` / `r_max` (`r_0` is no rounding: no step)
- `bo_<width>px_solid_<color>`
- `e_background_removal[:fineedges_y|n][;hints_(a;b)]` (options `;`-separated, in any order)
"""

from __future__ import annotations

import re

from .colors import format_color, parse_color
from .fields import format_number, invalid, parse_float, parse_int, specs
from .registry import Range
from .steps import HINT_CLASSES, BackgroundRemoval, Border, Rotate, RotateMode, RoundCorners
from .syntax import syntax

_ROTATE_WORDS = {
    "auto": RotateMode.AUTO_RIGHT,
    "auto_right": RotateMode.AUTO_RIGHT,
    "auto_left": RotateMode.AUTO_LEFT,
    "hflip": RotateMode.HFLIP,
    "vflip": RotateMode.VFLIP,
}
_UNSUPPORTED_ROTATE = {"ignore", "exif"}


def _one_rotation(text: str, param: str, *, whole: bool) -> Rotate:
    if text in _ROTATE_WORDS:
        return Rotate(_ROTATE_WORDS[text])
    if text in _UNSUPPORTED_ROTATE:
        raise invalid(param, f"angle mode {text!r} is not supported")
    rng = next(s.range for s in specs(Rotate) if s.name == "degrees")
    value = (
        parse_int(text, param, rng, "angle") if whole else parse_float(text, param, rng, "angle")
    )
    return Rotate(RotateMode.DEGREES, float(value))


def parse_rotate(value: str, param: str) -> tuple[Rotate, ...]:
    """`a_…`: one or more rotations, in order."""
    if not value:
        raise invalid(param, "an angle is required")
    if re.fullmatch(r"-?\d*\.\d+", value):  # a fractional angle, not a `.`-joined list
        return (_one_rotation(value, param, whole=False),)
    steps = tuple(_one_rotation(part, param, whole=True) for part in value.split("."))
    if sum(s.mode is RotateMode.DEGREES for s in steps) > 1:  # `a_1.5.hflip` is ambiguous
        raise invalid(param, "at most one angle in a `.`-joined list")
    return steps


def print_rotate(step: Rotate) -> str:
    if step.mode is RotateMode.DEGREES:
        return format_number(step.degrees)
    return str(step.mode.value)


def parse_round_corners(value: str, param: str) -> RoundCorners | None:
    """`r_<px>` / `r_max` / `r_<a>:<b>[:<c>[:<d>]]` (CSS order: 2 values = top-left and
    bottom-right, top-right and bottom-left; 3 = top-left, top-right and bottom-left,
    bottom-right; 4 = clockwise from top-left); `r_0` (or all zeros) means no rounding."""
    if value == "max":
        return RoundCorners(None)
    rng = next(s.range for s in specs(RoundCorners) if s.name == "radius")
    parts = value.split(":")
    if len(parts) > 4:
        raise invalid(param, "at most 4 corner radii")
    if len(parts) > 1 and "max" in parts:
        raise invalid(param, "max cannot be one of several corner radii")
    radii = [parse_int(p, param, Range(0, rng.hi) if rng else None, "radius") for p in parts]
    # CSS: a missing corner takes the value of the corner opposite it
    while len(radii) < 4:
        radii.append(radii[len(radii) - 2] if len(radii) >= 2 else radii[0])
    a, b, c, d = radii
    if a == b == c == d:
        return None if a == 0 else RoundCorners(a)
    return RoundCorners(corners=(a, b, c, d))


def print_round_corners(step: RoundCorners) -> str:
    if step.corners is not None:
        return ":".join(str(r) for r in step.corners)
    return "max" if step.radius is None else str(step.radius)


_BORDER = re.compile(r"(\d{1,9})px_solid_(.+)")


def parse_border(value: str, param: str) -> Border:
    """`bo_<n>px_solid_<color>`."""
    m = _BORDER.fullmatch(value)
    if m is None:
        raise invalid(param, "expected <width>px_solid_<color>")
    rng = next(s.range for s in specs(Border) if s.name == "width")
    color = parse_color(m.group(2))
    if color is None:
        raise invalid(param, f"unknown colour {m.group(2)!r}")
    return Border(parse_int(m.group(1), param, rng, "border width"), color)


def print_border(step: Border) -> str:
    return f"{step.width}px_solid_{format_color(step.color)}"


def _split_options(text: str) -> list[str]:
    """Split on `;` outside parentheses: `fineedges_y;hints_(dog;cat)` → 2 options."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == ";" and depth == 0:
            out.append(text[start:i])
            start = i + 1
    out.append(text[start:])
    return [o for o in out if o]


def parse_background_removal(value: str, param: str) -> BackgroundRemoval:
    """`e_background_removal[:fineedges_y|n][;hints_(a;b)]`."""
    fine, hints = False, tuple[str, ...]()
    for opt in _split_options(value):
        if opt in ("fineedges_y", "fineedges_n"):
            fine = opt == "fineedges_y"
        elif m := re.fullmatch(r"hints_\(([^()]*)\)", opt):
            names = [h for h in m.group(1).split(";") if h]
            unknown = [h for h in names if h not in HINT_CLASSES]
            if unknown or not names:
                why = f"unknown hint {unknown[0]!r}" if unknown else "empty hints"
                raise invalid(param, why)
            hints = tuple(sorted(set(names)))
        else:
            raise invalid(param, f"unknown option {opt!r}")
    return BackgroundRemoval(fine, hints)


def print_background_removal(step: BackgroundRemoval) -> str:
    opts = ["fineedges_y"] if step.fine_edges else []
    if step.hints:
        # sorted and deduplicated as the parser makes them, whoever built the step
        opts.append("hints_(" + ";".join(sorted(set(step.hints))) + ")")
    return ";".join(opts)


syntax(Rotate, parse_rotate, print_rotate)
syntax(RoundCorners, parse_round_corners, print_round_corners)
syntax(Border, parse_border, print_border)
syntax(BackgroundRemoval, parse_background_removal, print_background_removal)

__all__ = ["parse_background_removal", "parse_border", "parse_rotate", "parse_round_corners"]
