"""Face steps: `e_pixelate_faces[:<1-200>]`, `e_blur_faces[:<1-2000>]`, and what needs faces.

Face gravities (`g_face`, `g_faces`, `g_auto:faces`, with `:center`/`:auto` fallbacks) are values
of `Gravity` (`transform.values.FACE_GRAVITIES`). Faces are found by the wiring, once per source
content, and handed to the render; a plan that needs none never runs the detector.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from .registry import Range, action
from .values import FACE_GRAVITIES, Gravity

if TYPE_CHECKING:  # steps.py imports this module
    from .plan import Plan


@action("e_pixelate_faces")
@dataclass(frozen=True, slots=True)
class PixelateFaces:
    """`e_pixelate_faces[:<1-200>]`, default 5: pixelate every detected face (square size in
    pixels); an image without faces is left as it is."""

    size: Annotated[int, Range(1, 200)] = 5


@action("e_blur_faces")
@dataclass(frozen=True, slots=True)
class BlurFaces:
    """`e_blur_faces[:<1-2000>]`, default 500: blur every detected face (the strength scales
    with the face's size); an image without faces is left as it is."""

    strength: Annotated[int, Range(1, 2000)] = 500


def face_steps(plan: Plan) -> tuple[bool, bool]:
    """(whether the plan asks for faces explicitly, whether `g_auto` could use them as a hint)."""
    from .steps import Resize

    explicit = hint = False
    for component in plan.components:
        for step in component.steps:
            if isinstance(step, PixelateFaces | BlurFaces):
                explicit = True
            elif isinstance(step, Resize):
                explicit = explicit or step.gravity in FACE_GRAVITIES
                hint = hint or step.gravity is Gravity.AUTO
    return explicit, hint


__all__ = ["BlurFaces", "PixelateFaces", "face_steps"]
