"""One cut-out, start to finish: original bytes → upright sRGB pixels → model → refined RGBA PNG.

The wiring's glue between `alphacdn.engine` (decode / encode) and `alphacdn.models` (inference,
refinement, confidence, hints). Blocking; the runner calls it in a worker thread.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from alphacdn import engine
from alphacdn.models import Matter, ModelMissing, make_cutout, user_model
from alphacdn.settings import Settings

#: mattes are refined at full resolution up to this many pixels; bigger sources are scaled down
#: (and say so in `X-Alphacdn-Matte-Scaled`): refinement memory grows with the pixel count
MATTE_MAX_PIXELS = 16_000_000


@dataclass(frozen=True, slots=True)
class MatteOutcome:
    """A finished cut-out and what the response headers and upload results report about it."""

    png: bytes
    width: int
    height: int
    confidence: float
    scaled_from: tuple[int, int] | None
    hints: tuple[str, ...]
    hints_report: str
    timings: dict[str, float] = field(default_factory=dict)

    def headers(self) -> dict[str, str]:
        h = {"X-Alphacdn-Confidence": f"{self.confidence:.3f}"}
        if self.scaled_from:
            w, h0 = self.scaled_from
            h["X-Alphacdn-Matte-Scaled"] = f"{self.width}x{self.height} from {w}x{h0}"
        if self.hints:
            h["X-Alphacdn-Hints"] = self.hints_report
        return h

    def result_json(self) -> dict[str, Any]:
        return {
            "confidence": self.confidence,
            "width": self.width,
            "height": self.height,
            "hints": self.hints_report,
            "timings": self.timings,
        }


class CutoutMaker:
    """Owns the model sessions (created once, shared) and makes cut-outs from source bytes."""

    def __init__(self, settings: Settings) -> None:
        m = settings.models
        user = None
        if m.user_model_path is not None:
            user = user_model(
                m.user_model_path, m.user_model_size, m.user_model_mean, m.user_model_std
            )
        self.matter = Matter(m.models_dir, ort_threads=m.ort_threads, user_model=user)

    def missing_message(self, model: str) -> str | None:
        """None if the model is installed, else the message naming the install command."""
        try:
            self.matter.check(model)
        except (ModelMissing, KeyError) as exc:
            return str(exc).strip("'\"")
        return None

    def estimated_seconds(self, model: str) -> float:
        return float(self.matter.estimated_seconds(model))

    def make(
        self,
        source: bytes,
        model: str,
        *,
        fine_edges: bool,
        hints: tuple[str, ...],
        max_pixels: int,
    ) -> MatteOutcome:
        image = engine.load(source, max_pixels=max_pixels)
        scaled_from = None
        if image.width * image.height > MATTE_MAX_PIXELS:
            scaled_from = (image.width, image.height)
            scale = math.sqrt(MATTE_MAX_PIXELS / (image.width * image.height))
            image = engine.scale_image(image, scale)
        rgb = engine.to_rgb_array(image)
        cut = make_cutout(self.matter, model, rgb, fine_edges=fine_edges)
        rgba = cut.rgba
        hints_report = ""
        if hints:
            # class selection arrives with the hints issue; until then the header says so
            hints_report = "not-applied;requested=" + ";".join(hints)
        png = engine.encode_rgba_png(np.ascontiguousarray(rgba))
        return MatteOutcome(
            png=png,
            width=rgba.shape[1],
            height=rgba.shape[0],
            confidence=float(cut.confidence),
            scaled_from=scaled_from,
            hints=hints,
            hints_report=hints_report,
            timings={k: round(v, 4) for k, v in cut.timings.items()},
        )


__all__ = ["MATTE_MAX_PIXELS", "CutoutMaker", "MatteOutcome"]
