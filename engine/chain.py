"""Running a chain's components over an image: the one loop, used by the render and by the
control structures (`if_` branches, dynamic components) that run components of their own."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pyvips

from alphacdn.transform.dynamic import Conditional, Dynamic, resolve_dynamic
from alphacdn.transform.plan import Component
from alphacdn.transform.steps import Resize, Rotate, Step

from .layers import apply_layer
from .registry import Context, applies, apply_step
from .resize import resolve

#: intermediate images up to this size are kept in memory between steps
MATERIALIZE_PIXELS = 16_000_000


def target_aspect(image: pyvips.Image, steps: Sequence[Step]) -> float | None:
    """The width / height a component's resize asks for (for `a_auto_right/left`)."""
    for step in steps:
        if isinstance(step, Resize):
            r = resolve(step, image.width, image.height)
            if isinstance(r.width, int) and isinstance(r.height, int):
                return r.width / r.height
    return None


def _keep(image: pyvips.Image, ctx: Context) -> pyvips.Image:
    if image.width * image.height <= MATERIALIZE_PIXELS:
        # steps that read pixels (trim, smartcrop, alpha checks) would otherwise re-run the
        # whole lazy chain before them each time
        image = image.copy_memory()
        if ctx.watch is not None:
            image = ctx.watch(image)
    return image


def run_steps(image: pyvips.Image, steps: Sequence[Step], ctx: Context) -> pyvips.Image:
    """One component's steps, in order. A step that moves pixels (a rotation, or any size
    change but a resize's, which follows the faces itself) makes later face steps fall back."""
    comp_ctx = dataclasses.replace(ctx, target_aspect=target_aspect(image, steps))
    for step in steps:
        before = (image.width, image.height)
        image = _keep(apply_step(image, step, comp_ctx), ctx)
        moved = isinstance(step, Rotate) or (image.width, image.height) != before
        if ctx.faces is not None and moved and not isinstance(step, (Resize, Dynamic, Conditional)):
            ctx.faces.forget()
    return image


def run_components(
    image: pyvips.Image,
    components: Sequence[Component],
    ctx: Context,
    first: Sequence[Step] | None = None,
) -> pyvips.Image:
    """Each component in turn (`first`: the first component's steps, already resolved)."""
    for index, component in enumerate(components):
        if component.layer is not None:  # a layer component has no steps of its own
            before = (image.width, image.height)
            image = apply_layer(image, component.layer, ctx).copy_memory()
            if ctx.watch is not None:
                image = ctx.watch(image)
            if ctx.faces is not None and (image.width, image.height) != before:
                ctx.faces.forget()
        steps = first if index == 0 and first is not None else component.steps
        image = run_steps(image, steps, ctx)
    return image


@applies(Dynamic)
def apply_dynamic(image: pyvips.Image, step: Dynamic, ctx: Context) -> pyvips.Image:
    """`$var_…`, `w_iw_div_2`, `w_auto`, `dpr_auto`: resolved for this image, then applied."""
    assert ctx.env is not None, "the render keeps an Env"
    return run_steps(image, resolve_dynamic(step, ctx.env, image.width, image.height), ctx)


@applies(Conditional)
def apply_conditional(image: pyvips.Image, step: Conditional, ctx: Context) -> pyvips.Image:
    """`if_…/…/if_else/…/if_end`: the branch the condition picks, for this image."""
    assert ctx.env is not None, "the render keeps an Env"
    holds = step.condition.holds(ctx.env, image.width, image.height)
    return run_components(image, step.then if holds else step.otherwise, ctx)


__all__ = ["MATERIALIZE_PIXELS", "run_components", "run_steps", "target_aspect"]
