"""One render: source bytes + Plan → encoded bytes, in one direction.

probe header (size limits) → choose the format → load (shrinking on load for a leading resize)
→ apply each step through the registry → encode. An animated source delivered as an animation
runs the steps on each frame and joins them (see `engine.frames`). A `RenderStop` handed in can
end it from another thread (a time limit, a client gone): see `engine.stop`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pyvips

from alphacdn.transform.dynamic import NO_HINTS, ClientHints
from alphacdn.transform.expressions import Env
from alphacdn.transform.plan import Plan
from alphacdn.transform.steps import BackgroundRemoval, Resize, Step
from alphacdn.transform.values import FACE_GRAVITIES, Flag, Format

from . import accessibility, effects, geometry, getinfo, masks, outline, shadows, vectorize  # noqa: F401
from .chain import run_components
from .encode import (
    ALPHA_FORMATS,
    CONTENT_TYPES,
    WEB_FORMATS,
    encode,
    negotiate_animated,
    negotiate_format,
    uses_alpha,
)
from .faces import FaceTrack
from .frames import frame_height, frame_range, is_animation, join_frames, load_frames
from .load import MAX_SIDE, SourceInfo, load, probe_checked
from .registry import Context, applies
from .resize import plan_box, resolve
from .stop import RenderStop, RenderStopped

#: a face box as fractions (x1, y1, x2, y2) of the upright source
FaceBox = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class Rendered:
    """An encoded derived image. `negotiated`: the format came from `Accept` (send
    `Vary: Accept`); `attachment`: `fl_attachment` asked for a download."""

    body: bytes
    format: Format
    content_type: str
    width: int
    height: int
    negotiated: bool
    attachment: bool = False


@applies(BackgroundRemoval)
def apply_background_removal(image: pyvips.Image, step: BackgroundRemoval, ctx: Context) -> None:
    """`e_background_removal`: done by the wiring, which renders `plan.after_removal()`."""
    raise RuntimeError("render() got a plan with background removal; pass plan.after_removal()")


def _requested(plan: Plan, default_format: Format | None, info: SourceInfo) -> Format | None:
    """The asked-for format; AUTO for negotiation; None: JPEG or PNG depending on alpha."""
    fmt = plan.output.format or default_format
    if fmt is None:
        fmt = WEB_FORMATS.get(info.format)
    return fmt


def _shrink_on_load(
    steps: list[Step], info: SourceInfo
) -> tuple[tuple[int, int] | None, list[Step]]:
    """For a leading resize: the size to decode at, and the steps with that resize resolved
    against the source (relative lengths must refer to the source, not the shrunk image)."""
    if not steps or not isinstance(steps[0], Resize):
        return None, steps
    if steps[0].gravity in FACE_GRAVITIES:  # framed on the face: sizes depend on where it is
        return None, steps
    resolved = resolve(steps[0], info.width, info.height)
    box = plan_box(resolved, info.width, info.height)
    return box.scaled, [resolved, *steps[1:]]


def _first_steps(plan: Plan) -> list[Step]:
    return list(plan.components[0].steps) if plan.components else []


def render(
    source: bytes,
    plan: Plan,
    *,
    accept: str = "",
    default_format: Format | None = None,
    max_pixels: int,
    max_side: int = MAX_SIDE,
    load_asset: Callable[[str], bytes] | None = None,
    stop: RenderStop | None = None,
    hints: ClientHints = NO_HINTS,
    faces: Sequence[FaceBox] | None = None,
) -> Rendered:
    """Decode `source`, apply the plan's steps in order and encode the result. With `stop`,
    raise `RenderStopped` once it is stopped (libvips work under way is killed). `hints`: the
    request's client hints for `w_auto`/`dpr_auto` (resolved by the caller, part of its key).
    `faces`: the faces the wiring found in the source, as fractions (x1, y1, x2, y2) of its
    upright size (None: not looked for; face steps then fall back as with no face)."""
    args = (source, plan, accept, default_format, max_pixels, max_side, load_asset)
    if stop is None:
        return _render(*args, None, hints, faces)
    try:
        stop.check()
        return _render(*args, stop, hints, faces)
    except RenderStopped:
        raise
    except Exception as exc:
        # a killed pipeline fails as whatever error its step raises (pyvips.Error, or the
        # InvalidImage a loader makes of it): it is the stop that ended it
        if stop.reason is not None:
            raise RenderStopped(stop.reason) from exc
        raise
    finally:
        stop.release()


def _render(
    source: bytes,
    plan: Plan,
    accept: str,
    default_format: Format | None,
    max_pixels: int,
    max_side: int,
    load_asset: Callable[[str], bytes] | None,
    stop: RenderStop | None,
    hints: ClientHints = NO_HINTS,
    faces: Sequence[FaceBox] | None = None,
) -> Rendered:
    def watch(image: pyvips.Image) -> pyvips.Image:
        if stop is None:
            return image
        stop.check()
        return stop.watch(image)

    info = probe_checked(source, max_pixels=max_pixels, max_side=max_side)
    fmt = _requested(plan, default_format, info)
    negotiated = fmt is Format.AUTO
    frames = frame_range(info.pages, plan.output)
    animation = is_animation(info.format, frames, fmt)
    if fmt is Format.AUTO and animation:
        fmt = negotiate_animated(accept)
    elif fmt is Format.AUTO:
        fmt = negotiate_format(accept, has_alpha=True)
        # without AVIF/WebP support f_auto picks JPEG or PNG after the steps, by alpha
        fmt = fmt if fmt in (Format.AVIF, Format.WEBP) else None
    info_wanted = Flag.GETINFO in plan.output.flags
    first = _first_steps(plan)
    if animation:
        source_frames = load_frames(source, frames)
        image = watch(source_frames.frame(0))
    else:
        target, first = _shrink_on_load(first, info)
        image = watch(
            load(source, max_pixels=max_pixels, max_side=max_side, target=target, page=frames.start)
        )
    ctx = Context(
        alpha_output=None if fmt is None else fmt in ALPHA_FORMATS,
        max_pixels=max_pixels,
        max_side=max_side,
        # an animation's frames load the same layer assets: read each once
        load_asset=None if load_asset is None or not animation else functools.cache(load_asset),
        watch=None if stop is None else watch,
        notes=getinfo.start(info, image) if info_wanted else None,
        env=Env(info.width, info.height, hint_width=hints.width, hint_dpr=hints.dpr),
        faces=None if faces is None else FaceTrack.of(faces),
    )
    if ctx.notes is not None and faces is not None:
        ctx.notes["faces"] = [
            {"x": round(x1 * info.width), "y": round(y1 * info.height),
             "width": round((x2 - x1) * info.width), "height": round((y2 - y1) * info.height)}
            for x1, y1, x2, y2 in faces
        ]  # fmt: skip
    if ctx.load_asset is None:
        ctx = dataclasses.replace(ctx, load_asset=load_asset)
    if animation:

        def one_frame(index: int) -> pyvips.Image:
            # each frame runs the chain afresh: its own variables, sizes and decisions
            frame = image if index == 0 else watch(source_frames.frame(index))
            env = Env(info.width, info.height, hint_width=hints.width, hint_dpr=hints.dpr)
            # each frame follows the faces of the first from the start
            tracked = None if ctx.faces is None else ctx.faces.copy()
            frame_ctx = dataclasses.replace(ctx, env=env, faces=tracked)
            return run_components(frame, plan.components, frame_ctx, first)

        delay, plays = plan.output.delay, plan.output.loop
        image = join_frames(
            [one_frame(i) for i in range(len(source_frames))],
            [delay] * len(source_frames) if delay is not None else source_frames.delays,
            plays if plays is not None else source_frames.loop,
        )
    else:
        image = run_components(image, plan.components, ctx, first)
    if stop is not None:
        stop.check()
    if fmt is None:
        fmt = Format.PNG if uses_alpha(image) else Format.JPG
    out = plan.output
    if fmt is Format.SVG and ctx.env is not None and ctx.env.svg is not None:
        body = ctx.env.svg.encode()  # the traced shapes themselves
    else:
        body = encode(image, fmt, quality=out.quality, preset=out.quality_preset, flags=out.flags)
    content_type = CONTENT_TYPES[fmt]
    if ctx.notes is not None:  # `fl_getinfo`: the facts, not the pixels
        body, content_type = getinfo.finish(ctx.notes, image, fmt.value, body), getinfo.CONTENT_TYPE
    return Rendered(
        body=body,
        format=fmt,
        content_type=content_type,
        width=image.width,
        height=frame_height(image),
        negotiated=negotiated,
        attachment=Flag.ATTACHMENT in out.flags,
    )


__all__ = ["RenderStop", "RenderStopped", "Rendered", "render"]
