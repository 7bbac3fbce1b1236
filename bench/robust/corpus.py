"""The bad-file corpus, made in code (nothing downloaded): `corpus()` → [(name, bytes)].

Every name says what the file is (`png-trunc-at-33`, `gif-header-65535x65535`,
`png-1x49000000-valid`, `svg-external-href-http`, …). Deterministic: the same bytes every run.
Families: valid edge cases (16-bit, CMYK, palette, interlaced, 1×1, many frames), truncations of
each format at many offsets, seeded byte flips, header bombs (PNG, JPEG, GIF, WebP, TIFF
dimensions), valid decompression bombs, extreme aspect ratios, corrupt chunks and markers,
polyglots, SVGs with external references and entity bombs, empty and magic-only files, huge ICC
profiles and metadata.
"""

from __future__ import annotations

import functools
import random
import struct
import zlib
from collections.abc import Callable, Iterator

import pyvips

Files = Iterator[tuple[str, bytes]]


# ── format helpers ──────────────────────────────────────────────────────────────────────────


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


PNG_SIG = b"\x89PNG\r\n\x1a\n"


def png(
    width: int, height: int, idat: bytes, depth: int = 8, color: int = 0, extra: bytes = b""
) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 0)
    return (
        PNG_SIG
        + png_chunk(b"IHDR", ihdr)
        + extra
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def zeros_png(width: int, height: int) -> bytes:
    """A valid all-black 8-bit grey PNG of any size, streamed through zlib (rows of zeros)."""
    comp = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    parts, rows_per = [], max(1, 4_000_000 // len(row))
    done = 0
    while done < height:
        n = min(rows_per, height - done)
        parts.append(comp.compress(row * n))
        done += n
    parts.append(comp.flush())
    return png(width, height, b"".join(parts))


def black(w: int, h: int, bands: int = 3) -> pyvips.Image:
    im = pyvips.Image.black(w, h, bands=bands) + 60
    im = im.draw_circle([220] * bands, w // 2, h // 2, max(1, min(w, h) // 3), fill=True)
    return im.cast("uchar").copy(interpretation="srgb" if bands >= 3 else "b-w")


@functools.cache
def valid() -> dict[str, bytes]:
    """Small valid images of each format, the raw material of truncations and flips."""
    im = black(96, 64)
    rgba = black(96, 64, 4)
    frames = pyvips.Image.arrayjoin([black(32, 32) + i * 20 for i in range(4)], across=1)
    frames = frames.copy()
    frames.set_type(pyvips.GValue.gint_type, "page-height", 32)
    return {
        "png": im.pngsave_buffer(),
        "png-rgba": rgba.pngsave_buffer(),
        "png-interlaced": im.pngsave_buffer(interlace=True),
        "jpg": im.jpegsave_buffer(Q=85),
        "jpg-progressive": im.jpegsave_buffer(Q=85, interlace=True),
        "gif": im.gifsave_buffer(),
        "gif-anim": frames.gifsave_buffer(),
        "webp": im.webpsave_buffer(Q=80),
        "webp-lossless": rgba.webpsave_buffer(lossless=True),
        "tiff": im.tiffsave_buffer(),
        "avif": im.heifsave_buffer(compression="av1", Q=50),
    }


# ── families ────────────────────────────────────────────────────────────────────────────────


def valid_edge_cases() -> Files:
    for fmt, data in valid().items():
        yield f"valid-{fmt}-96x64", data
    base = black(64, 48)
    yield "png-16bit-rgb", (base.cast("ushort") * 256).copy(interpretation="rgb16").pngsave_buffer()
    yield (
        "png-16bit-grey",
        (base[0].cast("ushort") * 256).copy(interpretation="grey16").pngsave_buffer(),
    )
    yield (
        "png-16bit-rgba",
        (black(64, 48, 4).cast("ushort") * 256).copy(interpretation="rgb16").pngsave_buffer(),
    )
    yield "png-1bit", base[0].pngsave_buffer(bitdepth=1)
    yield "png-palette", base.pngsave_buffer(palette=True)
    yield "png-grey-alpha", black(64, 48, 2).pngsave_buffer()
    yield "jpg-cmyk", base.colourspace("cmyk").jpegsave_buffer()
    yield "jpg-grey", base[0].jpegsave_buffer()
    yield "jpg-444", base.jpegsave_buffer(subsample_mode="off")
    yield "tiff-cmyk", base.colourspace("cmyk").tiffsave_buffer()
    yield "tiff-float32", (base.cast("float") / 255).tiffsave_buffer()
    yield "tiff-16bit", (base.cast("ushort") * 256).copy(interpretation="rgb16").tiffsave_buffer()
    yield (
        "tiff-multipage-3",
        pyvips.Image.arrayjoin([base] * 3, across=1).tiffsave_buffer(page_height=48),
    )
    for fmt in ("png", "jpg", "gif", "webp"):
        yield f"{fmt}-1x1", black(1, 1).write_to_buffer("." + fmt)
    for n, side in ((1000, 1), (300, 64), (60, 400)):
        strip = pyvips.Image.arrayjoin([black(side, side) + (i % 50) for i in range(n)], across=1)
        strip = strip.copy()
        strip.set_type(pyvips.GValue.gint_type, "page-height", side)
        yield f"gif-{n}-frames-{side}x{side}", strip.gifsave_buffer(effort=1)
    yield "gif-2000-frames-4000x4000-claimed", gif_frame_bomb(4000, 2000)
    yield "gif-10-frames-20000x20000-claimed", gif_frame_bomb(20000, 10)


def gif_frame_bomb(side: int, frames: int) -> bytes:
    """A GIF whose frames each claim `side`² pixels but carry almost no LZW data."""
    out = bytearray(b"GIF89a" + struct.pack("<HH", side, side) + b"\x80\x00\x00" + b"\x00" * 6)
    out += b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    for _ in range(frames):
        out += b"\x21\xf9\x04\x00\x01\x00\x00\x00"
        out += b"\x2c" + struct.pack("<HHHH", 0, 0, side, side) + b"\x00"
        out += b"\x02\x02\x4c\x01\x00"  # min code 2: clear, then end-of-information
    return bytes(out + b"\x3b")


def truncations() -> Files:
    for fmt, data in valid().items():
        n = len(data)
        offsets = sorted(
            {1, 2, 4, 8, 12, 16, 24, 33, 64, 100, 256, n // 4, n // 2, 3 * n // 4, n - 16, n - 1}
        )
        for off in offsets:
            if 0 < off < n:
                yield f"{fmt}-trunc-at-{off}-of-{n}", data[:off]


def bit_flips() -> Files:
    for fmt, data in valid().items():
        for seed in range(4):
            rng = random.Random(f"{fmt}-{seed}")
            b = bytearray(data)
            k = [1, 4, 16, 64][seed]
            for _ in range(k):
                i = rng.randrange(8, len(b))  # keep the magic, so the decoder is chosen
                b[i] = rng.randrange(256)
            yield f"{fmt}-flip-{k}-bytes-seed{seed}", bytes(b)


def header_bombs() -> Files:
    tiny_idat = zlib.compress(b"\x00\x00")
    for w, h in (
        (100_000, 100_000),
        (65_535, 65_535),
        (16_385, 16_385),
        (2**31 - 1, 2**31 - 1),
        (0, 0),
        (1, 0),
        (9_000, 9_000),
    ):
        yield f"png-header-{w}x{h}", png(w, h, tiny_idat)
    jpg = valid()["jpg"]
    for w, h in ((65_500, 65_500), (65_535, 1), (1, 65_535), (0, 0), (20_000, 20_000)):
        yield f"jpg-header-{w}x{h}", patch_jpeg_sof(jpg, w, h)
    gif = valid()["gif"]
    for w, h in ((65_535, 65_535), (1, 65_535), (65_535, 1)):
        yield f"gif-header-{w}x{h}", gif[:6] + struct.pack("<HH", w, h) + gif[10:]
        yield (
            f"gif-frame-{w}x{h}",
            gif_frame_bomb(w, 1).replace(
                b"GIF89a" + struct.pack("<HH", w, h), b"GIF89a\x10\x00\x10\x00", 1
            ),
        )
    for w, h in ((16_384, 16_384), (16_384, 1), (1, 16_384)):
        yield f"webp-vp8x-{w}x{h}", webp_vp8x(w, h)
        yield f"webp-vp8l-{w}x{h}", webp_vp8l_header(w, h)
    tif = valid()["tiff"]
    yield "tiff-header-2147483647x2147483647", patch_tiff_dims(tif, 2**31 - 1, 2**31 - 1)
    yield "tiff-header-100000x100000", patch_tiff_dims(tif, 100_000, 100_000)


def patch_jpeg_sof(data: bytes, w: int, h: int) -> bytes:
    b = bytearray(data)
    i = 2
    while i < len(b) - 9:
        if b[i] == 0xFF and b[i + 1] in (0xC0, 0xC1, 0xC2):
            b[i + 5 : i + 9] = struct.pack(">HH", h, w)
            return bytes(b)
        i += 2 + struct.unpack(">H", b[i + 2 : i + 4])[0]
    raise ValueError("no SOF")


def patch_tiff_dims(data: bytes, w: int, h: int) -> bytes:
    b = bytearray(data)
    endian = "<" if b[:2] == b"II" else ">"
    ifd = struct.unpack(endian + "I", b[4:8])[0]
    count = struct.unpack(endian + "H", b[ifd : ifd + 2])[0]
    for k in range(count):
        e = ifd + 2 + 12 * k
        tag, _typ = struct.unpack(endian + "HH", b[e : e + 4])
        if tag in (256, 257):
            value = w if tag == 256 else h
            b[e + 2 : e + 8] = struct.pack(endian + "HI", 4, 1)  # LONG, count 1
            b[e + 8 : e + 12] = struct.pack(endian + "I", value)
    return bytes(b)


def riff(chunks: bytes) -> bytes:
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WEBP" + chunks


def webp_vp8x(w: int, h: int) -> bytes:
    body = b"\x00\x00\x00\x00" + (w - 1).to_bytes(3, "little") + (h - 1).to_bytes(3, "little")
    lossless = valid()["webp-lossless"][12:]
    return riff(b"VP8X" + struct.pack("<I", len(body)) + body + lossless)


def webp_vp8l_header(w: int, h: int) -> bytes:
    bits = (w - 1) | ((h - 1) << 14) | (1 << 28)
    body = b"\x2f" + struct.pack("<I", bits) + b"\x00" * 16
    return riff(b"VP8L" + struct.pack("<I", len(body)) + body)


def valid_bombs() -> Files:
    """Valid images whose decode is large: compressed rows of zeros."""
    yield "png-10000x10000-valid-zeros", zeros_png(10_000, 10_000)
    yield "png-16384x16384-valid-zeros", zeros_png(16_384, 16_384)


def extreme_aspect() -> Files:
    sizes = (
        (1, 49_000_000),
        (49_000_000, 1),
        (1, 1_000_000),
        (1_000_000, 1),
        (1, 16_385),
        (16_385, 1),
        (1, 16_000),
        (16_000, 1),
        (2, 25_000_000),
    )
    for w, h in sizes:
        yield f"png-{w}x{h}-valid", zeros_png(w, h)
    yield "jpg-1x65500-valid", black(1, 65_500).jpegsave_buffer()
    yield "jpg-65500x1-valid", black(65_500, 1).jpegsave_buffer()
    yield "webp-1x16383-valid", black(1, 16_383).webpsave_buffer()
    yield "webp-16383x1-valid", black(16_383, 1).webpsave_buffer()
    yield "gif-1x65535-valid", black(1, 65_535).gifsave_buffer(effort=1)


def corrupt_chunks() -> Files:
    data = valid()["png"]
    ihdr_end = 8 + 8 + 13 + 4
    b = bytearray(data)
    b[ihdr_end - 1] ^= 0xFF
    yield "png-ihdr-bad-crc", bytes(b)
    b = bytearray(data)
    b[-13] ^= 0xFF
    yield "png-idat-bad-crc", bytes(b)
    idat = zlib.compress(b"\x00" * 100)
    yield "png-idat-garbage", png(96, 64, b"\x78\x9c" + bytes(range(256)) * 4, color=2)
    yield "png-idat-short", png(96, 64, idat, color=2)
    yield "png-no-iend", data[:-12]
    yield "png-bitdepth-3", png(8, 8, idat, depth=3)
    yield "png-colortype-7", png(8, 8, idat, color=7)
    yield "png-palette-without-plte", png(8, 8, idat, color=3)
    yield "png-two-ihdr", data[:ihdr_end] + data[8:]
    yield "png-chunk-length-2gb", PNG_SIG + b"\x7f\xff\xff\xffIDAT" + b"\x00" * 64
    yield (
        "png-ztxt-100mb-bomb",
        png(
            8,
            8,
            idat,
            extra=png_chunk(b"zTXt", b"k\x00\x00" + zlib.compress(b"\x00" * 100_000_000, 9)),
        ),
    )
    yield (
        "png-iccp-garbage",
        png(
            8,
            8,
            zlib.compress(b"\x00" * 72),
            extra=png_chunk(b"iCCP", b"icc\x00\x00" + zlib.compress(b"junk" * 100)),
        ),
    )
    yield (
        "png-iccp-huge-20mb",
        png(
            8,
            8,
            zlib.compress(b"\x00" * 72),
            extra=png_chunk(b"iCCP", b"icc\x00\x00" + zlib.compress(b"\x00" * 20_000_000, 9)),
        ),
    )
    yield (
        "png-1000-text-chunks",
        png(
            8,
            8,
            zlib.compress(b"\x00" * 72),
            extra=png_chunk(b"tEXt", b"k\x00" + b"v" * 1000) * 1000,
        ),
    )
    yield (
        "png-actl-1000000-frames",
        png(
            8,
            8,
            zlib.compress(b"\x00" * 72),
            extra=png_chunk(b"acTL", struct.pack(">II", 1_000_000, 0)),
        ),
    )
    jpg = valid()["jpg"]
    yield "jpg-no-eoi", jpg[:-2]
    yield "jpg-soi-only", b"\xff\xd8"
    yield "jpg-soi-garbage", b"\xff\xd8" + bytes(range(256)) * 8
    yield "jpg-sof-zero-components", patch_after_marker(jpg, 0xC0, 7, b"\x00")
    yield "jpg-dht-garbage", patch_after_marker(jpg, 0xC4, 4, b"\xff" * 40)
    yield "jpg-sos-garbage", patch_after_marker(jpg, 0xDA, 12, bytes(range(200)))
    yield "jpg-icc-huge-4mb", jpeg_with_app(jpg, icc_segments(4_000_000))
    yield "jpg-icc-garbage", jpeg_with_app(jpg, icc_segments(2_000, junk=True))
    yield (
        "jpg-1000-app-segments",
        jpeg_with_app(jpg, [b"\xff\xe5" + struct.pack(">H", 2 + 1000) + b"a" * 1000] * 1000),
    )
    yield "jpg-exif-orientation-9", jpeg_with_app(jpg, [exif_orientation(9)])
    yield "jpg-exif-ifd-loop", jpeg_with_app(jpg, [exif_loop()])
    gif = valid()["gif"]
    yield "gif-no-trailer", gif[:-1]
    yield "gif-lzw-garbage", gif[:-20] + bytes(range(19)) + b";"
    yield "gif-frame-outside-screen", gif_offset_frame()
    webp = valid()["webp"]
    yield "webp-riff-size-huge", webp[:4] + b"\xff\xff\xff\x7f" + webp[8:]
    yield "webp-riff-size-small", webp[:4] + b"\x04\x00\x00\x00" + webp[8:]
    yield "webp-vp8-garbage", webp[:30] + bytes(range(200))


def patch_after_marker(data: bytes, marker: int, offset: int, patch: bytes) -> bytes:
    i = data.index(bytes([0xFF, marker]))
    return data[: i + offset] + patch + data[i + offset + len(patch) :]


def jpeg_with_app(jpg: bytes, segments: list[bytes]) -> bytes:
    return jpg[:2] + b"".join(segments) + jpg[2:]


def icc_segments(size: int, junk: bool = False) -> list[bytes]:
    profile = (
        (b"junk" * (size // 4 + 1))[:size]
        if junk
        else struct.pack(">I", size) + b"\x00" * (size - 4)
    )
    chunks = [profile[i : i + 65_000] for i in range(0, len(profile), 65_000)]
    n = len(chunks)
    return [
        b"\xff\xe2"
        + struct.pack(">H", 2 + 14 + len(c))
        + b"ICC_PROFILE\x00"
        + bytes([k + 1, min(n, 255)])
        + c
        for k, c in enumerate(chunks)
    ]


def exif_orientation(value: int) -> bytes:
    tiff = (
        b"MM\x00\x2a\x00\x00\x00\x08"
        + b"\x00\x01"
        + struct.pack(">HHIHH", 0x0112, 3, 1, value, 0)
        + b"\x00" * 4
    )
    return b"\xff\xe1" + struct.pack(">H", 2 + 6 + len(tiff)) + b"Exif\x00\x00" + tiff


def exif_loop() -> bytes:
    # IFD0 with one entry whose Exif IFD pointer points back at IFD0, and a next-IFD link to itself
    tiff = (
        b"MM\x00\x2a\x00\x00\x00\x08"
        + b"\x00\x01"
        + struct.pack(">HHII", 0x8769, 4, 1, 8)
        + struct.pack(">I", 8)
    )
    return b"\xff\xe1" + struct.pack(">H", 2 + 6 + len(tiff)) + b"Exif\x00\x00" + tiff


def gif_offset_frame() -> bytes:
    out = bytearray(b"GIF89a\x10\x00\x10\x00\x80\x00\x00" + b"\x00" * 6)
    out += b"\x2c" + struct.pack("<HHHH", 60_000, 60_000, 16, 16) + b"\x00\x02\x02\x4c\x01\x00\x3b"
    return bytes(out)


def polyglots() -> Files:
    png_, jpg, gif = valid()["png"], valid()["jpg"], valid()["gif"]
    yield "gif-js-polyglot", b"GIF89a/*\x00\x00\x00\x00*/=1;alert(1);//" + gif[6:]
    yield (
        "png-with-zip-appended",
        png_ + b"PK\x03\x04" + b"\x00" * 26 + b"PK\x05\x06" + b"\x00" * 18,
    )
    yield (
        "jpg-html-in-comment",
        jpg[:2]
        + b"\xff\xfe"
        + struct.pack(">H", 2 + 40)
        + b"<script>alert(1)</script>".ljust(40)
        + jpg[2:],
    )
    yield "html-named-jpg", b"<!doctype html><html><script>alert(1)</script></html>"
    yield "pdf-header-then-jpeg", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + jpg
    yield (
        "pdf-minimal",
        b"%PDF-1.1\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF",
    )
    yield "png-magic-jpeg-body", PNG_SIG + jpg[2:]
    yield "jpeg-magic-png-body", b"\xff\xd8\xff" + png_[8:]
    yield "zip-file", b"PK\x03\x04" + b"\x00" * 26 + b"PK\x05\x06" + b"\x00" * 18
    yield "elf-header", b"\x7fELF\x02\x01\x01" + b"\x00" * 57
    yield "mz-exe-header", b"MZ" + b"\x00" * 62
    yield (
        "php-in-exif",
        jpeg_with_app(
            jpg, [b"\xff\xe1" + struct.pack(">H", 2 + 30) + b"<?php system($_GET[1]); ?>   "]
        ),
    )
    yield "jpg-then-png", jpg + png_
    yield "gzip-of-png", b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + zlib.compress(png_)[2:]
    yield (
        "bmp-header-65535x65535",
        b"BM"
        + struct.pack("<IHHI", 54, 0, 0, 54)
        + struct.pack("<IiiHHIIiiII", 40, 65535, 65535, 1, 24, 0, 0, 0, 0, 0, 0),
    )
    yield "ico-header", b"\x00\x00\x01\x00\x01\x00\x00\x00\x00\x00\x01\x00\x20\x00" + b"\x00" * 16


SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
    'width="{w}" height="{h}">{body}</svg>'
)


def svgs() -> Files:
    def svg(body: str, w: str = "100", h: str = "100") -> bytes:
        return SVG.format(w=w, h=h, body=body).encode()

    yield "svg-plain", svg('<rect width="50" height="50" fill="red"/>')
    yield (
        "svg-external-href-http",
        svg('<image href="http://127.0.0.1:9/x.png" width="50" height="50"/>'),
    )
    yield (
        "svg-external-xlink-http",
        svg(
            '<image xlink:href="http://169.254.169.254/latest/meta-data/" width="50" height="50"/>'
        ),
    )
    yield "svg-external-href-file", svg('<image href="file:///etc/passwd" width="50" height="50"/>')
    yield "svg-external-css-import", svg("<style>@import url(http://127.0.0.1:9/x.css);</style>")
    yield "svg-use-external", svg('<use href="http://127.0.0.1:9/x.svg#a"/>')
    yield (
        "svg-xxe-file",
        b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        + svg("<text>&x;</text>"),
    )
    laughs = "".join(f'<!ENTITY l{i} "{(f"&l{i - 1};" * 10) if i else "lol"}">' for i in range(10))
    yield (
        "svg-billion-laughs",
        f'<?xml version="1.0"?><!DOCTYPE svg [{laughs}]>'.encode() + svg("<text>&l9;</text>"),
    )
    yield "svg-100000x100000", svg('<rect width="10" height="10"/>', "100000", "100000")
    yield "svg-1x1000000000", svg('<rect width="1" height="10"/>', "1", "1000000000")
    yield (
        "svg-huge-blur-5000",
        svg(
            '<filter id="f"><feGaussianBlur stdDeviation="1000"/></filter>'
            '<rect width="5000" height="5000" filter="url(#f)"/>',
            "5000",
            "5000",
        ),
    )
    yield "svg-use-recursion", svg('<g id="a"><use href="#b"/></g><g id="b"><use href="#a"/></g>')
    yield "svg-script", svg("<script>alert(1)</script>")
    yield (
        "svg-foreignobject-html",
        svg(
            '<foreignObject width="100" height="100"><body xmlns="http://www.w3.org/1999/xhtml">'
            '<iframe src="http://127.0.0.1:9/"/></body></foreignObject>'
        ),
    )
    yield (
        "svg-no-size",
        b'<svg xmlns="http://www.w3.org/2000/svg"><rect width="10" height="10"/></svg>',
    )
    yield "svg-truncated", svg('<rect width="50" height="50"/>')[:60]
    yield "svg-1000-nested-groups", svg("<g>" * 1000 + "<rect/>" + "</g>" * 1000)
    yield (
        "svg-gzip-svgz",
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + zlib.compress(svg("<rect/>"))[2:],
    )


def tiny() -> Files:
    yield "zero-bytes", b""
    yield "one-byte", b"\x89"
    yield "whitespace-only", b" \n\t  \n"
    yield "png-signature-only", PNG_SIG
    yield "jpg-magic-only", b"\xff\xd8\xff"
    yield "gif-magic-only", b"GIF89a"
    yield "webp-riff-only", b"RIFF\x04\x00\x00\x00WEBP"
    yield "tiff-magic-only", b"II*\x00"
    yield "svg-open-tag-only", b"<svg"
    yield "nul-bytes-4k", b"\x00" * 4096
    yield "random-bytes-64k", random.Random(15).randbytes(65_536)
    yield "heic-ftyp-only", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"
    yield "avif-ftyp-only", b"\x00\x00\x00\x18ftypavif\x00\x00\x00\x00mif1avif"


FAMILIES: list[Callable[[], Files]] = [
    valid_edge_cases,
    truncations,
    bit_flips,
    header_bombs,
    valid_bombs,
    extreme_aspect,
    corrupt_chunks,
    polyglots,
    svgs,
    tiny,
]


#: families that are mostly variations of a few valid files (CI samples them)
VARIATIONS = {"truncations", "bit_flips", "valid_edge_cases"}


@functools.cache
def _made() -> list[tuple[str, int, str, bytes]]:
    """(family, index in family, name, bytes) of every file, made once per process."""
    out = []
    seen: set[str] = set()
    for family in FAMILIES:
        for i, (name, data) in enumerate(family()):
            assert name not in seen, name
            seen.add(name)
            out.append((family.__name__, i, name, data))
    return out


def corpus(every: int = 1) -> list[tuple[str, bytes]]:
    """Every bad file, named for what it is (names are unique).

    `every=n` keeps every n-th file of the `VARIATIONS` families and all others: a sample with
    every family in it for CI, where each decodable file sent to remove.bg is a model run.
    """
    return [(n, d) for f, i, n, d in _made() if f not in VARIATIONS or i % every == 0]
