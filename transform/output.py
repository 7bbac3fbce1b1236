"""Delivery params `f_ q_ fl_` (and the animation params `pg_ dl_ e_loop`) → `Output`,
wherever they appear in the chain, and back.

`f_` and `q_` are last-wins across the whole chain; flags accumulate (`fl_progressive.strip_profile`
or several `fl_` params). In canonical text they form one last component
`dl_…,e_loop:…,f_…,fl_…,pg_…,q_…`. `pg_ dl_ e_loop` act on the frames of an animated source
(see `engine.frames`); on a still image they change nothing.
"""

from __future__ import annotations

import dataclasses

from .fields import invalid, parse_int
from .plan import Output
from .registry import Range
from .values import Flag, Format, QualityPreset

OUTPUT_CODES: tuple[str, ...] = ("f", "q", "fl", "pg", "dl")
#: the effect that is an output setting: `e_loop` sets the loop count of the delivered file
LOOP_EFFECT = "loop"
_FORMAT_ALIASES = {"jpeg": Format.JPG, "jpe": Format.JPG}
#: flags Cloudinary applies to a component (layers) rather than to the delivered file
_LATER_FLAGS = {"layer_apply", "relative", "no_overflow", "tiled", "cutter", "clip"}
_QUALITY = Range(1, 100)
#: frame numbers (`pg_`), delays in ms (`dl_`, GIF's delay field holds 655350 ms) and loops
_PAGE = Range(1, 10_000)
_DELAY = Range(0, 655_350)
_LOOPS = Range(0, 65_534)


def _pages(value: str, param: str) -> tuple[int, int]:
    """`pg_<n>` or `pg_<a>-<b>` (1-based, inclusive, a ≤ b)."""
    first, sep, last = value.partition("-")
    a = parse_int(first, param, _PAGE, "page")
    b = parse_int(last, param, _PAGE, "page") if sep else a
    if b < a:
        raise invalid(param, "a page range must run from the lower page to the higher")
    return a, b


def parse_format(text: str, param: str) -> Format:
    """`f_jpg|jpeg|png|webp|avif|gif|auto`."""
    if text in _FORMAT_ALIASES:
        return _FORMAT_ALIASES[text]
    try:
        return Format(text)
    except ValueError:
        raise invalid(param, f"unsupported format {text!r}") from None


def apply_output(out: Output, code: str, value: str, param: str) -> Output:
    """`out` updated by one `f_`, `q_` or `fl_` param."""
    if code == "f":
        return dataclasses.replace(out, format=parse_format(value, param))
    if code == "pg":
        return dataclasses.replace(out, pages=_pages(value, param))
    if code == "dl":
        return dataclasses.replace(out, delay=parse_int(value, param, _DELAY, "delay"))
    if code == LOOP_EFFECT:  # `e_loop` (endless) or `e_loop:<n>`
        plays = parse_int(value, param, _LOOPS, "loop count") + 1 if value else 0
        return dataclasses.replace(out, loop=plays)
    if code == "q":
        if value == "auto":
            return dataclasses.replace(out, quality=None, quality_preset=QualityPreset.GOOD)
        if value.startswith("auto:"):
            try:
                preset = QualityPreset(value[5:])
            except ValueError:
                raise invalid(param, f"unsupported quality {value!r}") from None
            return dataclasses.replace(out, quality=None, quality_preset=preset)
        quality = parse_int(value, param, _QUALITY, "quality")
        return dataclasses.replace(out, quality=quality, quality_preset=None)
    flags = set(out.flags)
    for name in value.split("."):
        if name in _LATER_FLAGS:
            raise invalid(param, f"flag {name!r} is not supported yet")
        try:
            flags.add(Flag(name))
        except ValueError:
            raise invalid(param, f"unknown flag {name!r}") from None
    return dataclasses.replace(out, flags=frozenset(flags))


def print_output(out: Output) -> list[str]:
    """Canonical params of the output settings (defaults dropped), sorted."""
    tokens: list[str] = []
    if out.delay is not None:
        tokens.append(f"dl_{out.delay}")
    if out.loop is not None:
        tokens.append(f"e_loop:{out.loop - 1}" if out.loop else "e_loop")
    if out.format is not None:
        tokens.append("f_" + out.format.value)
    if out.flags:
        tokens.append("fl_" + ".".join(sorted(f.value for f in out.flags)))
    if out.pages is not None:
        a, b = out.pages
        tokens.append(f"pg_{a}" if a == b else f"pg_{a}-{b}")
    if out.quality is not None:
        tokens.append(f"q_{out.quality}")
    elif out.quality_preset is not None:
        preset = out.quality_preset
        tokens.append("q_auto" if preset is QualityPreset.GOOD else "q_auto:" + preset.value)
    return tokens


__all__ = ["LOOP_EFFECT", "OUTPUT_CODES", "apply_output", "parse_format", "print_output"]
