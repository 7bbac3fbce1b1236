"""Logs: one configuration for the server's loggers, text (default) or JSON lines, and the
request id every line written while a request is handled carries.

- `request_id_of(headers)`: the client's `X-Request-Id` if it is sane (1–128 characters of
  `A-Za-z0-9` and `-_.:+=/@`), else a new one (`<random per process>-<counter>`: unique across
  a fleet without a system call per request). `metrics.Observe` sets `REQUEST_ID` for the
  request's task and echoes the id as the `X-Request-Id` response header.
- `log_config(format, level)`: the `logging.config.dictConfig` dict handed to uvicorn (it applies
  it in every worker process it starts): uvicorn's own loggers, `alphacdn.*` and the root, with
  `RequestIdFilter` on every handler. `ALPHACDN_LOG_FORMAT=json` writes one JSON object per line
  (`ts`, `level`, `logger`, `message`, `request_id`, and for access lines `client`, `method`,
  `path`, `status`; `exc` for a traceback); `text` writes uvicorn's lines with ` rid=<id>`.
"""

from __future__ import annotations

import contextvars
import itertools
import json
import logging
import re
import secrets
import time
from collections.abc import Iterable
from typing import Any

#: the id of the request being handled (None outside a request)
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "alphacdn_request_id", default=None
)

FORMATS = ("text", "json")

_SANE = re.compile(rb"[A-Za-z0-9\-_.:+=/@]{1,128}")
_PREFIX = secrets.token_hex(6)
_COUNTER = itertools.count(1)


def new_request_id() -> str:
    """A new request id, unique across processes (a random prefix per process + a counter)."""
    return f"{_PREFIX}-{next(_COUNTER):x}"


def request_id_of(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The request's `X-Request-Id` if it is sane, else a new id."""
    for name, value in headers:
        if name == b"x-request-id":
            if _SANE.fullmatch(value):
                return value.decode("ascii")
            break
    return new_request_id()


class RequestIdFilter(logging.Filter):
    """Puts `request_id` (the current request's id, or "-") on every record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line (no newline inside: a traceback is one escaped string)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": _timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        rid = getattr(record, "request_id", None) or REQUEST_ID.get()
        if rid and rid != "-":
            out["request_id"] = rid
        args = record.args
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
            client, method, path, http_version, status = args
            out.update(
                message=f"{method} {path} HTTP/{http_version} {status}",
                client=client,
                method=method,
                path=path,
                status=status,
            )
        else:
            out["message"] = record.getMessage()
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exc"] = record.exc_text
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`LEVEL logger: message`, and ` [rid=<id>]` for a line written while a request is handled."""

    def __init__(self) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        text = super().formatMessage(record)
        rid = getattr(record, "request_id", None)
        return text if rid in (None, "-") else f"{text} [rid={rid}]"


def _timestamp(created: float) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{seconds}.{int(created % 1 * 1000):03d}Z"


def log_config(fmt: str, level: str = "info") -> dict[str, Any]:
    """The `dictConfig` of every logger of the server (uvicorn's, `alphacdn.*`, the root)."""
    if fmt not in FORMATS:
        raise ValueError(f"log format {fmt!r} is not one of {', '.join(FORMATS)}")
    filters = {"request_id": {"()": "alphacdn.logs.RequestIdFilter"}}
    if fmt == "json":
        formatters: dict[str, Any] = {
            "default": {"()": "alphacdn.logs.JsonFormatter"},
            "access": {"()": "alphacdn.logs.JsonFormatter"},
            "app": {"()": "alphacdn.logs.JsonFormatter"},
        }
    else:
        formatters = {
            "default": {
                "()": "uvicorn.logging.DefaultFormatter",
                "fmt": "%(levelprefix)s %(message)s",
            },
            "access": {
                "()": "uvicorn.logging.AccessFormatter",
                "fmt": '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s '
                "rid=%(request_id)s",
            },
            "app": {"()": "alphacdn.logs.TextFormatter"},
        }
    stream = "ext://sys.stderr"

    def handler(formatter: str, out: str = stream) -> dict[str, Any]:
        return {
            "class": "logging.StreamHandler",
            "formatter": formatter,
            "stream": out,
            "filters": ["request_id"],
        }

    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": filters,
        "formatters": formatters,
        "handlers": {
            "default": handler("default"),
            "access": handler("access", "ext://sys.stdout"),
            "app": handler("app"),
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": level.upper(), "propagate": False},
            "uvicorn.error": {"level": level.upper()},
            "uvicorn.access": {"handlers": ["access"], "level": level.upper(), "propagate": False},
            # libvips narrates every operation at info: its warnings and errors are enough
            "pyvips": {"level": level.upper() if level in ("debug", "trace") else "WARNING"},
        },
        "root": {"handlers": ["app"], "level": level.upper()},
    }


__all__ = [
    "FORMATS",
    "REQUEST_ID",
    "JsonFormatter",
    "RequestIdFilter",
    "TextFormatter",
    "log_config",
    "new_request_id",
    "request_id_of",
]
