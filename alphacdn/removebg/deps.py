"""The seam between the API surface and the rest of alphacdn: `RemoveBgDeps` and its values.

The wiring implements `RemoveBgDeps` with the real matte cache and job runner, so an image sent
here and to the CDN is matted once; tests implement it with a tiny deterministic cut-out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

#: credits charged per image, from the reference (`auto` resolves to one of these)
PREVIEW_CREDITS = 0.25
FULL_CREDITS = 1.0


@dataclass(frozen=True, slots=True)
class CutoutResult:
    """A cut-out at the source's full resolution (EXIF orientation applied).

    `png` is an 8-bit RGBA PNG whose RGB is the (edge-corrected) foreground colour, as the matte
    maker and the matte cache hold it (`engine.cutout.compose` reads it); `type` is the requested
    or detected foreground type (`person product animal car graphic transportation other`).
    """

    png: bytes
    confidence: float
    type: str


@dataclass(frozen=True, slots=True)
class ApiKey:
    """One API key's allowance; balances live in the state dir, these are the starting values."""

    key: str
    #: starting credit balance (persisted and decremented from here on first use)
    credits: float = 50.0
    #: free preview calls per calendar month (charged 0 credits)
    free_calls: int = 50
    #: rate limit in megapixel-weighted images per minute
    rate_limit: int = 500


class RemoveBgDeps(Protocol):
    """What the removebg and tasks routes need from the application."""

    @property
    def state_dir(self) -> Path:
        """Where credits, rate windows and task files persist (shared by all worker processes;
        task records live on the app's job queue)."""
        ...

    @property
    def api_keys(self) -> Mapping[str, ApiKey]:
        """Known `X-Api-Key` values."""
        ...

    @property
    def allow_private_urls(self) -> bool:
        """Let webhooks reach loopback / private addresses (fetches go through `fetch`)."""
        ...

    @property
    def public_url(self) -> str | None:
        """The base of the URLs written into answers and webhooks (None: the server's bound
        address; never the request's Host header)."""
        ...

    async def cutout(self, image: bytes, *, fine_edges: bool, type: str) -> CutoutResult:
        """Matte the encoded image (cached by content); `type` is a ForegroundType value."""
        ...

    async def fetch(self, url: str, *, max_bytes: int) -> bytes:
        """Fetch a remote image safely (`alphacdn.net.fetch_url`); raise `net.FetchError`."""
        ...

    async def publish(self, name: str, data: bytes, media_type: str) -> str | None:
        """Store a task result where the CDN serves it and return its URL; None = serve it
        from `/v2/tasks/<id>/files/<name>` (the default)."""
        ...


__all__ = ["FULL_CREDITS", "PREVIEW_CREDITS", "ApiKey", "CutoutResult", "RemoveBgDeps"]
