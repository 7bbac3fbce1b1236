"""What a matte cache entry holds (the cut-out PNG + JSON metadata) and the headers it serves.

Metadata of an entry: `confidence`, `width`, `height`, `scaled_from`, `hints`, `hints_report`,
`matched`, `route`, `headers` (the response headers, ready for a cache hit) and, in a salient
matte's entry once the detector has looked, `detections`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from alphacdn.cache import Entry
from alphacdn.models.detector import Detection, detections_from_json, detections_to_json
from alphacdn.models.matting import MatteOutcome, Salient


def format_timings(timings: Mapping[str, float]) -> str:
    """`k=v;k=v`, keys sorted, 3 decimals (epoch seconds keep their milliseconds)."""
    return ";".join(f"{k}={v:.3f}" for k, v in sorted(timings.items()))


def matte_headers(outcome: MatteOutcome) -> dict[str, str]:
    """The `X-Alphacdn-*` response headers that describe a cut-out."""
    h = {"X-Alphacdn-Confidence": f"{outcome.confidence:.3f}"}
    if outcome.scaled_from:
        w, h0 = outcome.scaled_from
        h["X-Alphacdn-Matte-Scaled"] = f"{outcome.width}x{outcome.height} from {w}x{h0}"
    if outcome.hints:
        h["X-Alphacdn-Hints"] = outcome.hints_report or "none-detected"
        h["X-Alphacdn-Hints-Matched"] = "yes" if outcome.matched else "no (full matte served)"
    if outcome.route:  # which pipeline made the matte: the salient model's, or a person's
        h["X-Alphacdn-Route"] = outcome.route
    if outcome.timings:  # seconds spent by the job that made the matte (Server-Timing style)
        h["X-Alphacdn-Matte-Timings"] = format_timings(outcome.timings)
    return h


def entry_meta(
    outcome: MatteOutcome, detections: tuple[Detection, ...] | None = None
) -> dict[str, Any]:
    """The metadata stored with `outcome.png`."""
    meta: dict[str, Any] = {
        "confidence": outcome.confidence,
        "width": outcome.width,
        "height": outcome.height,
        "scaled_from": list(outcome.scaled_from) if outcome.scaled_from else None,
        "hints": list(outcome.hints),
        "hints_report": outcome.hints_report,
        "matched": outcome.matched,
        "route": outcome.route,
        "headers": matte_headers(outcome),
    }
    if detections is not None:
        meta["detections"] = detections_to_json(list(detections))
    return meta


def with_detections(
    meta: Mapping[str, Any], detections: tuple[Detection, ...] | None
) -> dict[str, Any]:
    """`meta` plus the detector's findings (the headers still describe the job that made it)."""
    return {**meta, "detections": detections_to_json(list(detections or ()))}


def _detections(meta: Mapping[str, Any]) -> tuple[Detection, ...] | None:
    text = meta.get("detections")
    return None if text is None else tuple(detections_from_json(str(text)))


def _scaled_from(meta: Mapping[str, Any]) -> tuple[int, int] | None:
    size = meta.get("scaled_from")
    return (int(size[0]), int(size[1])) if size else None


def outcome_of(entry: Entry) -> MatteOutcome:
    """The cut-out a cache entry holds (no timings: no job ran for this answer)."""
    meta = entry.meta
    return MatteOutcome(
        png=entry.body,
        width=int(meta["width"]),
        height=int(meta["height"]),
        confidence=float(meta["confidence"]),
        scaled_from=_scaled_from(meta),
        hints=tuple(meta.get("hints", ())),
        hints_report=str(meta.get("hints_report", "")),
        matched=bool(meta.get("matched", True)),
        detected=_detections(meta),
        route=str(meta.get("route", "")),
    )


def salient_of(entry: Entry) -> Salient:
    """The salient matte a cache entry holds."""
    meta = entry.meta
    return Salient(
        png=entry.body,
        width=int(meta["width"]),
        height=int(meta["height"]),
        confidence=float(meta["confidence"]),
        scaled_from=_scaled_from(meta),
        detections=_detections(meta),
        route=str(meta.get("route", "")),
    )


__all__ = [
    "entry_meta",
    "format_timings",
    "matte_headers",
    "outcome_of",
    "salient_of",
    "with_detections",
]
