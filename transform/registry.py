"""The one action table: each step class is registered once, under its Cloudinary code.

`@action("e_blur")` is the only place the code `e_blur` is spelled. The parser and the
canonical printer read the table and the dataclass fields; the engine attaches one pixel
function per class (`alphacdn.engine.registry.applies`) and a test checks none is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T", bound=type)

#: code → step class, in registration order
ACTIONS: dict[str, type] = {}
#: step class → code
CODES: dict[type, str] = {}


@dataclass(frozen=True, slots=True)
class Range:
    """Inclusive numeric range for a step field: `Annotated[int, Range(1, 2000)]`."""

    lo: float
    hi: float

    def check(self, value: float) -> bool:
        return self.lo <= value <= self.hi


def action(code: str) -> Callable[[T], T]:
    """Register a step class under its Cloudinary code."""

    def register(cls: T) -> T:
        if code in ACTIONS:
            raise RuntimeError(f"action {code!r} registered twice")
        ACTIONS[code] = cls
        CODES[cls] = code
        return cls

    return register


__all__ = ["ACTIONS", "CODES", "Range", "action"]
