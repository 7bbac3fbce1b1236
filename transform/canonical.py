"""`Plan` → its canonical chain text: the input of the cache key.

Each component prints its params sorted (so `w_400,h_300` = `h_300,w_400`), with defaults
dropped (`c_scale`, `g_center`, `dpr_1.0`, `e_blur:100` → `e_blur`), numbers normalised
(`0.50` → `0.5`, `dpr_2` → `dpr_2.0`) and colours as `rgb:rrggbb[aa]`. Named transformations are
already expanded in a `Plan`, so redefining one changes the key. The output settings come last,
as one extra component `f_…,fl_…,q_…`. `parse_chain(canonical(p)) == p` for every plan the parser
can produce.
"""

from __future__ import annotations

from .dynamic import Conditional, Dynamic, print_conditional, print_dynamic
from .layers import print_layer
from .output import print_output
from .plan import Component, Plan
from .resize import print_resize
from .steps import Resize, Step
from .syntax import print_step


def _key(token: str) -> str:
    return token.partition(":")[0] if token.startswith("e_") else token.partition("_")[0]


def canonical_component(component: Component) -> str:
    """One component's params, sorted; repeated codes (`a_hflip.90`) joined with `.` in order."""
    if component.layer is not None:  # a layer prints as its own run of components
        return print_layer(component.layer, canonical_component)
    if component.steps and isinstance(component.steps[0], (Dynamic, Conditional)):
        # control structures print whole: a dynamic component, then (a single-component
        # condition aside) nothing else shares it
        first, *rest = component.steps
        if isinstance(first, Conditional):
            head = print_conditional(first, canonical_component)
        elif isinstance(first, Dynamic):
            head = print_dynamic(first)
        if not rest:
            return head
        return head + "," + canonical_component(Component(tuple(rest)))
    values: dict[str, list[str]] = {}
    for step in component.steps:
        for token in print_resize(step) if isinstance(step, Resize) else print_step(step):
            key = _key(token)
            if key in values and not key.startswith("e_"):
                values[key].append(token.partition("_")[2])
            else:
                values[key] = [token]
    tokens = [v[0] + "".join("." + rest for rest in v[1:]) for v in values.values()]
    return ",".join(sorted(tokens))


def canonical_step(step: Step) -> str:
    """One step's canonical text, as it prints alone in its component: the matte key prints
    the background-removal step this way (`e_background_removal:fineedges_y;hints_(cat;dog)`)."""
    return canonical_component(Component((step,)))


def canonical(plan: Plan) -> str:
    """The canonical chain text of a plan ("" for the empty plan)."""
    parts = [text for c in plan.components if (text := canonical_component(c))]
    output = print_output(plan.output)
    if output:
        parts.append(",".join(output))
    return "/".join(parts)


__all__ = ["canonical", "canonical_component", "canonical_step"]
