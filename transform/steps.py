"""The steps a URL can express, one frozen dataclass each, registered once with `@action`.

A component of the URL (`c_fill,w_400,h_300`) becomes one or more steps, applied in the order
the component's steps are listed (see `transform.plan.Component`). Field names and types here are
the contract with `alphacdn.engine`, which attaches one pixel function per step with `@applies`.

Effects are registered under their `e_<name>` code and take positional `:`-separated params in
field order (`e_blur:300` → `Blur(strength=300)`); ranges come from `Range` metadata.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Annotated, TypeAlias

from .compositing import DropShadow, Mask, Shadow  # shadows and mask controls, issue 5
from .faces import BlurFaces, PixelateFaces  # face effects, issue 17
from .registry import Qualifier, Range, Stage, action
from .shapes import Outline  # outlines, issue 17
from .values import BLACK, GRAY, RED, WHITE, AutoColor, Color, CropMode, Gravity, Length

# ── geometry ────────────────────────────────────────────────────────────────────────────────


@action("c", stage=Stage.RESIZE)
@dataclass(frozen=True, slots=True)
class Resize:
    """`w_ h_ c_ g_ x_ y_ z_ ar_ dpr_` (and `b_` as the pad colour of pad modes).

    Default crop mode is `scale`. Lengths: int = pixels, float = relative to the current image.
    `dpr_` multiplies width and height. `x_`/`y_` position the region for `c_crop` (offsets
    from the gravity anchor, as Cloudinary does).
    """

    width: Length | None = None
    height: Length | None = None
    crop: CropMode = CropMode.SCALE
    gravity: Gravity = Gravity.CENTER
    x: Length | None = None
    y: Length | None = None
    zoom: Annotated[float, Range(0.01, 100.0)] | None = None
    aspect_ratio: Annotated[float, Range(0.001, 1000.0)] | None = None
    dpr: Annotated[float, Range(0.1, 10.0)] = 1.0
    #: pad colour; `b_auto[:border|predominant]` picks it from the image
    background: Color | AutoColor | None = None


class RotateMode(Enum):
    DEGREES = "degrees"
    AUTO_RIGHT = "auto_right"
    AUTO_LEFT = "auto_left"
    HFLIP = "hflip"
    VFLIP = "vflip"


@action("a", stage=Stage.ROTATE)
@dataclass(frozen=True, slots=True)
class Rotate:
    """`a_<degrees>` (clockwise; non-multiples of 90 grow the canvas, transparent or `b_`),
    `a_auto` (= `a_auto_right`: rotate 90° clockwise when that better matches the requested
    aspect ratio; with no resize in the chain, a no-op), `a_auto_left`, `a_hflip`, `a_vflip`."""

    mode: RotateMode = RotateMode.DEGREES
    degrees: Annotated[float, Range(-360.0, 360.0)] = 0.0


@action("r", stage=Stage.ROUND_CORNERS)
@dataclass(frozen=True, slots=True)
class RoundCorners:
    """`r_<pixels>` or `r_max` (radius None: an ellipse / circle), or per corner
    `r_<a>:<b>[:<c>[:<d>]]` as CSS reads 2-4 radii (top-left, top-right, bottom-right,
    bottom-left; a missing one is its opposite corner's): then `corners` holds the four and
    `radius` is unused. Corners become transparent (or the `b_` colour without alpha)."""

    radius: Annotated[int, Range(1, 10000)] | None = None
    #: (top-left, top-right, bottom-right, bottom-left), 0..10000 each, not all equal
    corners: tuple[int, int, int, int] | None = None


@action("bo", stage=Stage.BORDER)
@dataclass(frozen=True, slots=True)
class Border:
    """`bo_<width>px_solid_<color>` e.g. `bo_4px_solid_black`, `bo_2px_solid_rgb:ff0000`."""

    width: Annotated[int, Range(1, 1000)] = 1
    color: Color = BLACK


@action("o", stage=Stage.OPACITY)
@dataclass(frozen=True, slots=True)
class Opacity:
    """`o_<0-100>`: multiply alpha by percent / 100."""

    percent: Annotated[int, Range(0, 100)] = 100


@action("b", stage=Stage.BACKGROUND)
@dataclass(frozen=True, slots=True)
class Background:
    """`b_<name>` / `b_rgb:RRGGBB[AA]` on its own (not a pad colour): fill transparent areas."""

    color: Color = WHITE


# ── effects: `e_<name>[:<param>…]`, `co_` gives the colour where one is taken ──────────────


@action("e_grayscale")
@dataclass(frozen=True, slots=True)
class Grayscale:
    """`e_grayscale`."""


@action("e_blackwhite")
@dataclass(frozen=True, slots=True)
class BlackWhite:
    """`e_blackwhite[:<0-100>]`, default 50: threshold to pure black and white."""

    threshold: Annotated[int, Range(0, 100)] = 50


@action("e_sepia")
@dataclass(frozen=True, slots=True)
class Sepia:
    """`e_sepia[:<1-100>]`, default 80."""

    strength: Annotated[int, Range(1, 100)] = 80


@action("e_blur")
@dataclass(frozen=True, slots=True)
class Blur:
    """`e_blur[:<1-2000>]`, default 100. Gaussian blur, sigma ≈ strength / 100 × (size / 200)."""

    strength: Annotated[int, Range(1, 2000)] = 100


@action("e_sharpen")
@dataclass(frozen=True, slots=True)
class Sharpen:
    """`e_sharpen[:<1-2000>]`, default 100."""

    strength: Annotated[int, Range(1, 2000)] = 100


@action("e_brightness")
@dataclass(frozen=True, slots=True)
class Brightness:
    """`e_brightness[:<-99-100>]`, default 80."""

    level: Annotated[int, Range(-99, 100)] = 80


@action("e_contrast")
@dataclass(frozen=True, slots=True)
class Contrast:
    """`e_contrast[:<-100-100>]`, default 0."""

    level: Annotated[int, Range(-100, 100)] = 0


@action("e_saturation")
@dataclass(frozen=True, slots=True)
class Saturation:
    """`e_saturation[:<-100-100>]`, default 80."""

    level: Annotated[int, Range(-100, 100)] = 80


@action("e_negate")
@dataclass(frozen=True, slots=True)
class Negate:
    """`e_negate`: invert colours (alpha kept)."""


@action("e_pixelate")
@dataclass(frozen=True, slots=True)
class Pixelate:
    """`e_pixelate[:<1-200>]`, default 5: square size in pixels."""

    size: Annotated[int, Range(1, 200)] = 5


@action("e_vignette")
@dataclass(frozen=True, slots=True)
class Vignette:
    """`e_vignette[:<0-100>]`, default 20."""

    strength: Annotated[int, Range(0, 100)] = 20


@action("e_trim", stage=Stage.TRIM)
@dataclass(frozen=True, slots=True)
class Trim:
    """`e_trim[:<0-100>]`, default 10: trim borders of the corner colour (or transparency)."""

    tolerance: Annotated[int, Range(0, 100)] = 10


@action("e_colorize")
@dataclass(frozen=True, slots=True)
class Colorize:
    """`e_colorize[:<0-100>]`, default 100, colour from `co_` (default gray)."""

    level: Annotated[int, Range(0, 100)] = 100
    color: Annotated[Color, Qualifier("co")] = GRAY


@action("e_tint")
@dataclass(frozen=True, slots=True)
class Tint:
    """`e_tint[:equalize][:<0-100>[:<color>[:<pos>p]…]]`, default 60 and red (`co_` also sets
    the colour). Several colours make a gradient over the pixels' luma, at their positions
    (percent of the luma range; evenly spread where not given). `equalize` stretches the
    luma histogram first. Grammar in `transform.accessibility`."""

    amount: Annotated[int, Range(0, 100)] = 60
    color: Annotated[Color, Qualifier("co")] = RED
    #: the first colour's position (percent), when given
    position: Annotated[int, Range(0, 100)] | None = None
    #: the gradient's further colours, each with its position (percent) when given
    more: tuple[tuple[Color, int | None], ...] = ()
    equalize: bool = False


# ── background removal (issue 4): only as the first component ───────────────────────────────

#: Cloudinary's hint classes for `e_background_removal:hints_(…)`.
HINT_CLASSES: frozenset[str] = frozenset(
    {
        "airplane", "bus", "dining-table", "sheep", "bicycle", "car", "dog", "sofa", "bird",
        "cat", "horse", "train", "boat", "chair", "person", "tv", "bottle", "cow",
        "potted-plant", "motorbike",
    }
)  # fmt: skip


@action("e_background_removal", stage=Stage.REMOVAL)
@dataclass(frozen=True, slots=True)
class BackgroundRemoval:
    """`e_background_removal[:fineedges_y|n][;hints_(a;b)]` (options joined with `;`).

    Must be the first component of the chain. Hints are sorted and deduplicated so that
    equivalent URLs share one matte.
    """

    fine_edges: bool = False
    hints: tuple[str, ...] = ()


EFFECTS: tuple[type, ...] = (
    Grayscale,
    BlackWhite,
    Sepia,
    Blur,
    Sharpen,
    Brightness,
    Contrast,
    Saturation,
    Negate,
    Pixelate,
    Vignette,
    Trim,
    Colorize,
    Tint,
)

StaticStep: TypeAlias = (
    Resize
    | Rotate
    | RoundCorners
    | Border
    | Opacity
    | Background
    | Grayscale
    | BlackWhite
    | Sepia
    | Blur
    | Sharpen
    | Brightness
    | Contrast
    | Saturation
    | Negate
    | Pixelate
    | Vignette
    | Trim
    | Colorize
    | Tint
    | BackgroundRemoval
    | Shadow
    | DropShadow
    | Mask
    | Outline
    | PixelateFaces
    | BlurFaces
)
if TYPE_CHECKING:  # control structures built by the chain parser (see `transform.dynamic`)
    from .accessibility import AssistColorblind
    from .dynamic import Conditional, Dynamic
    from .vectorize import Vectorize

    Step: TypeAlias = StaticStep | Dynamic | Conditional | AssistColorblind | Vectorize
else:
    Step = StaticStep

__all__ = [
    "EFFECTS",
    "HINT_CLASSES",
    "Background",
    "BackgroundRemoval",
    "BlackWhite",
    "Blur",
    "Border",
    "Brightness",
    "Colorize",
    "Contrast",
    "Grayscale",
    "Negate",
    "Opacity",
    "Pixelate",
    "Resize",
    "Rotate",
    "RotateMode",
    "RoundCorners",
    "Saturation",
    "Sepia",
    "Sharpen",
    "Step",
    "Tint",
    "Trim",
    "Vignette",
]
