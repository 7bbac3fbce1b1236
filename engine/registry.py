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

from alphacdn.transform.dynamic import Conditional, Dynamic
from alphacdn.transform.expressions import Env
from alphacdn.transform.steps import Resize, Step, Trim
from alphacdn.transform.values import CropMode
from alphacdn.transform.vectorize import Vectorize

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
    #: the chain's running state: variables, the original's size, client hints, fixed size
    env: Env | None = None
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
    out = fn(image, step, ctx)
    if ctx.env is not None and not isinstance(step, Dynamic | Conditional):
        if not isinstance(step, Vectorize):
            ctx.env.svg = None  # the pixels changed after the trace
        if isinstance(step, Resize):
            ctx.env.fixed_size = fixes_size(step)
        elif isinstance(step, Trim):
            ctx.env.fixed_size = False
    return out


#: crop modes that deliver exactly the size asked for when both sides are given
_EXACT = frozenset({CropMode.SCALE, CropMode.FILL, CropMode.PAD, CropMode.LPAD, CropMode.CROP,
                    CropMode.THUMB, CropMode.FILL_PAD, CropMode.AUTO})  # fmt: skip


def fixes_size(step: Resize) -> bool:
    """Whether a resize fixes the output size (a card of w × h): later steps that would grow
    the canvas (`e_dropshadow`) must then make room inside it."""
    sides = (step.width is not None) + (step.height is not None)
    return step.crop in _EXACT and (sides == 2 or (sides == 1 and step.aspect_ratio is not None))


__all__ = ["APPLIERS", "Applier", "Context", "applies", "apply_step", "fixes_size"]
