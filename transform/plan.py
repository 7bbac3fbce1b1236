"""The Plan: an immutable, printable, hashable value for everything a delivery URL says."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .steps import BackgroundRemoval, Step
from .values import Flag, Format, QualityPreset

if TYPE_CHECKING:  # layers.py builds on Component
    from .layers import Layer


@dataclass(frozen=True, slots=True)
class Component:
    """One `/`-separated component: its steps in application order, or (with no steps) one
    layer folded out of the chain (see `transform.layers`)."""

    steps: tuple[Step, ...]
    layer: Layer | None = None


@dataclass(frozen=True, slots=True)
class Output:
    """Delivery settings gathered from `f_ q_ fl_` anywhere in the chain (last wins) and the
    URL's extension. `format=None` means: the extension's format, else the original's."""

    format: Format | None = None
    quality: int | None = None
    quality_preset: QualityPreset | None = None
    flags: frozenset[Flag] = field(default_factory=frozenset)
    #: `pg_<n>` / `pg_<a>-<b>`: the frames of an animated source to keep, 1-based, inclusive
    pages: tuple[int, int] | None = None
    #: `dl_<ms>`: the delay between frames of an animated output
    delay: int | None = None
    #: `e_loop[:<n>]`: how many times an animated output plays, n + 1 (0: endlessly, `e_loop`)
    loop: int | None = None

    @property
    def frames(self) -> bool:
        """Whether the output settings speak of frames (only an animated source has them)."""
        return self.pages is not None or self.delay is not None or self.loop is not None


@dataclass(frozen=True, slots=True)
class Plan:
    components: tuple[Component, ...] = ()
    output: Output = field(default_factory=Output)
    #: names of the `t_` named transformations expanded into this plan (strict mode allows them).
    #: Not part of equality: a plan is what it does, however it was spelled.
    named: tuple[str, ...] = field(default=(), compare=False)

    def canonical(self) -> str:
        """The canonical chain text (the cache key's input); see `transform.canonical`."""
        from .canonical import canonical

        return canonical(self)

    @property
    def removal(self) -> BackgroundRemoval | None:
        """The background-removal step, if the chain starts with one."""
        if self.components and self.components[0].steps:
            first = self.components[0].steps[0]
            if isinstance(first, BackgroundRemoval):
                return first
        return None

    def after_removal(self) -> Plan:
        """The plan without its leading background-removal component (applied to the matte)."""
        if self.removal is None:
            return self
        first, *rest = self.components
        remaining = first.steps[1:]
        comps = ((Component(remaining),) if remaining else ()) + tuple(rest)
        return Plan(comps, self.output, self.named)


__all__ = ["Component", "Output", "Plan"]
