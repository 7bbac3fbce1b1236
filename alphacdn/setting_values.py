"""Parsers for setting values, in the user's terms.

Each parser takes the raw text of one `ALPHACDN_*` variable (or a TOML value turned into text)
and returns a typed value, or raises `ValueError` whose message is what the value should have
been, as a noun phrase: `'2XB' is not` + `a size (e.g. 2GB, 500MB)`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from alphacdn.presets import preset_settings
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


def optional_text(raw: str) -> str:
    """A text, or "" for `off` / `none` / `false` / `0` (the feature is off)."""
    value = text(raw)
    return "" if value.lower() in ("off", "none", "false", "0", "no") else value


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


_HOST = re.compile(r"(\*\.)?[a-z0-9]([a-z0-9-]{0,62})(\.[a-z0-9]([a-z0-9-]{0,62}))*")


def domains(raw: str) -> tuple[str, ...]:
    """`images.example.com,*.cdn.example.com,203.0.113.7` (lower-cased), or `*` for any host."""
    what = (
        "a comma-separated list of host names (`*.example.com` for its subdomains, an IP "
        "address, or `*` for any host)"
    )
    names = tuple(n.strip().lower() for n in raw.split(",") if n.strip())
    if not names:
        raise ValueError(what)
    for name in names:
        if name == "*" or _HOST.fullmatch(name):
            continue
        try:
            ipaddress.ip_address(name.strip("[]"))
        except ValueError:
            raise ValueError(what) from None
    return tuple(n.strip("[]") for n in names)


def fetch_seconds(raw: str) -> float:
    what = "a number of seconds from 0.1 to 300"
    value = _number(raw, what)
    if not 0.1 <= value <= 300:
        raise ValueError(what)
    return value


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


def store_url(raw: str) -> str:
    """`file:///path` (an absolute folder) or `s3://bucket[/prefix]`."""
    what = "file:///<absolute folder> or s3://<bucket>[/<prefix>]"
    value = text(raw)
    parts = urlsplit(value)
    if parts.query or parts.fragment:
        raise ValueError(what)
    if parts.scheme == "file" and parts.netloc in ("", "localhost") and parts.path.startswith("/"):
        return value
    if parts.scheme == "s3" and re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", parts.netloc):
        return value
    raise ValueError(what)


def endpoint_url(raw: str) -> str:
    """An http(s) endpoint URL (an S3-compatible server)."""
    value = text(raw).rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError("an http(s) URL (e.g. http://127.0.0.1:7480)")
    return value


def redis_url(raw: str) -> str:
    """`redis://[user:password@]host[:port][/db]`, `rediss://…` or `unix:///path`."""
    value = text(raw)
    parts = urlsplit(value)
    if (parts.scheme in ("redis", "rediss") and parts.hostname) or (
        parts.scheme == "unix" and parts.path.startswith("/")
    ):
        return value
    raise ValueError("a redis://host[:port][/db], rediss://… or unix:///path URL")


#: what ALPHACDN_ROLE accepts
ROLES = ("all", "web", "worker")


def role(raw: str) -> str:
    value = text(raw).lower()
    if value not in ROLES:
        raise ValueError("one of " + ", ".join(ROLES))
    return value


def names(raw: str) -> tuple[str, ...]:
    """A comma-separated list of names (onnxruntime execution providers …)."""
    found = tuple(n.strip() for n in raw.split(",") if n.strip())
    if not found or not all(re.fullmatch(r"[A-Za-z0-9_]+", n) for n in found):
        raise ValueError("a comma-separated list of names (e.g. CUDAExecutionProvider)")
    return found


_PRESET_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def upload_presets(value: object) -> Mapping[str, Mapping[str, Any]]:
    """TOML: a table of preset name = table of its settings (`unsigned`, `folder`, `tags`, …);
    each becomes {"unsigned": bool, "settings": {…}} (see `alphacdn.presets`)."""
    what = "a table of upload presets, each a table of settings"
    if not isinstance(value, dict) or not all(isinstance(p, dict) for p in value.values()):
        raise ValueError(what)
    presets: dict[str, Mapping[str, Any]] = {}
    for name, table in value.items():
        if not _PRESET_NAME.fullmatch(name):
            raise ValueError(f"{what} ({name!r} is not a preset name: letters, digits, _ -)")
        try:
            unsigned, settings = preset_settings(table)
        except ValueError as exc:
            raise ValueError(f"{what} (preset {name}: {exc})") from None
        presets[name] = {"unsigned": unsigned, "settings": settings}
    return presets


def origins(raw: str) -> tuple[str, ...]:
    """`*`, or comma-separated origins `scheme://host[:port]` (no path)."""
    what = "`*` or comma-separated origins such as https://shop.example.com,http://localhost:5173"
    found = tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
    if not found:
        raise ValueError(what)
    for origin in found:
        if origin == "*":
            continue
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path:
            raise ValueError(what)
    return ("*",) if "*" in found else found


def scalar_text(value: object) -> str:
    """A TOML scalar or list of scalars as the text its variable would hold."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return ",".join(str(v) for v in value)
    raise ValueError("a single value")
