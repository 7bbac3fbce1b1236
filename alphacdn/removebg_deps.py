"""The remove.bg-style API's view of the application: real mattes, shared with the CDN.

Images posted to `/v1.0/removebg` or `/v2/tasks` are matted through the same `Mattes` as
delivery URLs, keyed by content, so one image sent twice, or sent to both surfaces, runs the
model once. Concurrent identical requests, and a delivery job for the same image, share one
computation (single-flight), within the same queue bound and inference slots.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from alphacdn.mattes import Mattes, content_id
from alphacdn.models.detect_classes import classes_for_type, removebg_type
from alphacdn.net import fetch_url
from alphacdn.removebg.deps import ApiKey, CutoutResult
from alphacdn.removebg.errors import ApiError
from alphacdn.settings import Settings
from alphacdn.transform import BackgroundRemoval
from alphacdn.transform.errors import ServiceUnavailable


class AppRemoveBgDeps:
    """`RemoveBgDeps` over the app's settings and mattes."""

    def __init__(self, settings: Settings, mattes: Mattes) -> None:
        self.settings = settings
        self.mattes = mattes
        http = settings.http
        keys: dict[str, ApiKey] = {}  # never the upload api_keys: browsers see those
        for key, conf in http.removebg_keys.items():
            keys[key] = ApiKey(
                key,
                credits=float(conf.get("credits", http.removebg_default_credits)),
                free_calls=int(conf.get("free_calls", 50)),
                rate_limit=int(conf.get("rate_limit", 500)),
            )
        self._keys = keys

    @property
    def state_dir(self) -> Path:
        return self.settings.cache.state_dir / "removebg"

    @property
    def api_keys(self) -> Mapping[str, ApiKey]:
        return self._keys

    @property
    def public_url(self) -> str | None:
        return self.settings.http.public_url

    @property
    def allow_private_urls(self) -> bool:
        return self.settings.http.allow_private_urls

    async def cutout(self, image: bytes, *, fine_edges: bool, type: str) -> CutoutResult:
        """The cut-out of `image`, selecting `type`'s classes when it names some: through
        `Mattes`, so it shares the matte (and a run in progress) with delivery URLs."""
        classes = classes_for_type(type) or ()
        etag = content_id(image)
        removal = BackgroundRemoval(fine_edges, tuple(sorted(set(classes))))
        try:
            outcome = await self.mattes.cutout(
                etag, lambda: image, removal, tag=f"api/{etag}", detect=type == "auto"
            )
        except ServiceUnavailable as exc:
            # the queue bound or a missing model, in the API's error shape (with Retry-After)
            raise ApiError(503, "service_unavailable", exc.public, headers=exc.headers) from None
        detected = type
        if type == "auto":
            best = max(outcome.detected or (), key=lambda d: d.score, default=None)
            detected = removebg_type(best.coco_class) if best else "product"
        return CutoutResult(png=outcome.png, confidence=outcome.confidence, type=detected)

    async def fetch(self, url: str, *, max_bytes: int) -> bytes:
        return await fetch_url(
            url, max_bytes=max_bytes, timeout=30.0, allow_private=self.allow_private_urls
        )

    async def publish(self, name: str, data: bytes, media_type: str) -> str | None:
        return None  # task results are served from /v2/tasks/<id>/files/<name>


__all__ = ["AppRemoveBgDeps"]
