"""The one map from step type to the pyvips function that applies it.

Each pixel function is attached where its code lives, with `@applies(Blur)`; `apply_step`
looks it up. A test walks `alphacdn.transform.registry.ACTIONS` and fails if a step has no
applier, so there is no second list of effects anywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import pyvips

from alphacdn.transform.steps import Step

from .load import MAX_SIDE

if TYPE_CHECKING:  # faces.py registers appliers here
    from .faces import FaceTrack


@dataclass(frozen=True, slots=True)
class Context:
    """What an applier may need besides the image and its step.

    `alpha_output` is True/False when the output format is known to carry alpha or not, and
    None when it follows the image (`f_auto` choosing between JPEG and PNG).
    """

    alpha_output: bool | None = True
    #: largest canvas a step may create (the source pixel limit)
    max_pixels: int = 50_000_000
    #: longest side of a layer asset (the source side limit)
    max_side: int = MAX_SIDE
    #: width / height asked for by the component's resize (for `a_auto_right/left`)
    target_aspect: float | None = None
    load_asset: Callable[[str], bytes] | None = None
    #: hands a decoded layer source to the render's stop switch (see `engine.stop`)
    watch: Callable[[pyvips.Image], pyvips.Image] | None = None
    #: `fl_getinfo`: steps note what they decided here (e.g. the `g_auto` crop); else None
    notes: dict[str, Any] | None = None
    #: detected faces, followed through the steps (`engine.faces`); None: none asked for
    faces: FaceTrack | None = None

    def transparent_ok(self, image: pyvips.Image) -> bool:
        """Whether new empty areas (padding, rotation corners) may be transparent."""
        if self.alpha_output is None:
            return bool(image.hasalpha())
        return self.alpha_output


Applier = Callable[[pyvips.Image, Any, Context], pyvips.Image]
F = TypeVar("F", bound=Applier)

#: step class → pixel function
APPLIERS: dict[type, Applier] = {}


def applies(step_type: type) -> Callable[[F], F]:
    """Attach a pixel function `(image, step, ctx) -> image` to a step class."""

    def register(fn: F) -> F:
        if step_type in APPLIERS:
            raise RuntimeError(f"{step_type.__name__} has two appliers")
        APPLIERS[step_type] = fn
        return fn

    return register


def apply_step(image: pyvips.Image, step: Step, ctx: Context) -> pyvips.Image:
    """Run one step through its registered applier."""
    try:
        fn = APPLIERS[type(step)]
    except KeyError:
        raise RuntimeError(f"no applier registered for {type(step).__name__}") from None
    return fn(image, step, ctx)


__all__ = ["APPLIERS", "Applier", "Context", "applies", "apply_step"]
