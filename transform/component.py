"""One `/`-separated URL component → its steps, in the fixed in-component order.

A component is `,`-separated params `<code>_<value>` (effects: `e_<name>[:<value>]`). A repeated
code keeps its last value (`fl_` accumulates instead). Params are sorted into:

- action params (`e_*`, `a_`, `r_`, `bo_`, `o_`, standalone `b_`): one step each, from the table;
- resize qualifiers (`w h c g x y z ar dpr`, `b` in pad modes): one `Resize`;
- qualifiers claimed by a step field (`co_` → `e_colorize`/`e_tint` colour; unclaimed: ignored);
- output params (`f_ q_ fl_`) and named transformations (`t_`): handed back to the chain parser.

Steps then run in `Stage` order, whatever order the params were written in:
background removal → trim → resize → effect → rotate → round corners → border → opacity →
background.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

from . import accessibility as _accessibility  # noqa: F401  (registers its effects)
from . import irregular as _irregular  # noqa: F401  (registers the irregular grammars)
from . import vectorize as _vectorize  # noqa: F401  (registers e_vectorize)
from .fields import invalid, specs
from .output import LOOP_EFFECT, OUTPUT_CODES
from .registry import ACTIONS, STAGES
from .resize import RESIZE_CODES, parse_resize
from .steps import Background, Resize, Step
from .syntax import parse_step

#: Cloudinary params we know but do not serve (yet): a clear 400 rather than "unknown"
UNSUPPORTED: dict[str, str] = {
    # layers span components: `parse_chain` takes them out before a component gets here
    "l": "layers (l_) are parsed by the chain, not by one component",
    "u": "underlays (u_) are parsed by the chain, not by one component",
    "d": "default images (d_) are not supported",
    "if": "conditions (if_) are not allowed here",
    "fn": "custom functions (fn_) are not supported",
    "dn": "density (dn_) is not supported",
    "cs": "colour spaces (cs_) are not supported",
    **{c: "video params are not supported" for c in ("du", "so", "eo", "vc", "ac", "af", "br",
                                                        "fps", "ki", "sp", "vs")},
}  # fmt: skip

_SHAPED = re.compile(r"[a-z]{1,3}_|\$[a-zA-Z][a-zA-Z0-9]{0,31}_")


@functools.cache
def _tables(n_actions: int) -> tuple[dict[str, type], frozenset[str]]:
    """(non-effect action code → class, every known param code), read from the table.

    Keyed by the table's size: the table only grows (at import), so a new action refreshes it."""
    by_key = {k: v for k, v in ACTIONS.items() if not k.startswith("e_")}
    quals = {s.qualifier for cls in ACTIONS.values() for s in specs(cls) if s.qualifier}
    known = {*by_key, *RESIZE_CODES, *OUTPUT_CODES, *UNSUPPORTED, "e", "t", *quals}
    return by_key, frozenset(known)


def _actions_by_key() -> dict[str, type]:
    return _tables(len(ACTIONS))[0]


def known_code(key: str) -> bool:
    """A param code this grammar knows (served or not)."""
    return key in _tables(len(ACTIONS))[1]


def looks_like_param(token: str) -> bool:
    """True if `token` is shaped like a transformation param (not a folder name)."""
    key, sep, _ = token.partition("_")
    return bool(sep) and (known_code(key) or _SHAPED.match(token) is not None)


@dataclass(slots=True)
class ParsedComponent:
    steps: tuple[Step, ...] = ()
    #: (code, value, param text) of `f_ q_ fl_`, in URL order
    output: list[tuple[str, str, str]] = field(default_factory=list)
    #: names of `t_` (a `.`-joined list in one param), with the param text
    named: list[str] = field(default_factory=list)
    named_param: str = ""


def _params(text: str) -> dict[str, tuple[str, str]]:
    """`code → (value, param text)`, last wins; `fl` values are joined with `.`."""
    out: dict[str, tuple[str, str]] = {}
    for token in text.split(","):
        if not token:
            continue
        key, sep, value = token.partition("_")
        if not sep or not value:
            raise invalid(token, "expected <param>_<value>")
        if key in UNSUPPORTED:
            raise invalid(token, UNSUPPORTED[key])
        if not known_code(key):
            raise invalid(token, f"unknown parameter {key}_")
        if key == "fl" and key in out:
            value = out[key][0] + "." + value
        out[key] = (value, token)
    return out


def parse_component(text: str) -> ParsedComponent:
    """Parse one component's params into steps (ordered by stage) plus output/named params."""
    params = _params(text)
    result = ParsedComponent()
    result.output = [(c, *params[c]) for c in OUTPUT_CODES if c in params]
    if "t" in params:
        value, result.named_param = params["t"]
        result.named = value.split(".")

    actions: list[tuple[type, str, str]] = []
    if "e" in params:
        value, param = params["e"]
        name, _, rest = value.partition(":")
        cls = ACTIONS.get("e_" + name)
        if name == LOOP_EFFECT:  # an output setting spelled as an effect
            result.output.append((LOOP_EFFECT, rest, param))
        elif cls is None:
            raise invalid(param, f"unknown effect {name!r}")
        else:
            actions.append((cls, rest, param))
    for key, cls in _actions_by_key().items():
        if key in params and cls is not Resize and cls is not Background:
            actions.append((cls, *params[key]))

    claimed = {s.qualifier for cls, _, _ in actions for s in specs(cls) if s.qualifier}
    quals = {k: v for k, v in params.items() if k in claimed}
    steps: list[Any] = []
    resize, used_b = parse_resize(
        {k: v for k, v in params.items() if (k in RESIZE_CODES or k == "b") and k not in claimed}
    )
    if resize is not None:
        steps.append(resize)
    if "b" in params and not used_b:
        actions.append((Background, *params["b"]))
    for cls, value, param in actions:
        made = parse_step(cls, value, param, quals)
        steps.extend(made if isinstance(made, tuple) else () if made is None else (made,))
    steps.sort(key=lambda s: STAGES[type(s)])
    result.steps = tuple(steps)
    return result


__all__ = ["UNSUPPORTED", "ParsedComponent", "known_code", "looks_like_param", "parse_component"]
