"""Process-wide libvips limits, set once by the wiring at startup."""

from __future__ import annotations

import pyvips


def configure(vips_concurrency: int, vips_cache_mb: int) -> None:
    """Set libvips worker threads per operation and the operation cache size (0 = off)."""
    pyvips.concurrency_set(max(1, vips_concurrency))
    if vips_cache_mb <= 0:
        pyvips.cache_set_max(0)
        pyvips.cache_set_max_mem(0)
    else:
        pyvips.cache_set_max_mem(vips_cache_mb * 1024 * 1024)
    # the cache holds no file descriptors for us: sources arrive as bytes
    pyvips.cache_set_max_files(0)


__all__ = ["configure"]
