"""Parsers for setting values, in the user's terms.

Each parser takes the raw text of one `ALPHACDN_*` variable (or a TOML value turned into text)
and returns a typed value, or raises `ValueError` whose message is what the value should have
been, as a noun phrase: `'2XB' is not` + `a size (e.g. 2GB, 500MB)`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

from alphacdn.transform.booleans import parse_bool

#: the longest ALPHACDN_MATTE_WAIT accepted: a held request keeps its connection open
MAX_MATTE_WAIT = 120.0

_SIZE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([KMGT]?)(?:I?B)?", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
_PIXELS = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(MP)?", re.IGNORECASE)
_CLOUD = re.compile(r"[A-Za-z0-9_-]+")

#: the fields a remove.bg key's allowance may set, and their defaults
REMOVEBG_ALLOWANCE_FIELDS = ("credits", "free_calls", "rate_limit")


def text(raw: str) -> str:
    value = raw.strip()
    if not value:
        raise ValueError("a non-empty text")
    return value


def public_url(raw: str) -> str:
    """`https://cdn.example.com[:port][/prefix]`, without a trailing slash."""
    value = text(raw).rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError("an http(s) URL without query or fragment (e.g. https://cdn.example.com)")
    try:
        parts.port  # noqa: B018 (a bad port raises here)
    except ValueError:
        raise ValueError("an http(s) URL with a valid port") from None
    return value


def log_format(raw: str) -> str:
    value = raw.strip().lower()
    if value not in ("text", "json"):
        raise ValueError("text or json")
    return value


def path(raw: str) -> Path:
    return Path(text(raw))


def boolean(raw: str) -> bool:
    return parse_bool(raw)  # its ValueError already names the accepted spellings


def _number(raw: str, what: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ValueError(what) from None


def _whole(raw: str, what: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise ValueError(what) from None


def count(raw: str) -> int:
    """A whole number ≥ 1 (workers, threads, queue bounds)."""
    what = "a whole number ≥ 1"
    value = _whole(raw, what)
    if value < 1:
        raise ValueError(what)
    return value


def natural(raw: str) -> int:
    """A whole number ≥ 0 (seconds, megabytes where 0 means off)."""
    what = "a whole number ≥ 0"
    value = _whole(raw, what)
    if value < 0:
        raise ValueError(what)
    return value


def port(raw: str) -> int:
    what = "a port number (0-65535)"
    value = _whole(raw, what)
    if not 0 <= value <= 65535:
        raise ValueError(what)
    return value


def size(raw: str) -> int:
    """`1024`, `500MB`, `2GB`, `10MiB`, `1.5G` (binary units)."""
    what = "a size (e.g. 2GB, 500MB)"
    match = _SIZE.fullmatch(raw.strip())
    if match is None:
        raise ValueError(what)
    value = int(float(match.group(1)) * _SIZE_UNITS[match.group(2).upper()])
    if value < 1:
        raise ValueError(what)
    return value


def pixels(raw: str) -> int:
    """`50000000` or `50MP`."""
    what = "a pixel count (e.g. 50MP, 12000000)"
    match = _PIXELS.fullmatch(raw.strip())
    if match is None:
        raise ValueError(what)
    value = float(match.group(1)) * (1_000_000 if match.group(2) else 1)
    if value < 1:
        raise ValueError(what)
    return int(value)


def wait_seconds(raw: str) -> float:
    what = f"a number of seconds from 0 to {MAX_MATTE_WAIT:g}"
    value = _number(raw, what)
    if not 0 <= value <= MAX_MATTE_WAIT:
        raise ValueError(what)
    return value


def render_seconds(raw: str) -> float:
    what = "a number of seconds from 0.01 to 3600"
    value = _number(raw, what)
    if not 0.01 <= value <= 3600:
        raise ValueError(what)
    return value


def poll_seconds(raw: str) -> float:
    what = "a number of seconds from 0.01 to 60"
    value = _number(raw, what)
    if not 0.01 <= value <= 60:
        raise ValueError(what)
    return value


def credits(raw: str) -> float:
    what = "a number of credits ≥ 0"
    value = _number(raw, what)
    if not value >= 0:  # also refuses nan
        raise ValueError(what)
    return value


def clouds(raw: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in raw.split(",") if n.strip())
    if not names or not all(_CLOUD.fullmatch(n) for n in names):
        raise ValueError("a comma-separated list of cloud names (letters, digits, - and _)")
    return names


def floats3(raw: str) -> tuple[float, float, float]:
    what = "three comma-separated numbers (e.g. 0.485,0.456,0.406)"
    parts = [_number(p, what) for p in raw.split(",")]
    if len(parts) != 3:
        raise ValueError(what)
    return (parts[0], parts[1], parts[2])


def removebg_keys(raw: str) -> Mapping[str, Mapping[str, float]]:
    """`key1,key2`: remove.bg keys with the default allowance."""
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    if not keys:
        raise ValueError("a comma-separated list of remove.bg API keys")
    return {k: {} for k in keys}


def removebg_keys_table(value: object) -> Mapping[str, Mapping[str, float]]:
    """TOML: a list of keys, or a table `key → {credits, free_calls, rate_limit}`."""
    what = (
        "a list of keys or a table of keys, each with credits, free_calls and rate_limit "
        "(numbers, all optional)"
    )
    if isinstance(value, list) and all(isinstance(k, str) and k for k in value):
        return {k: {} for k in value}
    if not isinstance(value, dict):
        raise ValueError(what)
    table: dict[str, dict[str, float]] = {}
    for key, allowance in value.items():
        if not isinstance(allowance, dict) or not all(
            f in REMOVEBG_ALLOWANCE_FIELDS
            and isinstance(v, int | float)
            and not isinstance(v, bool)
            and v >= 0
            for f, v in allowance.items()
        ):
            raise ValueError(what)
        table[str(key)] = {str(f): float(v) for f, v in allowance.items()}
    return table


def string_table(what: str, *, nonempty: bool = False) -> Callable[[object], Mapping[str, str]]:
    """TOML: a table of strings to strings (`what` names it in messages)."""

    def parse(value: object) -> Mapping[str, str]:
        if (
            not isinstance(value, dict)
            or (nonempty and not value)
            or not all(isinstance(k, str) and isinstance(v, str) and v for k, v in value.items())
        ):
            raise ValueError(what)
        return dict(value)

    return parse


def scalar_text(value: object) -> str:
    """A TOML scalar or list of scalars as the text its variable would hold."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return ",".join(str(v) for v in value)
    raise ValueError("a single value")
