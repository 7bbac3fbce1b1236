"""API keys, credit balances and megapixel-weighted rate limits, on shared counters.

The counters (`cache.Counters`: rate windows, free calls, balances) live under
`<state_dir>/removebg-limits` (or in Redis for a fleet, `ALPHACDN_REDIS_URL`), so every process
shares them, and each check-and-add is atomic across processes. They are never evicted.

Rate limit (reference): a key may process `rate_limit` (default 500) megapixel-weighted images
per fixed one-minute window; an image weighs `max(1, ceil(megapixels))`, so ≤1 MP → 500/min,
2 MP → 250, 4 MP → 125, 10 MP → 50, 25 MP → 20, 50 MP → 10. Credits: 0.25 per preview, 1 per
larger size; free calls (monthly) pay for previews first.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from alphacdn.cache import Counters, DiskCounters
from alphacdn.removebg.deps import ApiKey
from alphacdn.removebg.errors import ApiError

WINDOW_SECONDS = 60


def image_weight(width: int, height: int) -> int:
    """Rate-limit weight of one input image: its megapixels rounded up, at least 1."""
    return max(1, math.ceil(width * height / 1_000_000 - 1e-9))


class Limits:
    """Authentication, credits and rate windows for a set of keys."""

    def __init__(
        self,
        state_dir: Path,
        keys: Mapping[str, ApiKey],
        clock: Callable[[], float] = time.time,
        window_seconds: int = WINDOW_SECONDS,
        counters: Counters | None = None,
    ) -> None:
        """`counters`: the shared counters (default: a diskcache under `state_dir`)."""
        self._keys = keys
        self._window_seconds = window_seconds
        self._clock = clock
        self._counters: Counters = counters or DiskCounters(state_dir / "removebg-limits")

    def close(self) -> None:
        self._counters.close()

    def authenticate(self, key: str | None) -> ApiKey:
        """The key's allowance, or 403."""
        if not key:
            raise ApiError(
                403,
                "missing_api_key",
                "Missing API Key",
                "Send your API key in the X-Api-Key header.",
            )
        found = self._keys.get(key)
        if found is None:
            raise ApiError(403, "invalid_api_key", "Invalid API Key")
        return found

    # rate limit -------------------------------------------------------------------------

    def _window(self) -> tuple[int, float]:
        now = self._clock()
        window = int(now // self._window_seconds)
        return window, now

    def _headers(self, key: ApiKey, used: int, window: int) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(key.rate_limit),
            "X-RateLimit-Remaining": str(max(0, key.rate_limit - used)),
            "X-RateLimit-Reset": str((window + 1) * self._window_seconds),
        }

    def _exceeded(self, key: ApiKey, used: int, window: int, now: float) -> ApiError:
        retry = max(1, math.ceil((window + 1) * self._window_seconds - now))
        headers = {**self._headers(key, used, window), "Retry-After": str(retry)}
        return ApiError(
            429, "rate_limit_exceeded", "Rate limit exceeded", f"Retry after {retry} s.", headers
        )

    def rate_headers(self, key: ApiKey) -> dict[str, str]:
        """The current window's `X-RateLimit-*` headers; 429 if nothing is left."""
        window, now = self._window()
        used = int(self._counters.value(f"rate:{key.key}:{window}"))
        if used >= key.rate_limit:
            raise self._exceeded(key, used, window, now)
        return self._headers(key, used, window)

    def consume(self, key: ApiKey, weight: int) -> dict[str, str]:
        """Count `weight` against this window, or 429 (a lone heavy image always passes)."""
        window, now = self._window()
        added, used = self._counters.add_within(
            f"rate:{key.key}:{window}",
            weight,
            limit=key.rate_limit,
            expire=2 * self._window_seconds,
            first_always=True,
        )
        if not added:
            raise self._exceeded(key, int(used), window, now)
        return self._headers(key, int(used), window)

    # credits ----------------------------------------------------------------------------

    def _month(self) -> str:
        return time.strftime("%Y-%m", time.gmtime(self._clock()))

    def balance(self, key: ApiKey) -> float:
        return self._counters.value(f"credits:{key.key}", key.credits)

    def free_calls_left(self, key: ApiKey) -> int:
        used = int(self._counters.value(f"free:{key.key}:{self._month()}"))
        return max(0, key.free_calls - used)

    def can_pay(self, key: ApiKey, cost: float, *, preview: bool) -> bool:
        return (preview and self.free_calls_left(key) > 0) or self.balance(key) >= cost

    def require(self, key: ApiKey, cost: float, *, preview: bool) -> None:
        """402 unless the key can pay `cost` (or has a free call for a preview)."""
        if not self.can_pay(key, cost, preview=preview):
            raise ApiError(
                402,
                "insufficient_credits",
                "Insufficient credits",
                f"This call needs {cost:g} credits.",
            )

    def charge(self, key: ApiKey, cost: float, *, preview: bool) -> float:
        """Take a free call (previews) or `cost` credits; return the credits charged."""
        if preview:
            free, _ = self._counters.add_within(
                f"free:{key.key}:{self._month()}", 1, limit=key.free_calls, expire=40 * 86400
            )
            if free:
                return 0.0
        self._counters.add_within(f"credits:{key.key}", -cost, default=key.credits)
        return cost

    def account(self, key: ApiKey) -> dict[str, Any]:
        """`GET /v1.0/account` body, in the reference's shape."""
        total = self.balance(key)
        return {
            "data": {
                "attributes": {
                    "credits": {"total": total, "subscription": 0, "payg": total, "enterprise": 0},
                    "api": {"free_calls": self.free_calls_left(key), "sizes": "all"},
                }
            }
        }


__all__ = ["WINDOW_SECONDS", "Limits", "image_weight"]
