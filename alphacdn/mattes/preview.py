"""Instant preview cut-outs (`ALPHACDN_MATTE_PREVIEW`): what a delivery request gets instead of
a 423 when the real matte would take longer than `ALPHACDN_MATTE_WAIT`.

A preview is the small model's cut-out (`MatteModels.preview`), made in the request's own path
at most once at a time per content in this process, and kept in a small in-memory LRU so the
responsive widths of one product share it. It never reaches the matte or derived cache: the
delivery flow renders the plan on it and answers `Cache-Control: no-store` with
`X-Alphacdn-Preview: <model>`, so neither a browser nor a CDN in front keeps it, and the next
view gets the real cut-out.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

import anyio
import anyio.to_thread

from alphacdn import engine
from alphacdn.models.matting import MATTE_MAX_PIXELS, MatteModels

#: the response header that marks a preview (its value: the model that made it)
PREVIEW_HEADER = "X-Alphacdn-Preview"
#: the small model sees a copy at most this long (its input is 320²); the cut-out is refined
#: there and scaled up to the matte's size
PREVIEW_SIDE = 640
#: previews kept per process (a product's responsive widths share one)
_KEPT = 32
#: weight of the newest preview in the moving average of a preview's seconds
_EMA_WEIGHT = 0.3


class Previews:
    """Preview cut-outs of one small model: one run at a time per process, a bounded wait."""

    def __init__(
        self,
        models: MatteModels,
        model: str,
        *,
        max_source_pixels: int,
        max_source_side: int,
        waiting_max: int,
    ) -> None:
        """`waiting_max`: previews that may wait for the run in progress; beyond, None (the
        caller answers its 423)."""
        self.models = models
        self.model = model
        self.max_source_pixels = max_source_pixels
        self.max_source_side = max_source_side
        self.waiting_max = waiting_max
        self._slot = anyio.CapacityLimiter(1)
        self._kept: OrderedDict[str, bytes] = OrderedDict()
        self._flying: dict[str, anyio.Event] = {}
        #: previews made by this process (exposed in /metrics)
        self.made = 0
        #: moving average of a preview's seconds (decode, model, refinement, encode)
        self._seconds: float | None = None

    def eta(self, etag: str) -> float:
        """Seconds until a preview of `etag` would be ready if asked now: 0 when one is kept,
        else one preview's measured seconds for it and for each one running or waiting."""
        if etag in self._kept:
            return 0.0
        each = self._seconds
        if each is None:  # nothing measured yet: the model's own figure, plus the rest
            each = self.models.estimated_seconds(self.model) + 0.2
        stats = self._slot.statistics()
        ahead = stats.borrowed_tokens + stats.tasks_waiting
        return each * (ahead + 1)

    def missing_message(self) -> str | None:
        """None if the preview model is installed, else the message naming the install
        command."""
        return self.models.missing_message(self.model)

    async def make(self, etag: str, read: Callable[[], bytes]) -> bytes | None:
        """The preview cut-out PNG of the content `etag` (`read`: its bytes, blocking), or
        None when the model is missing or too many previews already wait."""
        while True:
            kept = self._kept.get(etag)
            if kept is not None:
                self._kept.move_to_end(etag)
                return kept
            flying = self._flying.get(etag)
            if flying is None:
                break
            await flying.wait()  # made by another request meanwhile (or failed: try again)
        if self.missing_message() is not None:
            return None
        if self._slot.statistics().tasks_waiting >= self.waiting_max:
            return None
        done = self._flying[etag] = anyio.Event()
        try:
            async with self._slot:
                t0 = time.perf_counter()
                png = await anyio.to_thread.run_sync(lambda: self._run(read()))
                took = time.perf_counter() - t0
        finally:
            del self._flying[etag]
            done.set()
        prev = self._seconds
        self._seconds = took if prev is None else prev + _EMA_WEIGHT * (took - prev)
        self.made += 1
        self._kept[etag] = png
        while len(self._kept) > _KEPT:
            self._kept.popitem(last=False)
        return png

    def _run(self, source: bytes) -> bytes:
        picture = engine.Picture(
            source,
            max_pixels=self.max_source_pixels,
            max_side=self.max_source_side,
            fit_pixels=MATTE_MAX_PIXELS,
        )
        return self.models.preview(picture, self.model, PREVIEW_SIDE)


__all__ = ["PREVIEW_HEADER", "Previews"]
