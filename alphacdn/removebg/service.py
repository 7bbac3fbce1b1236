"""One background removal, from parsed params to encoded result: shared by the sync endpoint
and the task runner. Order: fetch/decode header → input limits → size plan → rate → credits →
cut-out (deps) → compose (worker thread) → charge."""

from __future__ import annotations

from dataclasses import dataclass

import anyio
import anyio.to_thread
import pyvips

from alphacdn.net import FetchError, FetchTooLarge, UnsafeUrl
from alphacdn.removebg.compose import PNG_MAX_PIXELS, Composed, compose
from alphacdn.removebg.deps import FULL_CREDITS, PREVIEW_CREDITS, ApiKey, RemoveBgDeps
from alphacdn.removebg.errors import bad_param, limit_error
from alphacdn.removebg.limits import Limits, image_weight
from alphacdn.removebg.params import (
    MAX_FILE_BYTES,
    OutputFormat,
    RemoveBgParams,
    Size,
    Source,
    TypeLevel,
)

MAX_INPUT_PIXELS = 50_000_000
_PREVIEW_PIXELS = 250_000
_CAPS = {Size.PREVIEW: _PREVIEW_PIXELS, Size.MEDIUM: 1_500_000, Size.HD: 4_000_000}
_HARD = {Size.FULL: (25_000_000, "limit_full_25mp"), Size.MP50: (50_000_000, "limit_50mp")}
_COARSE_TYPES = frozenset({"person", "product", "animal", "car"})


@dataclass(frozen=True, slots=True)
class SizePlan:
    preview: bool
    cost: float
    max_pixels: int


@dataclass(frozen=True, slots=True)
class Outcome:
    composed: Composed
    credits: float
    type: str | None  # None when type_level=none
    confidence: float
    rate_headers: dict[str, str]

    def headers(self) -> dict[str, str]:
        c = self.composed
        top, left, width, height = c.foreground
        out = {
            "X-Width": str(c.width),
            "X-Height": str(c.height),
            "X-Foreground-Top": str(top),
            "X-Foreground-Left": str(left),
            "X-Foreground-Width": str(width),
            "X-Foreground-Height": str(height),
            "X-Credits-Charged": f"{self.credits:g}",
            **self.rate_headers,
        }
        if self.type is not None:
            out["X-Type"] = self.type
        return out


def image_size(data: bytes, parameter: str) -> tuple[int, int]:
    """(width, height) after EXIF orientation, from the header only; 400 if unreadable."""
    try:
        image = pyvips.Image.new_from_buffer(data, "", access="sequential")
    except pyvips.Error:
        raise bad_param(
            parameter,
            f"The image in {parameter} could not be read: send a JPG, PNG or WebP file.",
            "invalid_image",
        ) from None
    width, height = int(image.width), int(image.height)
    if image.get_typeof("orientation") and int(image.get("orientation")) in (5, 6, 7, 8):
        width, height = height, width
    return width, height


def plan_size(params: RemoveBgParams, width: int, height: int, can_pay_full: bool) -> SizePlan:
    """Resize cap and price for `size`; 400 naming the limit when `full`/`50MP` exceed it."""
    size, pixels = params.size, width * height
    if size is Size.AUTO:
        if pixels <= _PREVIEW_PIXELS or not can_pay_full:
            return SizePlan(True, PREVIEW_CREDITS, _PREVIEW_PIXELS)
        png = params.format in (OutputFormat.PNG, OutputFormat.AUTO)
        return SizePlan(False, FULL_CREDITS, PNG_MAX_PIXELS if png else 25_000_000)
    if size in _CAPS:
        return SizePlan(
            size is Size.PREVIEW,
            PREVIEW_CREDITS if size is Size.PREVIEW else FULL_CREDITS,
            _CAPS[size],
        )
    hard, code = _HARD[size]
    if not params.crop:  # cropping can only shrink the output; checked again after compose
        if pixels > hard:
            raise limit_error(
                code, f"size={size.value} is limited to {hard // 1_000_000} megapixels of output."
            )
        if params.format is OutputFormat.PNG and pixels > PNG_MAX_PIXELS:
            raise limit_error(
                "limit_png_10mp",
                "PNG output is limited to 10 megapixels: use "
                "format=webp, zip or jpg, or a smaller size.",
            )
    return SizePlan(False, FULL_CREDITS, MAX_INPUT_PIXELS)


class RemoveBg:
    """Runs removals for the routes and the task runner."""

    def __init__(self, deps: RemoveBgDeps, limits: Limits, threads: int = 2) -> None:
        self.deps = deps
        self.limits = limits
        self._threads = anyio.CapacityLimiter(threads)

    async def source_bytes(self, source: Source, parameter: str) -> bytes:
        if source.kind != "url":
            return source.data
        try:
            return await self.deps.fetch(source.url, max_bytes=MAX_FILE_BYTES)
        except FetchTooLarge:
            raise limit_error(
                "limit_file_22mb", f"The file at {parameter} is larger than 22 MB."
            ) from None
        except UnsafeUrl as exc:
            raise bad_param(parameter, f"Invalid {parameter}: {exc}", "invalid_url") from None
        except FetchError as exc:
            raise bad_param(
                parameter,
                f"Failed to download the image at {parameter}: {exc}",
                "failed_to_download",
            ) from None

    async def run(self, params: RemoveBgParams, key: ApiKey, *, metered: bool = True) -> Outcome:
        """The full removal; `metered=False` skips rate counting (tasks count at creation)."""
        name = {"file": "image_file", "b64": "image_file_b64", "url": "image_url"}
        image = await self.source_bytes(params.image, name[params.image.kind])
        width, height = image_size(image, name[params.image.kind])
        if width * height > MAX_INPUT_PIXELS:
            raise limit_error("limit_input_50mp", "Input images are limited to 50 megapixels.")
        plan = plan_size(
            params, width, height, self.limits.can_pay(key, FULL_CREDITS, preview=False)
        )
        rate = self.limits.consume(key, image_weight(width, height)) if metered else {}
        self.limits.require(key, plan.cost, preview=plan.preview)
        bg = None
        if params.bg_image is not None:
            bg_name = "bg_image_url" if params.bg_image.kind == "url" else "bg_image_file"
            bg_bytes = await self.source_bytes(params.bg_image, bg_name)
            image_size(bg_bytes, bg_name)
            bg = pyvips.Image.new_from_buffer(bg_bytes, "").autorot()
        cut = await self.deps.cutout(image, fine_edges=params.fine_edges, type=params.type.value)
        composed = await anyio.to_thread.run_sync(
            lambda: compose(
                cut.rgba, params, detected_type=cut.type, max_pixels=plan.max_pixels, bg_image=bg
            ),
            limiter=self._threads,
        )
        if params.size in _HARD and composed.width * composed.height > _HARD[params.size][0]:
            hard, code = _HARD[params.size]
            raise limit_error(
                code,
                f"size={params.size.value} is limited to {hard // 1_000_000} megapixels of output.",
            )
        credits = self.limits.charge(key, plan.cost, preview=plan.preview)
        shown: str | None = cut.type
        if params.type_level is TypeLevel.NONE:
            shown = None
        elif params.type_level is TypeLevel.COARSE and cut.type not in _COARSE_TYPES:
            shown = "other"
        return Outcome(composed, credits, shown, cut.confidence, rate)


__all__ = ["MAX_INPUT_PIXELS", "Outcome", "RemoveBg", "SizePlan", "image_size", "plan_size"]
