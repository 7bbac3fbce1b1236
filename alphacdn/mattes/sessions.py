"""The model pieces a `Mattes` is built with, from the model settings."""

from __future__ import annotations

from alphacdn import engine
from alphacdn.models import Matter, user_model
from alphacdn.models.matting import Codec, MatteModels
from alphacdn.settings import ModelSettings


def matte_models(settings: ModelSettings) -> MatteModels:
    """The model sessions (made on first use) and the engine's PNG codec, from the settings."""
    user = None
    if settings.user_model_path is not None:
        user = user_model(
            settings.user_model_path,
            settings.user_model_size,
            settings.user_model_mean,
            settings.user_model_std,
        )
    matter = Matter(
        settings.models_dir,
        ort_threads=settings.ort_threads,
        user_model=user,
        providers=settings.ort_providers,
    )
    codec = Codec(encode=engine.encode_rgba_png, decode=engine.decode_rgba_png)
    person = None if settings.person_model.lower() == "none" else settings.person_model
    return MatteModels(matter, codec, detector_threads=settings.ort_threads, person_model=person)


__all__ = ["matte_models"]
