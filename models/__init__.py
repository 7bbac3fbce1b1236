"""Weights and inference: model registry, fetching, sessions, refinement, confidence."""

from .confidence import matte_confidence
from .fetch import (
    FetchError,
    InstalledModel,
    ModelMissing,
    fetch_models,
    installed_models,
    require_model,
)
from .refine import Cutout, make_cutout
from .registry import (
    DEFAULT_MODEL,
    DEFAULT_SET,
    FOR_TESTS,
    MODELS,
    ModelKind,
    ModelSpec,
    get_spec,
    user_model,
)
from .sessions import Matter

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_SET",
    "FOR_TESTS",
    "MODELS",
    "Cutout",
    "FetchError",
    "InstalledModel",
    "Matter",
    "ModelKind",
    "ModelMissing",
    "ModelSpec",
    "fetch_models",
    "get_spec",
    "installed_models",
    "make_cutout",
    "matte_confidence",
    "require_model",
    "user_model",
]
