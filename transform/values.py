"""Typed parameter values shared by the steps: lengths, colours, crop modes, gravities, formats."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

#: A length is an int (pixels) or a float (relative to the current image: `w_0.5`, `w_1.0`).
Length = int | float


class CropMode(Enum):
    SCALE = "scale"
    FIT = "fit"
    LIMIT = "limit"
    MFIT = "mfit"
    FILL = "fill"
    LFILL = "lfill"
    PAD = "pad"
    LPAD = "lpad"
    MPAD = "mpad"
    FILL_PAD = "fill_pad"
    CROP = "crop"
    THUMB = "thumb"
    #: `c_auto`: fill the box around the most interesting region (default gravity `g_auto`)
    AUTO = "auto"


class Gravity(Enum):
    NORTH_WEST = "north_west"
    NORTH = "north"
    NORTH_EAST = "north_east"
    WEST = "west"
    CENTER = "center"
    EAST = "east"
    SOUTH_WEST = "south_west"
    SOUTH = "south"
    SOUTH_EAST = "south_east"
    #: salient region (libvips attention), or the matte's subject box when a matte exists;
    #: detected faces lead it (Cloudinary's automatic gravity favours faces)
    AUTO = "auto"
    #: `g_auto:subject`: the subject (a cut-out's alpha), else the most salient region
    AUTO_SUBJECT = "auto:subject"
    #: `g_auto:classic`: the busiest region (libvips entropy), no subject detection
    AUTO_CLASSIC = "auto:classic"
    #: the largest detected face; none found: north (`face:center` → center, `face:auto` → auto)
    FACE = "face"
    FACE_CENTER = "face:center"
    FACE_AUTO = "face:auto"
    #: the box around every detected face; the same fallbacks as `face`
    FACES = "faces"
    FACES_CENTER = "faces:center"
    FACES_AUTO = "faces:auto"
    #: automatic gravity on the largest face / all faces; none found: plain `auto`
    AUTO_FACE = "auto:face"
    AUTO_FACES = "auto:faces"


#: every `g_auto` variant without faces
AUTO_GRAVITIES = frozenset({Gravity.AUTO, Gravity.AUTO_SUBJECT, Gravity.AUTO_CLASSIC})


@dataclass(frozen=True, slots=True)
class FaceFocus:
    """What a face gravity aims at, and where it goes when no face is found."""

    every_face: bool
    fallback: Gravity


#: face gravities → (all faces or the largest, the gravity used when no face is found)
FACE_GRAVITIES: dict[Gravity, FaceFocus] = {
    Gravity.FACE: FaceFocus(False, Gravity.NORTH),
    Gravity.FACE_CENTER: FaceFocus(False, Gravity.CENTER),
    Gravity.FACE_AUTO: FaceFocus(False, Gravity.AUTO),
    Gravity.FACES: FaceFocus(True, Gravity.NORTH),
    Gravity.FACES_CENTER: FaceFocus(True, Gravity.CENTER),
    Gravity.FACES_AUTO: FaceFocus(True, Gravity.AUTO),
    Gravity.AUTO_FACE: FaceFocus(False, Gravity.AUTO),
    Gravity.AUTO_FACES: FaceFocus(True, Gravity.AUTO),
}


class Format(Enum):
    JPG = "jpg"
    PNG = "png"
    WEBP = "webp"
    AVIF = "avif"
    GIF = "gif"
    #: vector output: the shapes `e_vectorize` traced (else the raster inside an SVG)
    SVG = "svg"
    #: negotiated from `Accept` (and alpha) at delivery time
    AUTO = "auto"


class QualityPreset(Enum):
    """`q_auto[:good|best|eco|low]`."""

    GOOD = "good"
    BEST = "best"
    ECO = "eco"
    LOW = "low"


class Flag(Enum):
    PROGRESSIVE = "progressive"
    STRIP_PROFILE = "strip_profile"
    KEEP_IPTC = "keep_iptc"
    ATTACHMENT = "attachment"
    PRESERVE_TRANSPARENCY = "preserve_transparency"
    #: deliver JSON about the render (sizes, subject box, g_auto crop) instead of the image
    GETINFO = "getinfo"
    #: keep every frame of an animated source (the default for GIF and WebP output)
    ANIMATED = "animated"
    #: animated WebP output (Cloudinary's spelling; the same as `animated` with `f_webp`)
    AWEBP = "awebp"


class AutoColor(Enum):
    """`b_auto[:border|predominant]`: a pad colour picked from the image (default: its border)."""

    BORDER = "border"
    PREDOMINANT = "predominant"


@dataclass(frozen=True, slots=True)
class Color:
    """An sRGB colour with alpha, 0..255 each. Parsed from `red`, `rgb:ff0000`, `rgb:ff000080`."""

    r: int
    g: int
    b: int
    a: int = 255

    def hex(self) -> str:
        """`rrggbb` or `rrggbbaa` (alpha only when not opaque)."""
        base = f"{self.r:02x}{self.g:02x}{self.b:02x}"
        return base if self.a == 255 else base + f"{self.a:02x}"


BLACK = Color(0, 0, 0)
WHITE = Color(255, 255, 255)
GRAY = Color(128, 128, 128)
RED = Color(255, 0, 0)

__all__ = [
    "AUTO_GRAVITIES",
    "BLACK",
    "FACE_GRAVITIES",
    "GRAY",
    "RED",
    "WHITE",
    "AutoColor",
    "Color",
    "CropMode",
    "FaceFocus",
    "Flag",
    "Format",
    "Gravity",
    "Length",
    "QualityPreset",
]
