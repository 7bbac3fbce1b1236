"""API errors as values with a status, answered as `{"errors":[{"title","code","detail"}]}`.

    ApiError (status from the instance)
    ├── bad_request(code, title, parameter)   400, names the parameter in `detail`
    ├── 402 insufficient_credits
    ├── 403 missing_api_key / invalid_api_key
    ├── 404 not_found
    ├── 413 / 400 limits (codes name the limit: `limit_file_22mb`, `limit_png_10mp`, …)
    └── 429 rate_limit_exceeded (+ Retry-After)

The shape follows the remove.bg reference: `title` is always there, `code` is a stable machine
name, `detail` says which parameter (or which limit) was at fault.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import JSONResponse


class ApiError(Exception):
    """One API error: HTTP status, stable code, human title, optional detail and headers."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(title)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.headers = dict(headers or {})

    def body(self) -> dict[str, list[dict[str, str]]]:
        item = {"title": self.title, "code": self.code}
        if self.detail:
            item["detail"] = self.detail
        return {"errors": [item]}

    def response(self, extra_headers: Mapping[str, str] | None = None) -> JSONResponse:
        return JSONResponse(
            self.body(), self.status, headers={**(extra_headers or {}), **self.headers}
        )


def bad_param(parameter: str, title: str, code: str = "invalid_parameter") -> ApiError:
    """400 naming the parameter: `detail` is `parameter: <name>`."""
    return ApiError(400, code, title, f"parameter: {parameter}")


def unknown_value(parameter: str, value: str, allowed: tuple[str, ...]) -> ApiError:
    shown = value if len(value) <= 40 else value[:37] + "..."
    return bad_param(
        parameter,
        f"Invalid value {shown!r} for {parameter}: expected one of {', '.join(allowed)}.",
        "unknown_value",
    )


def limit_error(code: str, title: str) -> ApiError:
    return ApiError(400, code, title, "limit")


__all__ = ["ApiError", "bad_param", "limit_error", "unknown_value"]
