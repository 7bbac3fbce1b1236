"""`BackendUnavailable`: a shared engine (Redis today, S3 later) does not answer.

Every operation of a store backed by a network service raises this one type when the service
is down, unreachable, loading or read-only (a failover in progress), within a bounded time. The
wiring maps it to 503 with `Retry-After`; the same store object works again once the service is
back (no reconnect step, no new object).
"""

from __future__ import annotations

__all__ = ["BackendUnavailable"]


class BackendUnavailable(Exception):
    """`backend` ("redis", "s3" …) could not serve the operation; `retry_after` seconds is a
    fair wait before trying again."""

    def __init__(self, backend: str, detail: str, *, retry_after: float = 5.0) -> None:
        super().__init__(f"{backend} unavailable: {detail}")
        self.backend = backend
        self.detail = detail
        self.retry_after = retry_after
