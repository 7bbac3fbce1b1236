"""Errors are values with a status.

    CdnError (500)
    ├── InvalidTransformation (400)   a bad or unknown component: the public text names it
    ├── InvalidRequest (400)          a bad form field / query parameter
    ├── Unauthorized (401)            bad or missing signature, strict transformations
    ├── Forbidden (403)
    ├── NotFound (404)                no such asset / resource / layer
    ├── MethodNotAllowed (405)
    ├── PayloadTooLarge (413)         upload over the byte limit
    ├── UnsupportedImage (415)        not an image we decode
    ├── InvalidImage (422)            corrupt / truncated
    │   └── SourceTooLarge (400)      over a size limit, seen in the header before decoding
    ├── MatteInProgress (423)         carries Retry-After
    ├── TooManyRequests (429)
    ├── BadGateway (502)              a fetched source's server failed (5xx, refused, DNS)
    ├── ServiceUnavailable (503)      model missing, queue full (Retry-After)
    └── GatewayTimeout (504)          a fetched source's server did not answer in time

The delivery route turns any CdnError into `text/plain` with an `X-Cld-Error` header; the JSON
APIs turn it into `{"error": {"message": …}}`. `detail` goes to the logs only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Literal


class CdnError(Exception):
    status: ClassVar[int] = 500

    def __init__(
        self, public: str, *, detail: str = "", headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(public)
        self.public = public
        self.detail = detail
        self.headers: dict[str, str] = dict(headers or {})


class InvalidTransformation(CdnError):
    status = 400


class InvalidRequest(CdnError):
    status = 400


class Unauthorized(CdnError):
    status = 401


class Forbidden(CdnError):
    status = 403


class NotFound(CdnError):
    status = 404


class MethodNotAllowed(CdnError):
    status = 405


class PayloadTooLarge(CdnError):
    status = 413


class UnsupportedImage(CdnError):
    status = 415


class InvalidImage(CdnError):
    status = 422


class SourceTooLarge(InvalidImage):
    """A source whose header is over a size limit (side, area, frames × area): refused before
    any decoding. A client error about the request's image, so 400 as Cloudinary answers.
    `limit` says which limit: the area, a side, or the area of all frames."""

    status = 400

    def __init__(
        self, public: str, *, limit: Literal["pixels", "side", "frames"], detail: str = ""
    ) -> None:
        super().__init__(public, detail=detail)
        self.limit = limit


class MatteInProgress(CdnError):
    status = 423

    def __init__(self, public: str, *, retry_after: int, detail: str = "") -> None:
        super().__init__(public, detail=detail, headers={"Retry-After": str(max(1, retry_after))})
        self.retry_after = retry_after


class TooManyRequests(CdnError):
    status = 429


class BadGateway(CdnError):
    status = 502


class GatewayTimeout(CdnError):
    status = 504


class ServiceUnavailable(CdnError):
    status = 503

    def __init__(self, public: str, *, retry_after: int | None = None, detail: str = "") -> None:
        headers = {"Retry-After": str(max(1, retry_after))} if retry_after is not None else None
        super().__init__(public, detail=detail, headers=headers)
        self.retry_after = retry_after


__all__ = [
    "BadGateway",
    "CdnError",
    "Forbidden",
    "GatewayTimeout",
    "InvalidImage",
    "InvalidRequest",
    "InvalidTransformation",
    "MatteInProgress",
    "MethodNotAllowed",
    "NotFound",
    "PayloadTooLarge",
    "ServiceUnavailable",
    "SourceTooLarge",
    "TooManyRequests",
    "Unauthorized",
    "UnsupportedImage",
]
