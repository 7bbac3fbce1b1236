"""Output formats: `f_auto` negotiation, per-format quality (`q_`, `q_auto`), metadata, encoders.

Quality by `q_auto` preset (no `q_` at all means `good`; an explicit `q_<n>` is used as given):

| preset | JPEG | WebP | AVIF | PNG            |
|--------|------|------|------|----------------|
| best   | 90   | 90   | 72   | lossless       |
| good   | 80   | 80   | 60   | lossless       |
| eco    | 70   | 70   | 50   | 256-colour palette |
| low    | 60   | 55   | 40   | 256-colour palette |

AVIF's quantiser is stricter than JPEG's at the same number, hence lower values for the same
look. Metadata: every output is sRGB with nothing embedded (no EXIF, XMP or ICC profile: browsers
assume sRGB); `fl_keep_iptc` keeps IPTC and XMP. JPEGs are progressive above 100 kpx or with
`fl_progressive`, Huffman-optimised, trellis-quantised (mozjpeg options).
"""

from __future__ import annotations

import base64

import pyvips

from alphacdn.transform.errors import InvalidTransformation
from alphacdn.transform.values import Flag, Format, QualityPreset

from . import alpha
from .frames import frame_height

#: the largest side each encoder takes (libwebp 16383, libheif/AV1 16384; JPEG and GIF 65535)
MAX_SIDE: dict[Format, int] = {
    Format.WEBP: 16383,
    Format.AVIF: 16384,
    Format.JPG: 65535,
    Format.GIF: 65535,
}

CONTENT_TYPES: dict[Format, str] = {
    Format.JPG: "image/jpeg",
    Format.PNG: "image/png",
    Format.WEBP: "image/webp",
    Format.AVIF: "image/avif",
    Format.GIF: "image/gif",
    Format.SVG: "image/svg+xml",
}
ALPHA_FORMATS = frozenset({Format.PNG, Format.WEBP, Format.AVIF, Format.GIF, Format.SVG})
#: source formats delivered as themselves when the URL names no format
WEB_FORMATS: dict[str, Format] = {
    "jpg": Format.JPG,
    "png": Format.PNG,
    "webp": Format.WEBP,
    "gif": Format.GIF,
    "avif": Format.AVIF,
}
QUALITY: dict[QualityPreset, dict[Format, int]] = {
    QualityPreset.BEST: {Format.JPG: 90, Format.WEBP: 90, Format.AVIF: 72},
    QualityPreset.GOOD: {Format.JPG: 80, Format.WEBP: 80, Format.AVIF: 60},
    QualityPreset.ECO: {Format.JPG: 70, Format.WEBP: 70, Format.AVIF: 50},
    QualityPreset.LOW: {Format.JPG: 60, Format.WEBP: 55, Format.AVIF: 40},
}
PROGRESSIVE_PIXELS = 100_000
#: AVIF encoder effort (0 fastest … 9 slowest): 0 costs about what WebP does and its files are
#: ~5 % larger than effort 2's, which costs 5× more (bench/README_engine.md)
AVIF_EFFORT = 0


def _accepts(accept: str) -> set[str]:
    """Media types in an `Accept` header with a non-zero q."""
    types = set()
    for item in accept.lower().split(","):
        media, *params = (part.strip() for part in item.split(";"))
        q = 1.0
        for p in params:
            if p.startswith("q="):
                try:
                    q = float(p[2:])
                except ValueError:
                    q = 0.0
        if media and q > 0:
            types.add(media)
    return types


def negotiate_format(accept: str, has_alpha: bool) -> Format:
    """`f_auto`: AVIF, else WebP when accepted, else PNG for alpha images, else JPEG."""
    types = _accepts(accept)
    if "image/avif" in types:
        return Format.AVIF
    if "image/webp" in types:
        return Format.WEBP
    return Format.PNG if has_alpha else Format.JPG


def negotiate_animated(accept: str) -> Format:
    """`f_auto` for an animation: animated WebP when accepted, else GIF (libvips writes no
    animated AVIF)."""
    return Format.WEBP if "image/webp" in _accepts(accept) else Format.GIF


def quality_for(fmt: Format, quality: int | None, preset: QualityPreset | None) -> int:
    """The encoder quality for `fmt` from `q_<n>` or `q_auto[:preset]` (default: good)."""
    if quality is not None:
        return quality
    return QUALITY[preset or QualityPreset.GOOD].get(fmt, 80)


def uses_alpha(image: pyvips.Image) -> bool:
    """Whether the image has an alpha band that is not fully opaque."""
    return bool(image.hasalpha()) and image[image.bands - 1].min() < 255


def _keep(flags: frozenset[Flag]) -> int:
    keep = pyvips.enums.ForeignKeep
    if Flag.KEEP_IPTC in flags:
        return int(keep.IPTC | keep.XMP)
    return int(keep.NONE)


def encode(
    image: pyvips.Image,
    fmt: Format,
    *,
    quality: int | None = None,
    preset: QualityPreset | None = None,
    flags: frozenset[Flag] = frozenset(),
    keep_alpha: bool = False,
    fast: bool = False,
) -> bytes:
    """Encode an 8-bit sRGB image; alpha is flattened on white for JPEG, dropped when opaque
    unless `keep_alpha` (the remove.bg-style API always answers RGBA PNG and WebP). `fast`
    writes a plain baseline JPEG, for answers encoded on every request rather than cached: the
    options below cost 4–20× the encode at 13 MP (67 ms plain, 263 ms Huffman-optimised,
    ~1 s with trellis)."""
    if fmt is Format.AUTO:
        raise ValueError("resolve f_auto with negotiate_format() before encoding")
    if fmt is Format.SVG:  # a raster inside an SVG (`e_vectorize` output is encoded by render)
        png = encode(image, Format.PNG, quality=quality, preset=preset, flags=flags)
        return raster_svg(png, image.width, image.height)
    side = MAX_SIDE.get(fmt)
    height = frame_height(image)
    if side is not None and max(image.width, height) > side:
        raise InvalidTransformation(
            f"the output is {image.width}x{height}, over the {side} px a side that "
            f"{fmt.value.upper()} can hold; use a smaller size or another format"
        )
    if image.hasalpha() and fmt is not Format.JPG and not keep_alpha:
        image = image.copy_memory()  # read twice: the alpha check, then the encoder
    if image.hasalpha() and (fmt is Format.JPG or not (keep_alpha or uses_alpha(image))):
        image = alpha.flatten(image)
    keep = _keep(flags)
    q = quality_for(fmt, quality, preset)
    if fmt is Format.JPG and fast:
        return bytes(image.jpegsave_buffer(Q=q, keep=keep))
    if fmt is Format.JPG:
        progressive = Flag.PROGRESSIVE in flags or image.width * image.height > PROGRESSIVE_PIXELS
        return bytes(
            image.jpegsave_buffer(
                Q=q,
                optimize_coding=True,
                interlace=progressive,
                # mozjpeg's trellis quantisation and its table 3: ~15 % smaller at ~10 ms
                # more per 400×300 (ignored by a plain libjpeg-turbo build)
                trellis_quant=True,
                quant_table=3,
                keep=keep,
            )
        )
    if fmt is Format.WEBP:
        return bytes(image.webpsave_buffer(Q=q, effort=4, keep=keep))
    if fmt is Format.AVIF:
        return bytes(
            image.heifsave_buffer(Q=q, compression="av1", effort=AVIF_EFFORT, bitdepth=8, keep=keep)
        )
    if fmt is Format.PNG:
        palette = quality is None and preset in (QualityPreset.ECO, QualityPreset.LOW)
        return bytes(image.pngsave_buffer(compression=6, palette=palette, keep=keep))
    return bytes(image.gifsave_buffer(keep=keep))


def raster_svg(png: bytes, width: int, height: int) -> bytes:
    """An SVG document holding a PNG (what `f_svg` delivers without `e_vectorize`)."""
    data = base64.b64encode(png).decode()
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><image width="{width}" height="{height}" '
        f'href="data:image/png;base64,{data}"/></svg>'
    ).encode()


__all__ = [
    "ALPHA_FORMATS",
    "CONTENT_TYPES",
    "QUALITY",
    "WEB_FORMATS",
    "encode",
    "negotiate_animated",
    "negotiate_format",
    "quality_for",
    "uses_alpha",
]
