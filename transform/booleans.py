"""The one boolean parser for API parameters and settings (upload, remove.bg, `ALPHACDN_*`).

Cloudinary documents upload booleans as `true`/`false` and its SDKs also send `1`/`0`;
remove.bg documents `true`/`false`. Both are accepted, with `yes`/`no` and `on`/`off` (what
our settings and the remove.bg adapter accepted before there was one parser), case-insensitive,
surrounding blanks ignored. Anything else is an error, never a silent `false`.

The URL grammar's own flag values (`fineedges_y`) are parsed by `syntax.parse_value`: `y`/`n`
are URL spellings only, and `yes`/`on` are not URL grammar.
"""

from __future__ import annotations

from .errors import InvalidRequest

TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "off"})

#: how the accepted spellings are named in error messages
SPELLINGS = "true or false (also 1/0, yes/no, on/off)"


def parse_bool(raw: object) -> bool:
    """`raw` (a form field, an env value, a JSON/TOML boolean) as a bool; `ValueError` names
    the accepted spellings."""
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise ValueError(SPELLINGS)


def bool_param(name: str, raw: object) -> bool:
    """An API parameter's boolean; a 400 `InvalidRequest` naming the parameter otherwise."""
    try:
        return parse_bool(raw)
    except ValueError:
        raise InvalidRequest(f"Invalid value for {name}: expected {SPELLINGS}") from None


__all__ = ["FALSE_WORDS", "SPELLINGS", "TRUE_WORDS", "bool_param", "parse_bool"]
