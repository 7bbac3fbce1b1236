"""Layer params out of each component (`split_layer_params`), then layers folded out of the
chain (`fold_layers`). The grammar is described in `transform.layers`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .blend import BlendMode, is_blend_token, parse_blend
from .colors import parse_color
from .component import parse_component
from .fields import invalid
from .layers import (
    MAX_LAYER_DEPTH,
    MAX_LAYERS,
    MAX_TEXT_WIDTH,
    Layer,
    LayerKind,
    Placement,
    Text,
    has_relative_size,
    parse_source,
)
from .plan import Component
from .remote import Remote
from .resize import parse_resize
from .steps import BackgroundRemoval, Resize
from .values import AUTO_GRAVITIES, FACE_GRAVITIES, CropMode

#: flags that belong to layers, not to the delivered file
_LAYER_FLAGS = ("layer_apply", "relative", "no_overflow", "tiled", "cutter", "text_no_trim")
_PLACING = ("g", "x", "y")


@dataclass(frozen=True, slots=True)
class LayerMark:
    """What a component says about layers. `text` is the component as written (for errors)."""

    text: str
    kind: LayerKind | None = None
    source: str | Text | Remote | None = None
    relative: bool = False
    #: the component's `g_ x_ y_` params: placement if the layer closes on its own component
    placing: tuple[str, ...] = ()
    #: the component without layer and placing params (its steps if the layer closes on it)
    bare: str = ""
    #: set on a `fl_layer_apply` component
    apply: Placement | None = None
    #: a blend mode (`transform.blend`) written in this component, with its level
    blend: tuple[BlendMode, int] | None = None
    tiled: bool = False


def _placement(tokens: list[str], overflow: bool, where: str) -> Placement:
    quals = {t.partition("_")[0]: (t.partition("_")[2], t) for t in tokens}
    step, _ = parse_resize(quals)
    if step is None:  # all defaults: centred
        return Placement(overflow=overflow)
    if step.gravity in AUTO_GRAVITIES or step.gravity in FACE_GRAVITIES:
        raise invalid(where, f"g_{step.gravity.value} cannot place a layer")
    return Placement(step.gravity, step.x, step.y, overflow)


def _blend(tokens: list[str], flags: set[str], where: str) -> tuple[BlendMode, int] | None:
    """The blend a component writes: one blend effect or `fl_cutter`, not both."""
    blends = [parse_blend(t) for t in tokens if is_blend_token(t)]
    if "cutter" in flags:
        blends.append((BlendMode.CUTTER, 0))
    if len(blends) > 1:
        raise invalid(where, "a layer takes one blend mode (e_multiply, e_screen, e_overlay, "
                      "e_mask, e_anti_removal or fl_cutter)")  # fmt: skip
    return blends[0] if blends else None


def _with_blend(p: Placement, blend: tuple[BlendMode, int] | None, tiled: bool) -> Placement:
    if blend is None and not tiled:
        return p
    mode, level = blend or (p.blend, p.level)
    return dataclasses.replace(p, blend=mode, level=level, tiled=p.tiled or tiled)


def _text_box(source: Text, first: Component) -> tuple[Text, Component]:
    """`c_fit,w_<n>[,h_<n>]` first on a text layer wraps the text instead of scaling it."""
    steps = first.steps
    at = next((i for i, step in enumerate(steps) if isinstance(step, Resize)), None)
    if at is None:
        return source, first
    r = steps[at]
    assert isinstance(r, Resize)
    if (
        r.crop is not CropMode.FIT
        or not isinstance(r.width, int)
        or isinstance(r.height, float)
        or dataclasses.replace(r, width=None, height=None) != Resize(crop=CropMode.FIT)
    ):
        return source, first  # fmt: skip
    if r.width > MAX_TEXT_WIDTH:
        raise invalid(f"w_{r.width}", f"a text layer wraps at most at {MAX_TEXT_WIDTH} px")
    rest = steps[:at] + steps[at + 1 :]
    return dataclasses.replace(source, width=r.width, height=r.height), Component(rest)


def _whole_ones(component: Component) -> Component:
    """Under `fl_relative`, `w_1` / `h_1` is the whole base (url-gen prints `width(1.0)` as
    `w_1`); a one-pixel layer relative to the base would mean nothing."""
    steps = []
    for step in component.steps:
        if isinstance(step, Resize) and (step.width == 1 or step.height == 1):
            width = 1.0 if step.width == 1 and isinstance(step.width, int) else step.width
            height = 1.0 if step.height == 1 and isinstance(step.height, int) else step.height
            step = dataclasses.replace(step, width=width, height=height)
        steps.append(step)
    return Component(tuple(steps), component.layer)


def split_layer_params(text: str) -> tuple[LayerMark | None, str]:
    """(the component's layer mark or None, the component text left for `parse_component`)."""
    tokens = [t for t in text.split(",") if t]
    codes = [t.partition("_")[0] for t in tokens]
    flags = {f for t in tokens if t.startswith("fl_") for f in t[3:].split(".")}
    openers = [t for t in tokens if t.partition("_")[0] in ("l", "u")]
    if not openers and not flags & set(_LAYER_FLAGS):
        stray = [t for t in tokens if is_blend_token(t) and t != "e_mask"]
        if stray:
            raise invalid(stray[0], "a blend mode only goes with a layer (l_)")
        return None, text
    if len(openers) > 1:
        raise invalid(text, "a component opens at most one layer")
    if openers and "layer_apply" in flags:
        raise invalid(text, "fl_layer_apply cannot open a new layer")
    kept: list[str] = []
    for token in tokens:
        if token.startswith("fl_"):
            rest = [f for f in token[3:].split(".") if f not in _LAYER_FLAGS]
            if rest:
                kept.append("fl_" + ".".join(rest))
        elif token not in openers:
            kept.append(token)
    blend = _blend(kept, flags, text)
    kept = [t for t in kept if not is_blend_token(t)]
    if not openers:
        alone = flags & {"text_no_trim"}
        if "layer_apply" not in flags:
            alone |= flags & {"tiled", "cutter", "no_overflow"}
        elif "relative" in flags:
            alone.add("relative")
        if alone:
            raise invalid(text, f"fl_{sorted(alone)[0]} only goes with a layer")
        if "relative" in flags and "layer_apply" not in flags:
            # a layer's own first component (as url-gen writes `u_x/c_fill,fl_relative,w_1.0/
            # fl_layer_apply`): its relative sizes are fractions of the base; `_Folder` checks
            # that it opens a layer's own components and moves it into the opener
            if blend is not None:
                raise invalid(text, f"e_{blend[0].value} only goes with a layer")
            return LayerMark(text, relative=True), ",".join(kept)
        if blend is not None and "layer_apply" not in flags:
            raise invalid(text, f"e_{blend[0].value} only goes with a layer")
        at = [t for t in kept if t.partition("_")[0] in _PLACING]
        others = [t for t in kept if t.partition("_")[0] not in _PLACING]
        apply = _placement(at, "no_overflow" not in flags, text)
        apply = _with_blend(apply, blend, "tiled" in flags)
        return LayerMark(text, apply=apply), ",".join(others)
    code, _, value = openers[0].partition("_")
    source = parse_source(value, openers[0])
    if "text_no_trim" in flags:
        if not isinstance(source, Text):
            raise invalid(text, "fl_text_no_trim only goes with a text layer")
        source = dataclasses.replace(source, no_trim=True)
    if code == "u" and (blend is not None or "tiled" in flags):
        raise invalid(text, "blend modes, fl_tiled and fl_cutter go with overlays (l_)")
    if isinstance(source, Text) and "co" in codes:
        co = next(t for t in kept if t.startswith("co_"))
        color = parse_color(co[3:])
        if color is None:
            raise invalid(co, f"unknown colour {co[3:]!r}")
        source = dataclasses.replace(source, color=color)
        kept.remove(co)
    placing = tuple(t for t in kept if t.partition("_")[0] in _PLACING and t != "g_auto")
    bare = ",".join(t for t in kept if t not in placing)
    if "no_overflow" in flags:
        placing += ("fl_no_overflow",)
    mark = LayerMark(text, LayerKind(code), source, "relative" in flags, placing, bare,
                     blend=blend, tiled="tiled" in flags)  # fmt: skip
    return mark, ",".join(kept)


@dataclass(slots=True)
class _Folder:
    components: list[Component]
    marks: list[LayerMark | None]
    closes: dict[int, int]
    count: int = 0

    def build(self, lo: int, hi: int, depth: int) -> list[Component]:
        out: list[Component] = []
        i = lo
        while i < hi:
            mark, comp = self.marks[i], self.components[i]
            if mark is None or mark.kind is None:
                if mark is not None and mark.relative:
                    raise invalid(mark.text, "fl_relative only goes with a layer")
                if comp.steps:
                    out.append(comp)
                i += 1
                continue
            if depth >= MAX_LAYER_DEPTH:
                raise invalid(mark.text, f"layers nested deeper than {MAX_LAYER_DEPTH}")
            self.count += 1
            if self.count > MAX_LAYERS:
                raise invalid(mark.text, f"more than {MAX_LAYERS} layers in one chain")
            relative_inner = False
            if i in self.closes:
                end = self.closes[i]
                nxt = self.marks[i + 1] if i + 1 < end else None
                if not comp.steps and nxt is not None and nxt.kind is None and nxt.relative:
                    # `u_x/c_fill,fl_relative,w_1.0/fl_layer_apply`: that component is the
                    # layer's first, relative to the base (printed in the opener)
                    relative_inner = True
                    first, inner = self.components[i + 1], self.build(i + 2, end, depth + 1)
                else:
                    first, inner = comp, self.build(i + 1, end, depth + 1)
                apply = self.marks[end]
                assert apply is not None and apply.apply is not None
                placement, i = apply.apply, end + 1
                if placement.blend is BlendMode.NORMAL and not placement.tiled:
                    placement = _with_blend(placement, mark.blend, mark.tiled)
                elif mark.blend is not None and placement.blend is BlendMode.NORMAL:
                    placement = _with_blend(placement, mark.blend, False)
                elif mark.tiled:
                    placement = _with_blend(placement, None, True)
                if mark.kind is LayerKind.UNDERLAY and (
                    apply.apply.blend is not BlendMode.NORMAL or apply.apply.tiled
                ):
                    raise invalid(apply.text, "blend modes, fl_tiled and fl_cutter go with "
                                  "overlays (l_)")  # fmt: skip
                after = self.components[end]  # other params of the apply component: the result's
            else:
                first = Component(parse_component(mark.bare).steps)
                inner, after = [], Component(())
                overflow = "fl_no_overflow" not in mark.placing
                placing = [t for t in mark.placing if not t.startswith("fl_")]
                placement, i = _placement(placing, overflow, mark.text), i + 1
                placement = _with_blend(placement, mark.blend, mark.tiled)
            if any(isinstance(s, BackgroundRemoval) for c in (first, *inner) for s in c.steps):
                raise invalid(mark.text, "e_background_removal cannot be used inside a layer "
                              "(apply the base as an underlay instead)")  # fmt: skip
            assert mark.source is not None
            source = mark.source
            if isinstance(source, Text):
                source, first = _text_box(source, first)
            comps = ([first] if first.steps else []) + inner
            if mark.relative or relative_inner:
                first = _whole_ones(first)
            relative = (mark.relative or relative_inner) and bool(first.steps)
            relative = relative and has_relative_size(first)
            layer = Layer(mark.kind, source, tuple(comps), relative, placement)
            out.append(Component((), layer))
            if after.steps:
                out.append(after)
        return out


def fold_layers(components: list[Component], marks: list[LayerMark | None]) -> list[Component]:
    """The chain's components with each layer's run folded into one `Component(layer=…)`."""
    if not any(marks):
        return [c for c in components if c.steps]
    open_: list[int] = []
    closes: dict[int, int] = {}
    for i, mark in enumerate(marks):
        if mark is not None and mark.kind is not None:
            open_.append(i)
        elif mark is not None and mark.apply is not None:
            if not open_:
                raise invalid(mark.text, "fl_layer_apply without an open layer")
            closes[open_.pop()] = i
    return _Folder(components, marks, closes).build(0, len(components), 0)


__all__ = ["LayerMark", "fold_layers", "split_layer_params"]
