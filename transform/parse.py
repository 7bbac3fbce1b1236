"""A transformation chain (`c_fill,w_400/e_grayscale/t_thumb`) → `Plan`.

`/` separates components applied in order. `f_ q_ fl_` anywhere feed `Plan.output`; components
left with no steps disappear. `t_<name>` (or `t_a.b`) expands named transformations in place:
their components first, then the rest of the `t_` component as a component of its own; nesting is
allowed up to `MAX_NAMED_DEPTH`, a cycle or an unknown name is a 400. Background removal may
only be the very first step of the chain.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from .component import parse_component
from .dynamic import Conditional, split_condition, split_dynamic
from .errors import InvalidTransformation
from .expressions import Condition
from .fields import invalid
from .layer_parse import LayerMark, fold_layers, split_layer_params
from .output import apply_output
from .plan import Component, Output, Plan
from .steps import BackgroundRemoval

MAX_NAMED_DEPTH = 8
#: components after named expansion; guards against exponential `t_` fan-out
MAX_COMPONENTS = 64
NO_NAMES: Mapping[str, str] = MappingProxyType({})


@dataclass(slots=True)
class _Frame:
    """An open `if_…` block: where its components start, and where `if_else` split them."""

    condition: Condition
    param: str
    start: int
    otherwise: int | None = None


@dataclass(slots=True)
class _Builder:
    named: Mapping[str, str]
    components: list[Component] = field(default_factory=list)
    output: Output = field(default_factory=Output)
    used: list[str] = field(default_factory=list)
    #: layer params of each component, aligned with `components` (see `transform.layers`)
    marks: list[LayerMark | None] = field(default_factory=list)
    #: open `if_` blocks, innermost last
    frames: list[_Frame] = field(default_factory=list)

    def walk(self, chain: str, stack: tuple[str, ...]) -> None:
        for text in chain.split("/"):
            if not text:
                continue
            condition, cparam, text = split_condition(text)
            if cparam and condition is None:  # `if_else` / `if_end`
                self.branch(cparam, text)
                continue
            if condition is not None and not text:
                self.frames.append(_Frame(condition, cparam, len(self.components)))
                continue
            mark, text = split_layer_params(text)
            dynamic, text = split_dynamic(text)
            if (dynamic is not None or condition is not None) and mark is not None:
                raise invalid(mark.text, "a layer component takes no expressions, variables "
                              "or conditions")  # fmt: skip
            pc = parse_component(text)
            for name in pc.named:
                self.expand(name, pc.named_param, stack)
            for code, value, param in pc.output:
                self.output = apply_output(self.output, code, value, param)
            steps = pc.steps if dynamic is None else (dynamic, *pc.steps)
            if condition is not None and steps:
                steps = (Conditional(condition, (Component(steps),)),)
            if steps or mark is not None:
                if len(self.components) >= MAX_COMPONENTS:
                    raise invalid(text, f"more than {MAX_COMPONENTS} components")
                self.components.append(Component(steps))
                self.marks.append(mark)

    def branch(self, param: str, others: str) -> None:
        """`if_else` or `if_end` (alone in their component)."""
        if others:
            raise invalid(param, f"{param} stands alone in its component")
        if not self.frames:
            raise invalid(param, f"{param} without an open if_")
        frame = self.frames[-1]
        if param == "if_else":
            if frame.otherwise is not None:
                raise invalid(param, "two if_else in one if_ block")
            frame.otherwise = len(self.components)
            return
        self.frames.pop()
        comps, marks = self.components[frame.start :], self.marks[frame.start :]
        if any(m is not None for m in marks):
            raise invalid(frame.param, "layers inside an if_ block are not supported")
        split = (len(self.components) if frame.otherwise is None else frame.otherwise) - frame.start
        del self.components[frame.start :], self.marks[frame.start :]
        then, otherwise = tuple(comps[:split]), tuple(comps[split:])
        if then or otherwise:
            self.components.append(Component((Conditional(frame.condition, then, otherwise),)))
            self.marks.append(None)

    def expand(self, name: str, param: str, stack: tuple[str, ...]) -> None:
        if name not in self.named:
            raise invalid(param, f"unknown named transformation {name!r}")
        if name in stack:
            raise invalid(param, "named transformations refer to each other in a cycle: "
                          + " → ".join((*stack, name)))  # fmt: skip
        if len(stack) >= MAX_NAMED_DEPTH:
            raise invalid(param, f"named transformations nested deeper than {MAX_NAMED_DEPTH}")
        if name not in self.used:
            self.used.append(name)
        try:
            self.walk(self.named[name], (*stack, name))
        except InvalidTransformation as e:
            if stack:  # the outermost name adds the context once
                raise
            raise InvalidTransformation(f"{e.public} in named transformation t_{name}",
                                        detail=e.detail) from e  # fmt: skip


def _check_removal(
    components: list[Component] | tuple[Component, ...], nested: bool = False
) -> None:
    for i, comp in enumerate(components):
        for j, step in enumerate(comp.steps):
            if isinstance(step, BackgroundRemoval) and ((i, j) != (0, 0) or nested):
                raise invalid("e_background_removal", "must be the first component of the chain")
            if isinstance(step, Conditional):
                _check_removal(step.then, True)
                _check_removal(step.otherwise, True)


def parse_chain(chain: str, *, named: Mapping[str, str] = NO_NAMES) -> Plan:
    """Parse a transformation chain into a `Plan` (raises `InvalidTransformation`)."""
    builder = _Builder(named)
    builder.walk(chain, ())
    if builder.frames:
        raise invalid(builder.frames[-1].param, "if_ without if_end")
    components = fold_layers(builder.components, builder.marks)
    _check_removal(components)
    return Plan(tuple(components), builder.output, tuple(builder.used))


__all__ = ["MAX_COMPONENTS", "MAX_NAMED_DEPTH", "NO_NAMES", "parse_chain"]
