"""`MatteTooLarge`: a cut-out the matte cache refuses, with the numbers and the setting to raise."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from alphacdn.settings import CACHE_SIZE
from alphacdn.transform.errors import InvalidImage


def _size_text(n: float, *, round_up: bool = False) -> str:
    """`61.2 KB`, `1.3 GB` (binary units, as ALPHACDN_* sizes are read); `round_up` never
    shows less than `n`."""
    if n < 1024:
        return f"{math.ceil(n)} B"
    units = ["KB", "MB", "GB", "TB"]
    n /= 1024
    while n >= 1024 and len(units) > 1:
        n /= 1024
        units.pop(0)
    return f"{(math.ceil(n * 10) / 10 if round_up else n):.1f} {units[0]}"


class MatteTooLarge(InvalidImage):
    """A cut-out the matte cache refuses (over its per-entry limit). Fatal for a delivery job,
    whose only product is the cached matte; the remove.bg API and upload-time removal use the
    PNG directly and only lose the cache. `job_result` records the sizes with the failed job, so
    a later request can run it again once the cache accepts the matte."""

    def __init__(self, png_bytes: int, limit: int | None, cache_size: int) -> None:
        name = CACHE_SIZE.name
        accepts = needed = ""
        if limit is not None and limit > 0:
            ratio = cache_size / limit
            share = f"1/{round(ratio)}" if abs(ratio - round(ratio)) < 0.01 else f"{1 / ratio:.2%}"
            accepts = f" ({_size_text(limit)}, {share} of {name} = {_size_text(cache_size)})"
            # a little over the exact figure: the cache rounds its shares down to whole bytes
            needed = f" to at least {_size_text(png_bytes * ratio * 1.01, round_up=True)}"
        super().__init__(
            f"cut-out PNG is {_size_text(png_bytes)}, larger than the matte cache accepts per "
            f"entry{accepts}; raise {name}{needed}"
        )
        self.job_result: dict[str, Any] = {"matte_bytes": png_bytes, "matte_limit": limit}

    @staticmethod
    def fits_now(result: Mapping[str, Any] | None, limit: int | None) -> bool:
        """True when `result` is a failed job's record of a refused matte and the cache's
        per-entry `limit` now accepts that matte (the operator raised the cache size)."""
        size = (result or {}).get("matte_bytes")
        return isinstance(size, int) and (limit is None or size <= limit)


__all__ = ["MatteTooLarge"]
