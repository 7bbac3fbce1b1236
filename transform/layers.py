"""Layers: `l_<public_id>` overlays, `u_<public_id>` underlays and `l_text:` text overlays.

A layer is chain structure, like `t_`: it is not one param but a run of components, so it lives
in the Plan as `Component(layer=Layer(...))` rather than as a step. Cloudinary's grammar:

- `l_<id>` / `u_<id>` open a layer on a component; `:` separates folders (`l_shop:logo` is the
  asset `shop/logo`). `l_fetch:<base64url of a URL>` / `u_fetch:` layer a remote image, fetched
  as the `fetch` delivery type fetches (`transform.remote`).
  `l_text:<font>_<size>[_bold][_italic]:<text>` is a text overlay (text colour `co_`, default
  black); `,` `/` `%` in the text come escaped as `%2C` `%2F` `%25` (the SDK double-escapes
  them so they survive the server's own decoding).
- The other params of the opening component transform the layer, and so do the components after
  it up to the `fl_layer_apply` component that closes it, whose `g_ x_ y_` place the layer
  (relative `x_0.1` = a fraction of the base) and whose `fl_no_overflow` clips it to the base.
  Each `fl_layer_apply` closes the nearest open layer before it; layers nest up to
  `MAX_LAYER_DEPTH` deep and a chain holds at most `MAX_LAYERS`.
- A layer with no `fl_layer_apply` closes on its own component, whose `g_ x_ y_` then place it
  (`g_auto` stays a crop gravity).
- `fl_relative` on the opening component: its relative `w_`/`h_` are fractions of the base.
- Without `fl_no_overflow` the canvas grows to hold the layer, as Cloudinary's does.

The canonical form is always explicit: `l_<id>[,<params>][,fl_relative]/…/fl_layer_apply[,g_…]`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum

from .blend import BlendMode, print_blend
from .colors import format_color
from .dynamic import Conditional, Dynamic
from .errors import InvalidRequest
from .fields import invalid, parse_int
from .plan import Component, Plan
from .registry import Range
from .remote import Remote, decode_layer_url, encode_layer_url
from .resize import print_resize
from .steps import Resize
from .values import BLACK, Color, Gravity, Length

#: layers inside layers, counting the outermost as 1
MAX_LAYER_DEPTH = 3
#: layers in one chain (each one loads and composites an asset)
MAX_LAYERS = 8
#: characters of one text overlay, after unescaping
MAX_TEXT_LENGTH = 500
MAX_FONT_SIZE = 300
#: `_letter_spacing_<n>` / `_line_spacing_<n>` of a text style, in pixels
SPACING = {"letter_spacing": Range(-50, 200), "line_spacing": Range(-200, 500)}
#: wrap widths of a text layer (`c_fit,w_<n>`)
MAX_TEXT_WIDTH = 4096


class LayerKind(Enum):
    OVERLAY = "l"
    UNDERLAY = "u"


class TextAlign(Enum):
    """`l_text:<font>_<size>_<align>:…`: how wrapped lines line up."""

    LEFT = "left"
    CENTER = "center"
    RIGHT = "right"
    JUSTIFY = "justify"
    START = "start"
    END = "end"


@dataclass(frozen=True, slots=True)
class Text:
    """A text overlay: rendered with Pango at 72 dpi, so `size` is in pixels.

    `width` (from `c_fit,w_<n>` on the text layer) wraps the text at that many pixels instead
    of scaling it, and `height` (`h_<n>` with it) cuts what is taller. `no_trim`
    (`fl_text_no_trim`) keeps the lines' full height (ascent to descent) and the advance of the
    first and last glyphs instead of cutting to the ink. `line_spacing` adds pixels between
    lines, `letter_spacing` between characters (`_line_spacing_<n>`, `_letter_spacing_<n>` in
    the style, as the SDK writes them)."""

    text: str
    font: str = "Arial"
    size: int = 12
    bold: bool = False
    italic: bool = False
    color: Color = BLACK
    width: int | None = None
    height: int | None = None
    no_trim: bool = False
    line_spacing: int = 0
    letter_spacing: int = 0
    align: TextAlign | None = None


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a layer goes on the base: anchored at `gravity`, moved inwards by `x`/`y`, and how
    it meets the base (`transform.blend`)."""

    gravity: Gravity = Gravity.CENTER
    x: Length | None = None
    y: Length | None = None
    #: False with `fl_no_overflow`: the layer is clipped to the base instead of growing it
    overflow: bool = True
    blend: BlendMode = BlendMode.NORMAL
    #: `e_anti_removal:<level>`
    level: int = 0
    #: `fl_tiled`: the layer repeats over the whole base
    tiled: bool = False

    @property
    def grows(self) -> bool:
        """Whether the canvas grows to hold the layer (plain overlays/underlays only)."""
        return self.overflow and self.blend is BlendMode.NORMAL and not self.tiled


@dataclass(frozen=True, slots=True)
class Layer:
    """An asset (public_id with `/` folders), a remote image or a text, transformed by
    `components`, placed."""

    kind: LayerKind
    source: str | Text | Remote
    components: tuple[Component, ...] = ()
    #: relative `w_`/`h_` of the first component are fractions of the base image
    relative: bool = False
    placement: Placement = field(default_factory=Placement)


# ── sources ──────────────────────────────────────────────────────────────────────────────────

_ALIGNS = ("left", "center", "right", "justify", "start", "end")
_FONT = re.compile(r"[A-Za-z][A-Za-z0-9 \-]{0,63}")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_OTHER_TYPES = ("video", "subtitles", "audio", "raw", "private", "authenticated")


def _unescape(text: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


def _escape(text: str) -> str:
    return "".join(f"%{ord(c):02X}" if c in "%,/" or ord(c) < 0x20 else c for c in text)


def _spacings(words: list[str], param: str) -> tuple[list[str], dict[str, int]]:
    """The style words without `letter_spacing_<n>` / `line_spacing_<n>`, and those values."""
    rest: list[str] = []
    found: dict[str, int] = {}
    i = 0
    while i < len(words):
        if words[i] in ("letter", "line") and words[i + 1 : i + 2] == ["spacing"]:
            name = words[i] + "_spacing"
            if i + 2 >= len(words) or name in found:
                raise invalid(param, f"{name} needs one value")
            found[name] = parse_int(words[i + 2], param, SPACING[name], name)
            i += 3
        else:
            rest.append(words[i])
            i += 1
    return rest, found


def parse_text(value: str, param: str) -> Text:
    """`text:<font>_<size>[_bold|_normal][_italic][_<align>][_letter_spacing_<n>]
    [_line_spacing_<n>]:<text>` (after `l_`)."""
    _, style, raw = [*value.split(":", 2), "", ""][:3]
    font, _, rest = style.partition("_")
    size_text, *words = rest.split("_") if rest else [""]
    if not _FONT.fullmatch(font) or not size_text.isdigit():
        raise invalid(param, "expected text:<font>_<size>[_bold][_italic]:<text>")
    size = int(size_text)
    if not 1 <= size <= MAX_FONT_SIZE:
        raise invalid(param, f"font size must be 1..{MAX_FONT_SIZE}")
    words, spacing = _spacings(words, param)
    aligns = [TextAlign(w) for w in words if w in _ALIGNS]
    unknown = [w for w in words if w not in ("bold", "normal", "italic", *_ALIGNS)]
    if unknown:
        raise invalid(param, f"text style {unknown[0]!r} is not supported")
    if len(aligns) > 1:
        raise invalid(param, "at most one text alignment")
    text = _unescape(raw)
    if not text:
        raise invalid(param, "the text is empty")
    if len(text) > MAX_TEXT_LENGTH:
        raise invalid(param, f"text longer than {MAX_TEXT_LENGTH} characters")
    return Text(
        text,
        font,
        size,
        "bold" in words,
        "italic" in words,
        line_spacing=spacing.get("line_spacing", 0),
        letter_spacing=spacing.get("letter_spacing", 0),
        align=aligns[0] if aligns else None,
    )


def parse_source(value: str, param: str) -> str | Text | Remote:
    """The layer's asset (`folder:name` → `folder/name`), remote image or text."""
    if value.startswith("text:"):
        return parse_text(value, param)
    if value.startswith("fetch:"):
        try:
            return decode_layer_url(value.removeprefix("fetch:"), param)
        except InvalidRequest as exc:
            raise invalid(param, exc.public.split(": ", 1)[-1]) from None
    head = value.partition(":")[0]
    if head in _OTHER_TYPES and ":" in value:
        raise invalid(param, f"{head} layers are not supported")
    parts = value.split(":")
    if not value or any(p in ("", ".", "..") or re.search(r"[\x00-\x1f\\]", p) for p in parts):
        raise invalid(param, "invalid layer public_id")
    return "/".join(parts)


def print_source(kind: LayerKind, source: str | Text | Remote) -> list[str]:
    """The opening params of a layer: `l_<id>`, `l_fetch:<base64url>` or `l_text:…` plus `co_`
    for a text colour."""
    if isinstance(source, str):
        return [f"{kind.value}_{source.replace('/', ':')}"]
    if isinstance(source, Remote):
        return [f"{kind.value}_fetch:{encode_layer_url(source.url)}"]
    words = [source.font, str(source.size)] + ["bold"] * source.bold + ["italic"] * source.italic
    if source.align is not None:
        words.append(source.align.value)
    if source.letter_spacing:
        words += ["letter", "spacing", str(source.letter_spacing)]
    if source.line_spacing:
        words += ["line", "spacing", str(source.line_spacing)]
    tokens = [f"{kind.value}_text:{'_'.join(words)}:{_escape(source.text)}"]
    if source.color != BLACK:
        tokens.append("co_" + format_color(source.color))
    if source.width is not None:
        tokens += ["c_fit", f"w_{source.width}"] + ([f"h_{source.height}"] * bool(source.height))
    if source.no_trim:
        tokens.append("fl_text_no_trim")
    return tokens


# ── printing and walking ─────────────────────────────────────────────────────────────────────


def _print_placement(p: Placement) -> list[str]:
    tokens = [t for t in print_resize(Resize(gravity=p.gravity, x=p.x, y=p.y))]
    flags = ["layer_apply"] + ["no_overflow"] * (not p.overflow) + ["tiled"] * p.tiled
    flags += ["cutter"] * (p.blend is BlendMode.CUTTER)
    return ["fl_" + ".".join(flags), *tokens, *print_blend(p.blend, p.level)]


def print_layer(layer: Layer, print_component: Callable[[Component], str]) -> str:
    """The canonical text of a layer: opener (with the first component), the rest, apply."""
    opener = print_source(layer.kind, layer.source)
    rest = list(layer.components)
    if rest and rest[0].layer is None:
        first = [t for t in print_component(rest[0]).split(",") if t]
        # in the opener, `co_` is a text layer's colour and `g_ x_ y_` place the layer: a first
        # component using them for its own steps (a shadow's colour, a crop's gravity) must
        # stay a component of its own, or the re-parse would read them differently
        clash = (
            any(t.partition("_")[0] in ("g", "x", "y") for t in first)
            or (isinstance(layer.source, Text) and any(t.startswith("co_") for t in first))
            # a text's wrap width is written `c_fit,w_<n>` in the opener
            or (
                isinstance(layer.source, Text)
                and any(t.partition("_")[0] in ("c", "w", "h", "ar", "dpr") for t in first)
            )
        )
        # variables, expressions and `if_` blocks never share the opener (issue 14)
        clash = clash or any(isinstance(s, (Dynamic, Conditional)) for s in rest[0].steps)
        if not clash:
            opener += first
            rest.pop(0)
    opener += ["fl_relative"] * layer.relative
    parts = [",".join(sorted(opener)), *(print_component(c) for c in rest)]
    parts.append(",".join(sorted(_print_placement(layer.placement))))
    return "/".join(p for p in parts if p)


def iter_layers(components: tuple[Component, ...]) -> Iterator[Layer]:
    """Every layer of a chain, nested ones included, outermost first."""
    for comp in components:
        if comp.layer is not None:
            yield comp.layer
            yield from iter_layers(comp.layer.components)


def layer_public_ids(plan: Plan) -> tuple[str, ...]:
    """The public_ids of the image layers a plan loads, sorted, each once (for cache keys)."""
    return tuple(sorted({ly.source for ly in iter_layers(plan.components)
                         if isinstance(ly.source, str)}))  # fmt: skip


def layer_remote_urls(plan: Plan) -> tuple[str, ...]:
    """The URLs of the remote layers (`l_fetch:`) a plan fetches, sorted, each once."""
    return tuple(sorted({ly.source.url for ly in iter_layers(plan.components)
                         if isinstance(ly.source, Remote)}))  # fmt: skip


def source_key(source: str | Remote) -> str:
    """How an image layer's size and bytes are looked up: its public_id, or `fetch:<url>`."""
    return source.key if isinstance(source, Remote) else source


def has_relative_size(component: Component) -> bool:
    """Whether a component resizes by a fraction (what `fl_relative` refers to the base)."""
    return any(
        isinstance(s, Resize) and (isinstance(s.width, float) or isinstance(s.height, float))
        for s in component.steps
    )


__all__ = [
    "MAX_FONT_SIZE",
    "MAX_LAYERS",
    "MAX_LAYER_DEPTH",
    "MAX_TEXT_LENGTH",
    "Layer",
    "LayerKind",
    "Placement",
    "Text",
    "TextAlign",
    "has_relative_size",
    "iter_layers",
    "layer_public_ids",
    "layer_remote_urls",
    "parse_source",
    "parse_text",
    "print_layer",
    "print_source",
    "source_key",
]
