"""The one action table: each step class is registered once, under its Cloudinary code.

`@action("e_blur")` is the only place the code `e_blur` is spelled. The parser and the
canonical printer read the table and the dataclass fields; the engine attaches one pixel
function per class (`alphacdn.engine.registry.applies`) and a test checks none is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import TypeVar

T = TypeVar("T", bound=type)

#: code → step class, in registration order
ACTIONS: dict[str, type] = {}
#: step class → code
CODES: dict[type, str] = {}


class Stage(IntEnum):
    """Where a step runs inside one URL component (Cloudinary applies a component's actions in a
    fixed order, whatever order its params are written in). Gaps leave room for new stages."""

    REMOVAL = 0
    TRIM = 10
    RESIZE = 20
    EFFECT = 30
    ROTATE = 40
    ROUND_CORNERS = 50
    BORDER = 60
    OPACITY = 70
    BACKGROUND = 80


#: step class → its stage within a component
STAGES: dict[type, Stage] = {}


@dataclass(frozen=True, slots=True)
class Range:
    """Inclusive numeric range for a step field: `Annotated[int, Range(1, 2000)]`."""

    lo: float
    hi: float

    def check(self, value: float) -> bool:
        return self.lo <= value <= self.hi


@dataclass(frozen=True, slots=True)
class Qualifier:
    """Field metadata: the field is also set by a qualifier param of the same component,
    e.g. `color: Annotated[Color, Qualifier("co")]` takes `co_red` next to `e_colorize`."""

    code: str


def action(code: str, *, stage: Stage = Stage.EFFECT) -> Callable[[T], T]:
    """Register a step class under its Cloudinary code (and its stage within a component)."""

    def register(cls: T) -> T:
        if code in ACTIONS:
            raise RuntimeError(f"action {code!r} registered twice")
        ACTIONS[code] = cls
        CODES[cls] = code
        STAGES[cls] = stage
        return cls

    return register


__all__ = ["ACTIONS", "CODES", "STAGES", "Qualifier", "Range", "Stage", "action"]
