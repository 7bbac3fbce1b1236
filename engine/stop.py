"""Stopping a render from outside its thread: a time limit, or nobody waiting for it any more.

A Python thread cannot be interrupted, but libvips can: an image marked with `set_kill(True)`
fails every region computed from it, so a running pipeline (a convolution, an encoder, an
attention crop) ends within one tile with a `pyvips.Error`. The render hands each image it
decodes or materialises to `RenderStop.watch`; `stop()` marks the most recent ones killed and
makes the render raise `RenderStopped` at its next step.
"""

from __future__ import annotations

import threading
import time
from collections import deque

import pyvips

#: images kept per render (the latest materialised ones: every later pipeline reads from one
#: of them; older ones are already evaluated). Bounded, so a long chain holds no extra memory.
_WATCHED = 4


class RenderStopped(Exception):
    """The render was stopped: `reason` is "timeout" or "abandoned"."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"render stopped ({reason})")
        self.reason = reason


class RenderStop:
    """Thread-safe stop switch of one render, with an optional deadline (monotonic seconds)."""

    def __init__(self, deadline: float | None = None) -> None:
        self._lock = threading.Lock()
        self._images: deque[pyvips.Image] = deque(maxlen=_WATCHED)
        self._deadline = deadline
        self.reason: str | None = None

    def watch(self, image: pyvips.Image) -> pyvips.Image:
        """Make `image` stoppable (killed at once if the render is already stopped)."""
        with self._lock:
            self._images.append(image)
            if self.reason is not None:
                image.set_kill(True)
        return image

    def stop(self, reason: str) -> None:
        """Ask the render to stop: running libvips work fails within a tile."""
        with self._lock:
            if self.reason is None:
                self.reason = reason
            for image in self._images:
                image.set_kill(True)

    def check(self) -> None:
        """Raise `RenderStopped` if stopped, or past the deadline (then stop first)."""
        late = self._deadline is not None and time.monotonic() > self._deadline
        if self.reason is None and late:
            self.stop("timeout")
        if self.reason is not None:
            raise RenderStopped(self.reason)

    def release(self) -> None:
        """Drop the watched images (the render is over)."""
        with self._lock:
            self._images.clear()


__all__ = ["RenderStop", "RenderStopped"]
