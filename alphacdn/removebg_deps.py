"""The remove.bg-style API's view of the application: real mattes, shared with the CDN.

Images posted to `/v1.0/removebg` or `/v2/tasks` are matted by the same `CutoutMaker` as
delivery URLs, keyed by content, so one image sent twice, or sent to both surfaces, runs the
model once. Concurrent identical requests share one computation (single-flight).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import anyio
import anyio.to_thread

from alphacdn.jobs.cutout import CutoutMaker, content_id, cutout_key
from alphacdn.models.detect_classes import classes_for_type, removebg_type
from alphacdn.net import fetch_url
from alphacdn.removebg.deps import ApiKey, CutoutResult
from alphacdn.services import Services


class AppRemoveBgDeps:
    """`RemoveBgDeps` over the app's services and matte maker."""

    def __init__(self, services: Services, maker: CutoutMaker, model: str) -> None:
        self.services = services
        self.maker = maker
        self.model = model
        http = services.settings.http
        keys = {k: ApiKey(k, credits=http.removebg_default_credits) for k in http.api_keys}
        for key, conf in http.removebg_keys.items():
            keys[key] = ApiKey(
                key,
                credits=float(conf.get("credits", http.removebg_default_credits)),
                free_calls=int(conf.get("free_calls", 50)),
                rate_limit=int(conf.get("rate_limit", 500)),
            )
        self._keys = keys
        #: one inference at a time per process: the API shares the matte runner's budget
        self._limiter = anyio.CapacityLimiter(max(1, services.settings.jobs.concurrency))

    @property
    def state_dir(self) -> Path:
        return self.services.settings.cache.state_dir / "removebg"

    @property
    def api_keys(self) -> Mapping[str, ApiKey]:
        return self._keys

    @property
    def allow_private_urls(self) -> bool:
        return self.services.settings.http.allow_private_urls

    async def cutout(self, image: bytes, *, fine_edges: bool, type: str) -> CutoutResult:
        """The cut-out of `image`, selecting `type`'s classes when it names some."""
        classes = classes_for_type(type) or ()
        etag = content_id(image)
        key = cutout_key(etag, self.model, fine_edges, tuple(sorted(classes)))
        tag = f"api/{etag}"

        async def produce() -> CutoutResult:
            outcome = await anyio.to_thread.run_sync(
                lambda: self.maker.make(
                    image,
                    self.model,
                    fine_edges=fine_edges,
                    hints=tuple(classes),
                    tag=tag,
                    detect=type == "auto",
                ),
                limiter=self._limiter,
            )
            detected = type
            if type == "auto":
                best = max(outcome.detected, key=lambda d: d.score, default=None)
                detected = removebg_type(best.coco_class) if best else "product"
            return CutoutResult(png=outcome.png, confidence=outcome.confidence, type=detected)

        def check() -> CutoutResult | None:
            return None  # results are not cached as such; the salient matte is

        return await self.services.flight.run(key, produce, check)

    async def fetch(self, url: str, *, max_bytes: int) -> bytes:
        return await fetch_url(
            url, max_bytes=max_bytes, timeout=30.0, allow_private=self.allow_private_urls
        )

    async def publish(self, name: str, data: bytes, media_type: str) -> str | None:
        return None  # task results are served from /v2/tasks/<id>/files/<name>


__all__ = ["AppRemoveBgDeps"]
