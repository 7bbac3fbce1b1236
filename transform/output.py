"""Delivery params `f_ q_ fl_` → `Output`, wherever they appear in the chain, and back.

`f_` and `q_` are last-wins across the whole chain; flags accumulate (`fl_progressive.strip_profile`
or several `fl_` params). In canonical text they form one last component `f_…,fl_…,q_…`.
"""

from __future__ import annotations

import dataclasses

from .fields import invalid, parse_int
from .plan import Output
from .registry import Range
from .values import Flag, Format, QualityPreset

OUTPUT_CODES: tuple[str, ...] = ("f", "q", "fl")
_FORMAT_ALIASES = {"jpeg": Format.JPG, "jpe": Format.JPG}
#: flags Cloudinary applies to a component (layers) rather than to the delivered file
_LATER_FLAGS = {"layer_apply", "relative", "no_overflow", "tiled", "cutter", "clip"}
_QUALITY = Range(1, 100)


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
    if out.format is not None:
        tokens.append("f_" + out.format.value)
    if out.flags:
        tokens.append("fl_" + ".".join(sorted(f.value for f in out.flags)))
    if out.quality is not None:
        tokens.append(f"q_{out.quality}")
    elif out.quality_preset is not None:
        preset = out.quality_preset
        tokens.append("q_auto" if preset is QualityPreset.GOOD else "q_auto:" + preset.value)
    return tokens


__all__ = ["OUTPUT_CODES", "apply_output", "parse_format", "print_output"]
