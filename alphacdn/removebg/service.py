"""One background removal, from parsed params to encoded result: shared by the sync endpoint
and the task runner. An adapter: fetch → check the images (header, pixel limit, a cheap full
decode: every image error is a 400 before anything is charged) → size plan → rate → credits →
cut-out (deps) → `engine.cutout.compose` (worker thread) → charge."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import anyio
import anyio.to_thread

from alphacdn import engine
from alphacdn.engine.cutout import (
    Backdrop,
    Composed,
    CutoutShadow,
    CutoutSpec,
    NoSubject,
    RegionOutside,
    ShadowKind,
    compose,
    load_backdrop,
)
from alphacdn.engine.cutout_encode import PNG_MAX_PIXELS, CutoutError, CutoutFormat, PngTooLarge
from alphacdn.net import FetchError, FetchTooLarge, UnsafeUrl
from alphacdn.removebg.deps import FULL_CREDITS, PREVIEW_CREDITS, ApiKey, RemoveBgDeps
from alphacdn.removebg.errors import ApiError, bad_param, limit_error
from alphacdn.removebg.limits import Limits, image_weight
from alphacdn.removebg.params import (
    MAX_FILE_BYTES,
    Channels,
    OutputFormat,
    RemoveBgParams,
    ShadowType,
    Size,
    Source,
    TypeLevel,
)
from alphacdn.transform.errors import (
    InvalidImage,
    InvalidTransformation,
    SourceTooLarge,
    UnsupportedImage,
)

MAX_INPUT_PIXELS = 50_000_000
#: a side longer than this is refused too: 1 × 49,000,000 px is under 50 MP
MAX_INPUT_SIDE = engine.MAX_SIDE
_PREVIEW_PIXELS = 250_000
_CAPS = {Size.PREVIEW: _PREVIEW_PIXELS, Size.MEDIUM: 1_500_000, Size.HD: 4_000_000}
_HARD = {Size.FULL: (25_000_000, "limit_full_25mp"), Size.MP50: (50_000_000, "limit_50mp")}
_COARSE_TYPES = frozenset({"person", "product", "animal", "car"})
#: `shadow_type=auto` by detected type (others: drop), and the default opacity (others: 50)
_AUTO_SHADOW = {
    "car": ShadowType.CAR,
    "person": ShadowType.THREE_D,
    "transportation": ShadowType.THREE_D,
}
_DEFAULT_OPACITY = {"car": 90}
_PNG_LIMIT = (
    "limit_png_10mp",
    "PNG output is limited to 10 megapixels: use format=webp, zip or jpg, or a smaller size.",
)
_SOURCE_NAMES = {"file": "image_file", "b64": "image_file_b64", "url": "image_url"}
T = TypeVar("T")


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
        left, top, width, height = c.subject
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


def _invalid_image(parameter: str) -> ApiError:
    return bad_param(
        parameter,
        f"The image in {parameter} could not be read: send a JPG, PNG or WebP file.",
        "invalid_image",
    )


def _checked(parameter: str, read: Callable[[], T]) -> T:
    """`read()` with its image errors as the API's 400s naming `parameter`."""
    try:
        return read()
    except (UnsupportedImage, InvalidImage):
        raise _invalid_image(parameter) from None


def image_size(data: bytes, parameter: str) -> tuple[int, int]:
    """(width, height) after EXIF orientation, from the header only; 400 if unreadable."""
    info = _checked(parameter, lambda: engine.probe(data))
    return info.width, info.height


def _check_size(parameter: str, data: bytes) -> tuple[int, int]:
    """Upright (width, height) from the header; 400 unless within `MAX_INPUT_PIXELS` (all
    frames) and `MAX_INPUT_SIDE` a side: the engine's one size check, in the API's words."""
    info = _checked(parameter, lambda: engine.probe(data))
    try:
        engine.check_size(info, max_pixels=MAX_INPUT_PIXELS, max_side=MAX_INPUT_SIDE)
    except SourceTooLarge as exc:
        raise limit_error(
            "limit_input_side" if exc.limit == "side" else "limit_input_50mp",
            f"Input images are limited to 50 megapixels and {MAX_INPUT_SIDE} px a side: "
            f"the image in {parameter} is {info.width}x{info.height}"
            + (f" in {info.pages} frames." if exc.limit == "frames" else "."),
        ) from None
    return info.width, info.height


def check_source(data: bytes, parameter: str) -> tuple[int, int]:
    """The source's upright size, once its header and a cheap full decode (shrink-on-load) have
    passed: a truncated or corrupt file is a 400 now, not an error after charging."""
    size = _check_size(parameter, data)
    _checked(
        parameter,
        lambda: engine.load(
            data, max_pixels=MAX_INPUT_PIXELS, max_side=MAX_INPUT_SIDE, target=(64, 64)
        ),
    )
    return size


def check_backdrop(data: bytes, parameter: str) -> Backdrop:
    """The decoded backdrop; its header is checked against the pixel limit before decoding."""
    _check_size(parameter, data)
    return _checked(
        parameter,
        lambda: load_backdrop(data, max_pixels=MAX_INPUT_PIXELS, max_side=MAX_INPUT_SIDE),
    )


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
            raise limit_error(*_PNG_LIMIT)
    return SizePlan(False, FULL_CREDITS, MAX_INPUT_PIXELS)


def _shadow(params: RemoveBgParams, detected: str) -> CutoutShadow | None:
    """`shadow_type` (`auto` by the detected type) and `shadow_opacity` (default by type)."""
    kind = params.shadow_type
    if kind is ShadowType.AUTO:
        kind = _AUTO_SHADOW.get(detected, ShadowType.DROP)
    if kind is ShadowType.NONE:
        return None
    opacity = params.shadow_opacity
    if opacity is None:
        opacity = _DEFAULT_OPACITY.get(detected, 50)
    return CutoutShadow(ShadowKind.DROP if kind is ShadowType.DROP else ShadowKind.GROUND, opacity)


def cutout_spec(params: RemoveBgParams, detected: str, max_pixels: int) -> CutoutSpec:
    """The engine's composition for `params` on a cut-out of type `detected`."""
    return CutoutSpec(
        max_pixels=max_pixels,
        roi=params.roi,
        mask=params.mask,
        crop=params.crop,
        margin=params.crop_margin,
        scale=params.scale,
        position=params.position,
        shadow=_shadow(params, detected),
        background=params.bg_color,
        alpha_only=params.channels is Channels.ALPHA,
        format=CutoutFormat(params.format.value),
    )


def _api_error(exc: CutoutError) -> ApiError:
    """The API's 400 for a composition the engine refused."""
    if isinstance(exc, RegionOutside):
        return bad_param("roi", "Invalid roi: the region lies outside the image.", "invalid_roi")
    if isinstance(exc, NoSubject):
        return ApiError(
            400, "unknown_foreground", "Could not identify foreground in image.", "parameter: image"
        )
    if isinstance(exc, PngTooLarge):
        return limit_error(*_PNG_LIMIT)
    return ApiError(400, "invalid_parameter", str(exc))


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

    async def _in_thread(self, work: Callable[[], T]) -> T:
        return await anyio.to_thread.run_sync(work, limiter=self._threads)

    @staticmethod
    async def _store(work: Callable[[], T]) -> T:
        """A call to the shared counters, in a worker thread (not the pixel threads)."""
        return await anyio.to_thread.run_sync(work)

    async def run(self, params: RemoveBgParams, key: ApiKey, *, metered: bool = True) -> Outcome:
        """The full removal; `metered=False` skips rate counting (tasks count at creation)."""
        name = _SOURCE_NAMES[params.image.kind]
        image = await self.source_bytes(params.image, name)
        width, height = await self._in_thread(lambda: check_source(image, name))
        backdrop = None
        if params.bg_image is not None:
            bg_name = "bg_image_url" if params.bg_image.kind == "url" else "bg_image_file"
            bg_bytes = await self.source_bytes(params.bg_image, bg_name)
            backdrop = await self._in_thread(lambda: check_backdrop(bg_bytes, bg_name))
        # the counters may be remote (Redis): every look at them runs off the event loop
        can_pay = await self._store(lambda: self.limits.can_pay(key, FULL_CREDITS, preview=False))
        plan = plan_size(params, width, height, can_pay)
        weight = image_weight(width, height)
        rate = await self._store(lambda: self.limits.consume(key, weight)) if metered else {}
        await self._store(lambda: self.limits.require(key, plan.cost, preview=plan.preview))
        try:
            cut = await self.deps.cutout(
                image, fine_edges=params.fine_edges, type=params.type.value
            )
        except (UnsupportedImage, InvalidImage):  # what the cheap check let through
            raise _invalid_image(name) from None
        spec = cutout_spec(params, cut.type, plan.max_pixels)
        try:
            composed = await self._in_thread(lambda: compose(cut.png, spec, backdrop))
        except CutoutError as exc:
            raise _api_error(exc) from None
        except InvalidTransformation as exc:  # e.g. an output side the format cannot hold
            raise ApiError(400, "invalid_parameter", exc.public) from None
        if params.size in _HARD and composed.width * composed.height > _HARD[params.size][0]:
            hard, code = _HARD[params.size]
            raise limit_error(
                code,
                f"size={params.size.value} is limited to {hard // 1_000_000} megapixels of output.",
            )
        credits = await self._store(
            lambda: self.limits.charge(key, plan.cost, preview=plan.preview)
        )
        shown: str | None = cut.type
        if params.type_level is TypeLevel.NONE:
            shown = None
        elif params.type_level is TypeLevel.COARSE and cut.type not in _COARSE_TYPES:
            shown = "other"
        return Outcome(composed, credits, shown, cut.confidence, rate)


__all__ = [
    "MAX_INPUT_PIXELS",
    "MAX_INPUT_SIDE",
    "Outcome",
    "RemoveBg",
    "SizePlan",
    "check_backdrop",
    "check_source",
    "cutout_spec",
    "image_size",
    "plan_size",
]
