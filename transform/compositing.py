"""Steps for compositing a cut-out: shadows and mask controls.

- `e_shadow[:<0-100>]` with `co_`, `x_`, `y_`: Cloudinary's shadow cast from the alpha.
- `e_dropshadow[:azimuth_<0-360>;elevation_<0-90>;spread_<0-100>]`: a soft shadow on the
  ground, lit from a direction (options `;`-separated, any order).
- `e_mask:[shrink_<n>][;expand_<n>][;feather_<n>][;invert][;alpha]`: edit the matte (as Topaz's
  matting API does): shrink / expand the subject by n px, feather its edge by n px, invert it,
  or deliver the alpha itself as a grayscale image.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Annotated

from .fields import invalid, parse_int, specs
from .registry import Qualifier, Range, action
from .syntax import syntax
from .values import GRAY, Color

#: shadow offsets in pixels (`x_`/`y_`; fractions are rounded)
_OFFSET = Range(-2000.0, 2000.0)
#: `e_shadow` without `x_`/`y_`: offset to the bottom right by this fraction of the longest side
#: (at least `SHADOW_MIN_OFFSET` px), blurred with sigma = `SHADOW_BLUR` of it (at least 1.5 px).
#: Cloudinary's documented examples cast a shadow that clearly shows past the subject (its
#: offset examples are ~15 px on images a few hundred px wide, i.e. 4-6 %); 2 % / 1 % hid most
#: of it behind a cut-out.
SHADOW_OFFSET = 0.05
SHADOW_MIN_OFFSET = 4
SHADOW_BLUR = 0.015


def shadow_geometry(step: Shadow, width: int, height: int) -> tuple[int, int, float]:
    """(dx, dy, sigma) of an `e_shadow` on a `width` × `height` image: the engine's and the cost
    estimate's one formula."""
    size = max(width, height)
    auto = max(SHADOW_MIN_OFFSET, round(size * SHADOW_OFFSET))
    dx = auto if step.x is None else round(step.x)
    dy = auto if step.y is None else round(step.y)
    return dx, dy, max(1.5, size * SHADOW_BLUR)


@action("e_shadow")
@dataclass(frozen=True, slots=True)
class Shadow:
    """`e_shadow[:<0-100>],co_<color>,x_<px>,y_<px>`: a blurred copy of the alpha in `co_`
    (default gray) behind the image, `strength` % opaque (default 40), offset by `x_`/`y_`
    pixels (default: `SHADOW_OFFSET` of the longest side, to the bottom right), blurred by
    `SHADOW_BLUR` of it. The canvas grows to hold it."""

    strength: Annotated[int, Range(0, 100)] = 40
    color: Annotated[Color, Qualifier("co")] = GRAY
    x: Annotated[float, Qualifier("x"), _OFFSET] | None = None
    y: Annotated[float, Qualifier("y"), _OFFSET] | None = None


@action("e_dropshadow")
@dataclass(frozen=True, slots=True)
class DropShadow:
    """`e_dropshadow[:azimuth_<0-360>;elevation_<0-90>;spread_<0-100>]`, defaults 215, 45, 50.

    The subject's silhouette is cast on the ground it stands on (the bottom of its alpha box):
    `azimuth` is where the light comes from, clockwise from "behind the subject" (0; 90 = from
    the right, 180 = from the camera), `elevation` its height (90 = overhead: a contact shadow
    only, low = long shadows), `spread` the softness (0 = hard). About 15 % black, darker where
    the subject touches the ground. Needs transparency (a cut-out): else a 400.
    """

    azimuth: Annotated[int, Range(0, 360)] = 215
    elevation: Annotated[int, Range(0, 90)] = 45
    spread: Annotated[int, Range(0, 100)] = 50


@action("e_mask")
@dataclass(frozen=True, slots=True)
class Mask:
    """`e_mask:[shrink_<1-100>][;expand_<1-100>][;feather_<1-100>][;invert][;alpha]` (any order).

    Applied to the alpha in a fixed order: shrink (erode by n px) → expand (dilate by n px) →
    feather (soften the edge over ≈ n px) → invert; `alpha` then delivers the matte itself as an
    opaque grayscale image (white = subject). Needs transparency (a cut-out): else a 400.
    """

    shrink: Annotated[int, Range(0, 100)] = 0
    expand: Annotated[int, Range(0, 100)] = 0
    feather: Annotated[int, Range(0, 100)] = 0
    invert: bool = False
    alpha: bool = False


def _options(value: str, param: str, allowed: dict[str, Range | None]) -> dict[str, int | bool]:
    """`name_<int>` / bare `name` options joined with `;`, each once, validated."""
    out: dict[str, int | bool] = {}
    for opt in filter(None, value.split(";")):
        m = re.fullmatch(r"([a-z]+)(?:_(-?\d+))?", opt)
        if m is None or m.group(1) not in allowed or m.group(1) in out:
            raise invalid(param, f"unknown or repeated option {opt!r}")
        name, number = m.group(1), m.group(2)
        rng = allowed[name]
        if (rng is None) != (number is None):
            raise invalid(param, f"option {name!r} " + ("takes no value" if rng is None
                                                        else "needs a value"))  # fmt: skip
        out[name] = True if number is None else parse_int(number, param, rng, name)
    return out


def _ranges(cls: type) -> dict[str, Range | None]:
    return {s.name: s.range for s in specs(cls)}


def parse_dropshadow(value: str, param: str) -> DropShadow:
    return DropShadow(**_options(value, param, _ranges(DropShadow)))  # type: ignore[arg-type]


def parse_mask(value: str, param: str) -> Mask | None:
    """`e_mask:…`; with no option it changes nothing (no step)."""
    step = Mask(**_options(value, param, _ranges(Mask)))  # type: ignore[arg-type]
    return None if step == Mask() else step


def _print_options(step: DropShadow | Mask) -> str:
    opts: list[str] = []
    for f in fields(step):
        value = getattr(step, f.name)
        if value == f.default:
            continue
        opts.append(f.name if value is True else f"{f.name}_{value}")
    return ";".join(opts)


syntax(DropShadow, parse_dropshadow, _print_options)
syntax(Mask, parse_mask, _print_options)

__all__ = [
    "SHADOW_BLUR",
    "SHADOW_OFFSET",
    "DropShadow",
    "Mask",
    "Shadow",
    "parse_dropshadow",
    "parse_mask",
    "shadow_geometry",
]
