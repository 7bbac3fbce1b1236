"""Where the test session's S3 server answers (the `s3_server` fixture of conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class S3Server:
    """Where the session's S3 server answers, and the keys of its one user."""

    endpoint_url: str
    access_key: str
    secret_key: str
    region: str
    #: seconds a lifecycle "day" lasts there (None: a real day, on an external server)
    lc_day_seconds: float | None = None
