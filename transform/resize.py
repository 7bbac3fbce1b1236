"""The resize qualifiers of one component → one `Resize` step, and back.

`w_ h_` are pixels (`w_400`) or, with a decimal point, relative to the current image (`w_0.5`,
`w_1.0`); `x_ y_` likewise (signed). `ar_16:9` / `ar_1.5`, `dpr_2.0`, `z_1.5`, `c_<mode>`,
`g_<compass>|center|auto`. `b_<color>` belongs to the resize only when the crop mode pads.
A resize with nothing but defaults (`c_scale`, `dpr_1.0`) is no step at all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from fractions import Fraction

from .colors import format_color, parse_color
from .fields import format_float, format_number, invalid, parse_float, parse_int, specs
from .registry import Range
from .steps import Resize
from .values import AutoColor, Color, CropMode, Gravity, Length

#: qualifier codes that feed `Resize` (plus `b` in pad modes)
RESIZE_CODES: tuple[str, ...] = ("w", "h", "c", "g", "x", "y", "z", "ar", "dpr")
PAD_MODES: frozenset[CropMode] = frozenset(
    {CropMode.PAD, CropMode.LPAD, CropMode.MPAD, CropMode.FILL_PAD}
)
#: pixel lengths beyond this are refused up front (no encoder we ship goes higher)
MAX_PIXELS = 16384
#: relative lengths (`w_1.5` = 150 %) beyond this factor are refused
MAX_RELATIVE = 100.0

_SIZE_PX = Range(1, MAX_PIXELS)
_OFFSET_PX = Range(-MAX_PIXELS, MAX_PIXELS)
_GRAVITY_ALIASES = {"centre": Gravity.CENTER}
_UNSUPPORTED = re.compile(r"auto.*|i[wh]|o[wh]|.*[a-z].*")

Quals = Mapping[str, tuple[str, str]]


def _length(text: str, param: str, *, signed: bool) -> Length:
    if "." in text:
        lo = -MAX_RELATIVE if signed else 0.0
        value = parse_float(text, param, Range(lo, MAX_RELATIVE), "relative length")
        if not signed and value == 0:
            raise invalid(param, "relative length must be above 0")
        return value
    if _UNSUPPORTED.fullmatch(text):
        raise invalid(param, f"value {text!r} is not supported")
    return parse_int(text, param, _OFFSET_PX if signed else _SIZE_PX, "length")


def _range(name: str) -> Range | None:
    return next(s.range for s in specs(Resize) if s.name == name)


def _aspect(text: str, param: str) -> float:
    rng = _range("aspect_ratio")
    if ":" in text:
        num, _, den = text.partition(":")
        n = parse_float(num, param, Range(0.001, 100000), "aspect ratio")
        d = parse_float(den, param, Range(0.001, 100000), "aspect ratio")
        value = n / d
        if rng is not None and not rng.check(value):
            raise invalid(param, "aspect ratio out of range")
        return value
    return parse_float(text, param, rng, "aspect ratio")


def _gravity(text: str, param: str) -> Gravity:
    if text in _GRAVITY_ALIASES:
        return _GRAVITY_ALIASES[text]
    try:
        return Gravity(text)
    except ValueError:
        raise invalid(param, f"gravity {text!r} is not supported") from None


def _crop(text: str, param: str) -> CropMode:
    try:
        return CropMode(text)
    except ValueError:
        raise invalid(param, f"crop mode {text!r} is not supported") from None


def _pad_color(text: str, param: str) -> Color | AutoColor:
    """`b_<color>` or `b_auto[:border|predominant]`."""
    if text == "auto" or text.startswith("auto:"):
        try:
            return AutoColor(text[5:] or "border")
        except ValueError:
            raise invalid(param, f"unsupported b_auto mode {text[5:]!r}") from None
    color = parse_color(text)
    if color is None:
        raise invalid(param, f"unknown colour {text!r}")
    return color


def parse_resize(quals: Quals) -> tuple[Resize | None, bool]:
    """The `Resize` the qualifiers describe (None if all defaults), and whether `b` was used."""
    crop = _crop(*quals["c"]) if "c" in quals else CropMode.SCALE
    background: Color | AutoColor | None = None
    used_b = "b" in quals and crop in PAD_MODES
    if used_b:
        background = _pad_color(*quals["b"])

    def get(code: str) -> tuple[str, str] | None:
        return quals.get(code)

    w, h, g, x, y, z, ar, dpr = (get(c) for c in ("w", "h", "g", "x", "y", "z", "ar", "dpr"))
    if dpr is not None and dpr[0] == "auto":
        raise invalid(dpr[1], "dpr_auto is not supported")
    step = Resize(
        width=_length(*w, signed=False) if w else None,
        height=_length(*h, signed=False) if h else None,
        crop=crop,
        gravity=_gravity(*g) if g else Gravity.CENTER,
        x=_length(*x, signed=True) if x else None,
        y=_length(*y, signed=True) if y else None,
        zoom=parse_float(*z, _range("zoom"), "zoom") if z else None,
        aspect_ratio=_aspect(*ar) if ar else None,
        dpr=parse_float(*dpr, _range("dpr"), "dpr") if dpr else 1.0,
        background=background,
    )
    return (None if step == Resize() else step), used_b


def _print_length(value: Length) -> str:
    return format_float(value) if isinstance(value, float) else str(value)


def _print_aspect(value: float) -> str:
    text = format_float(value)
    if len(text) <= 6:
        return text
    frac = Fraction(value).limit_denominator(1000)
    return (
        f"{frac.numerator}:{frac.denominator}"
        if frac.numerator / frac.denominator == value
        else text
    )


def print_resize(step: Resize) -> list[str]:
    """Canonical qualifier params of a `Resize` (defaults dropped)."""
    out: list[str] = []
    if step.width is not None:
        out.append("w_" + _print_length(step.width))
    if step.height is not None:
        out.append("h_" + _print_length(step.height))
    if step.crop is not CropMode.SCALE:
        out.append("c_" + step.crop.value)
    if step.gravity is not Gravity.CENTER:
        out.append("g_" + step.gravity.value)
    if step.x is not None:
        out.append("x_" + _print_length(step.x))
    if step.y is not None:
        out.append("y_" + _print_length(step.y))
    if step.zoom is not None:
        out.append("z_" + format_number(step.zoom))
    if step.aspect_ratio is not None:
        out.append("ar_" + _print_aspect(step.aspect_ratio))
    if step.dpr != 1.0:
        out.append("dpr_" + format_float(step.dpr))
    if isinstance(step.background, AutoColor):
        mode = step.background
        out.append("b_auto" + ("" if mode is AutoColor.BORDER else ":" + mode.value))
    elif step.background is not None:
        out.append("b_" + format_color(step.background))
    return out


__all__ = ["MAX_PIXELS", "PAD_MODES", "RESIZE_CODES", "parse_resize", "print_resize"]
