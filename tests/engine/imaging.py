"""Helpers for the engine tests: plans from steps, synthetic images, tolerant comparisons."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import pyvips

from alphacdn.transform.plan import Component, Output, Plan
from alphacdn.transform.steps import Step
from alphacdn.transform.values import Flag, Format, QualityPreset
from tests.conftest import FIXTURES, ROOT

ENGINE_FIXTURES = FIXTURES / "engine"
GOLDEN = ROOT / "tests" / "golden"
FAILURES = ROOT / "tests" / "_failures"
MAX_PIXELS = 50_000_000


def plan(
    *components: Step | tuple[Step, ...],
    fmt: Format | None = Format.PNG,
    quality: int | None = None,
    preset: QualityPreset | None = None,
    flags: frozenset[Flag] = frozenset(),
) -> Plan:
    """A Plan from steps (one component each) or tuples of steps (one component per tuple)."""
    comps = tuple(Component(c if isinstance(c, tuple) else (c,)) for c in components)
    return Plan(comps, Output(format=fmt, quality=quality, quality_preset=preset, flags=flags))


def decode(body: bytes) -> pyvips.Image:
    return pyvips.Image.new_from_buffer(body, "")


def fixture(name: str) -> bytes:
    return (ENGINE_FIXTURES / name).read_bytes()


def mad(a: pyvips.Image, b: pyvips.Image) -> float:
    """Mean absolute difference per channel (images of the same size and bands)."""
    assert (a.width, a.height, a.bands) == (b.width, b.height, b.bands)
    return float((a.cast("float") - b.cast("float")).abs().avg())


def png(image: pyvips.Image) -> bytes:
    return bytes(image.pngsave_buffer(keep="none"))


def jpeg(image: pyvips.Image, q: int = 92) -> bytes:
    return bytes(image.jpegsave_buffer(Q=q, keep="none"))


def solid(width: int, height: int, rgb: tuple[int, ...]) -> pyvips.Image:
    return (pyvips.Image.black(width, height) + list(rgb)).cast("uchar").copy(interpretation="srgb")


def halves(width: int = 200, height: int = 100) -> pyvips.Image:
    """Left half red, right half blue."""
    left = solid(width // 2, height, (255, 0, 0))
    right = solid(width - width // 2, height, (0, 0, 255))
    return left.join(right, "horizontal")


def gradient(width: int = 120, height: int = 80) -> pyvips.Image:
    """A colourful RGB ramp with detail (no flat areas)."""
    xy = pyvips.Image.xyz(width, height)
    r = xy[0] * 255 / width
    g = xy[1] * 255 / height
    b = ((xy[0] + xy[1]) % 16) * 16
    return r.bandjoin([g, b]).cast("uchar").copy(interpretation="srgb")


def with_ramp_alpha(image: pyvips.Image) -> pyvips.Image:
    """The image with an alpha that ramps from 0 (left) to 255 (right)."""
    a = (pyvips.Image.xyz(image.width, image.height)[0] * 255 / (image.width - 1)).cast("uchar")
    return image.bandjoin(a).copy(interpretation="srgb")


def red_disc(size: int = 200) -> pyvips.Image:
    """An antialiased red disc on fully transparent black: the dark-fringe trap."""
    xy = pyvips.Image.xyz(size, size)
    c = size / 2
    d = ((xy[0] + 0.5 - c) ** 2 + (xy[1] + 0.5 - c) ** 2) ** 0.5
    a = ((size * 0.4 - d + 0.5) * 255).cast("uchar")  # cast clips to 0..255
    rgb = (a > 0).ifthenelse([255, 0, 0], [0, 0, 0])
    return rgb.bandjoin(a).cast("uchar").copy(interpretation="srgb")


def png_header_bomb(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims `width` × `height` RGB pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 16)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def png_zeros(width: int, height: int) -> bytes:
    """A complete 8-bit grey PNG of black pixels, compressed ~1000:1 (1 × 49,000,000 px is
    95 KB: the extreme aspect ratio that passes a 50 MP area check), made in well under 1 s."""
    comp = zlib.compressobj(9)
    row = b"\x00" * (width + 1)  # filter byte + pixels
    per_piece = max(1, (1 << 20) // len(row))
    body, left = [], height
    while left:
        body.append(comp.compress(row * min(per_piece, left)))
        left -= min(per_piece, left)
    body.append(comp.flush())

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", b"".join(body))
        + chunk(b"IEND", b"")
    )


def check_golden(chain: str, name: str, image: pyvips.Image, tolerance: float = 1.5) -> None:
    """Compare with `tests/golden/<chain>/<name>.png` (refresh: ALPHACDN_UPDATE_GOLDEN=1)."""
    path = GOLDEN / chain / f"{name}.png"
    if os.environ.get("ALPHACDN_UPDATE_GOLDEN") == "1" or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        image.pngsave(str(path), keep="none")
        if os.environ.get("ALPHACDN_UPDATE_GOLDEN") != "1":
            raise AssertionError(f"golden {path} was missing: written, check it and rerun")
        return
    golden = pyvips.Image.new_from_file(str(path))
    same_shape = (golden.width, golden.height, golden.bands) == (
        image.width,
        image.height,
        image.bands,
    )
    diff = mad(golden, image) if same_shape else float("inf")
    if diff > tolerance:
        failed = FAILURES / chain / f"{name}.png"
        failed.parent.mkdir(parents=True, exist_ok=True)
        image.pngsave(str(failed), keep="none")
        raise AssertionError(f"{chain}/{name}: mean abs diff {diff:.2f} > {tolerance}; {failed}")


__all__ = [
    "ENGINE_FIXTURES",
    "MAX_PIXELS",
    "Path",
    "check_golden",
    "decode",
    "fixture",
    "gradient",
    "halves",
    "jpeg",
    "mad",
    "plan",
    "png",
    "png_header_bomb",
    "png_zeros",
    "red_disc",
    "solid",
    "with_ramp_alpha",
]


#: the colours of the frames `animated()` makes, in order
FRAME_COLOURS = [(230, 30, 30), (30, 200, 30), (30, 30, 230), (230, 200, 30), (30, 200, 200)]


def animated(
    frames: int = 5, width: int = 80, height: int = 60, fmt: str = "gif", delay: int = 80
) -> bytes:
    """An animated GIF or WebP whose frames are solid colours (FRAME_COLOURS, cycled) with a
    white square that moves right frame by frame (no two frames alike)."""
    images = []
    for i in range(frames):
        frame = solid(width, height, FRAME_COLOURS[i % len(FRAME_COLOURS)])
        square = solid(8, 8, (255, 255, 255))
        images.append(frame.insert(square, (2 + 3 * i) % (width - 8), 2))
    strip = pyvips.Image.arrayjoin(images, across=1).copy()
    strip.set_type(pyvips.GValue.gint_type, "page-height", height)
    strip.set_type(pyvips.GValue.array_int_type, "delay", [delay] * frames)
    strip.set_type(pyvips.GValue.gint_type, "loop", 0)
    if fmt == "webp":
        return bytes(strip.webpsave_buffer(lossless=True))
    return bytes(strip.gifsave_buffer())


def frames_of(body: bytes) -> pyvips.Image:
    """All frames of an encoded animation (one strip with `page-height`)."""
    return pyvips.Image.new_from_buffer(body, "", n=-1)
