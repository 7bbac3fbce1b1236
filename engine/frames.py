"""Animated sources: which frames a delivery keeps, decoding them, and joining them again.

An animated GIF or WebP delivered as GIF or WebP (by extension, `f_`, or `f_auto`, which picks
animated WebP when `Accept` allows it and GIF otherwise) keeps its frames: the render runs the
plan's steps on every frame and joins the results into one animation. Any other output format
(JPEG, PNG, AVIF) gets one frame: the first, or the one `pg_<n>` names. `pg_<a>-<b>` keeps a
range of frames; `dl_<ms>` sets the delay between frames and `e_loop[:<n>]` how often it plays.

Like Cloudinary's on-the-fly delivery, an animation keeps at most `MAX_FRAMES` frames (the
rest are dropped), and every frame the source holds counts against the pixel limit when its
header is checked (`load.check_size`), so an animation cannot be a decompression bomb.
Background removal uses the first frame (the matte is of one picture).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyvips

from alphacdn.transform.errors import InvalidImage, InvalidTransformation
from alphacdn.transform.plan import Output
from alphacdn.transform.values import Format

from .load import to_srgb8

#: the most frames an on-the-fly animation keeps (Cloudinary truncates at 100 too)
MAX_FRAMES = 100
#: source formats whose frames are an animation (not pages of a document)
ANIMATED_SOURCES = frozenset({"gif", "webp"})
#: output formats that carry an animation here (libvips writes neither APNG nor animated AVIF)
ANIMATED_OUTPUTS = frozenset({Format.GIF, Format.WEBP})
#: the delay of a frame whose source names none, in ms (what browsers use for GIF's 0)
DEFAULT_DELAY = 100
_FAIL_ON = "error"


def frame_range(pages: int, out: Output) -> range:
    """The 0-based frames of a source of `pages` frames the output draws on, or a 400 when
    `pg_` names a frame the source does not have."""
    first, last = out.pages or (1, pages)
    if first > pages:
        held = "1 frame" if pages == 1 else f"{pages} frames"
        raise InvalidTransformation(
            f"Invalid transformation component: pg_{first} (the image has {held})"
        )
    last = min(last, pages, first - 1 + MAX_FRAMES)
    return range(first - 1, last)


def is_animation(source_format: str, frames: range, fmt: Format | None) -> bool:
    """Whether the output is an animation: an animated source, more than one frame kept, and
    an output format that animates (`f_auto` does: it picks animated WebP or GIF). `fmt`:
    the format asked for (None: the source's own)."""
    if source_format not in ANIMATED_SOURCES or len(frames) < 2:
        return False
    if fmt is None:
        return True  # delivered as itself: GIF or WebP
    # `fl_animated` and `fl_awebp` are accepted and change nothing: GIF and WebP output keeps
    # the frames anyway, and JPEG, PNG and AVIF cannot hold them here (one frame)
    return fmt is Format.AUTO or fmt in ANIMATED_OUTPUTS


def frames_rendered(pages: int, source_format: str, fmt: Format | None, out: Output) -> int:
    """How many frames a render of this output draws (for its cost): 1 unless animated."""
    frames = frame_range(pages, out)
    return len(frames) if is_animation(source_format, frames, fmt) else 1


@dataclass(frozen=True, slots=True)
class Frames:
    """The frames of an animated source, decoded one at a time (`frame(i)`), so a render holds
    one source frame at once rather than all of them. `delays` in ms, `loop` as libvips counts
    it (how many times it plays, 0 = endlessly)."""

    strip: pyvips.Image
    height: int
    delays: list[int]
    loop: int

    def __len__(self) -> int:
        return len(self.delays)

    def frame(self, index: int) -> pyvips.Image:
        """Frame `index` (0-based within the loaded range), decoded now: a corrupt frame
        fails here, as a 422."""
        try:
            return self.strip.crop(
                0, index * self.height, self.strip.width, self.height
            ).copy_memory()
        except pyvips.Error as e:
            raise InvalidImage("corrupt or truncated image", detail=str(e)) from None


def load_frames(data: bytes, frames: range) -> Frames:
    """Open `frames` of an animated source (its header already checked) as 8-bit sRGB with
    alpha; the pixels are decoded frame by frame by `Frames.frame`."""
    try:
        strip = pyvips.Image.new_from_buffer(
            data, "", page=frames.start, n=len(frames), fail_on=_FAIL_ON, access="sequential"
        )
        height = strip.get("page-height") if strip.get_typeof("page-height") else strip.height
        delays = list(strip.get("delay")) if strip.get_typeof("delay") else []
        loop = int(strip.get("loop")) if strip.get_typeof("loop") else 0
        strip = to_srgb8(strip)
        if not strip.hasalpha():
            strip = strip.bandjoin(255)
    except pyvips.Error as e:
        raise InvalidImage("corrupt or truncated image", detail=str(e)) from None
    count = strip.height // height
    delays = [d if d > 0 else DEFAULT_DELAY for d in delays[:count]]
    delays += [DEFAULT_DELAY] * (count - len(delays))
    return Frames(strip, height, delays, loop)


def join_frames(images: list[pyvips.Image], delays: list[int], loop: int) -> pyvips.Image:
    """One animation (a strip of equal frames with `page-height`, `delay`, `loop`) from
    rendered frames. A step that depends on content (`e_trim`, `g_auto`) may size frames
    differently: each is then centred on a canvas that holds the largest, transparent around."""
    width = max(image.width for image in images)
    height = max(image.height for image in images)
    same: list[pyvips.Image] = []
    for image in images:
        if not image.hasalpha():
            image = image.bandjoin(255)
        if (image.width, image.height) != (width, height):
            image = image.gravity("centre", width, height, extend="background", background=[0])
        same.append(image)
    strip = pyvips.Image.arrayjoin(same, across=1).copy()
    strip.set_type(pyvips.GValue.gint_type, "page-height", height)
    strip.set_type(pyvips.GValue.array_int_type, "delay", delays)
    strip.set_type(pyvips.GValue.gint_type, "loop", loop)
    return strip


def frame_height(image: pyvips.Image) -> int:
    """The height of one frame: `page-height` for an animation strip, else the height."""
    if image.get_typeof("page-height"):
        page = int(image.get("page-height"))
        if 0 < page < image.height and image.height % page == 0:
            return page
    return int(image.height)


__all__ = [
    "ANIMATED_OUTPUTS",
    "ANIMATED_SOURCES",
    "DEFAULT_DELAY",
    "MAX_FRAMES",
    "Frames",
    "frame_height",
    "frame_range",
    "frames_rendered",
    "is_animation",
    "join_frames",
    "load_frames",
]
