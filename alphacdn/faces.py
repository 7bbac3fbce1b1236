"""`Faces`: the faces of a source, found once per content and cached; never fetched at request time.

    delivery  get(asset, required) ── cached (matte namespace, keyed by content md5 + model)
                                   └─ decode a ≤ 1024 px copy → BlazeFace → cache → fractions

A plan that asks for faces (`g_face`, `g_faces`, `g_auto:faces`, `c_thumb,g_face`,
`e_pixelate_faces`, `e_blur_faces`) gets them, or a 503 naming the install command when the
face model is not installed; plain `g_auto` uses them as a hint when the model is there and
does without otherwise. An empty list (no face) is cached too: fallbacks are decided by the
engine. Detection runs in a worker thread, one at a time per process (a 256² model: tens of
milliseconds, most of it decoding), and rechecks the cache after waiting its turn.
"""

from __future__ import annotations

import threading
from pathlib import Path

import anyio
import anyio.to_thread

from alphacdn import engine
from alphacdn.cache import AssetRecord, DerivedStore, OriginalsStore, asset_tag, matte_key
from alphacdn.models import MODELS
from alphacdn.models.faces import (
    FACE_MODEL,
    FaceDetector,
    faces_from_json,
    faces_in,
    faces_to_json,
)
from alphacdn.models.fetch import ModelMissing, install_command, require_model
from alphacdn.transform.errors import ServiceUnavailable

FaceBox = tuple[float, float, float, float]
#: pixels decoded for detection at most (the copy the model sees is ≤ 1024 px anyway)
_FIT_PIXELS = 4_000_000


def faces_key(etag: str) -> str:
    """The cache key of the faces of the content `etag` (in the matte namespace)."""
    return matte_key("content", etag, 0, FACE_MODEL, "faces")


class Faces:
    """Finds, caches and hands out the faces of an asset's original."""

    def __init__(
        self,
        *,
        models_dir: Path,
        store: DerivedStore,
        originals: OriginalsStore,
        max_source_pixels: int,
        max_source_side: int,
        threads: int = 1,
    ) -> None:
        self._models_dir = models_dir
        self._store = store
        self._originals = originals
        self._max_pixels = max_source_pixels
        self._max_side = max_source_side
        self._threads = threads
        self._detector: FaceDetector | None = None
        self._load = threading.Lock()
        self._turn = anyio.Lock()
        #: detections run by this process (exposed for tests and /metrics)
        self.runs = 0

    def missing_message(self) -> str | None:
        """None if the face model is installed (and verified), else how to install it."""
        try:
            require_model(MODELS[FACE_MODEL], self._models_dir)
        except ModelMissing as exc:
            return str(exc)
        return None

    def _detector_or_none(self) -> FaceDetector | None:
        with self._load:
            if self._detector is None:
                if self.missing_message() is not None:
                    return None
                path = MODELS[FACE_MODEL].file_path(self._models_dir)
                self._detector = FaceDetector(path, threads=self._threads)
            return self._detector

    def _cached(self, key: str) -> list[FaceBox] | None:
        entry = self._store.get_matte(key)
        if entry is None or "faces" not in entry.meta:
            return None
        return [f.box for f in faces_from_json(str(entry.meta["faces"]))]

    async def get(
        self, asset: AssetRecord, *, required: bool, source: bytes | None = None
    ) -> list[FaceBox] | None:
        """Face boxes as fractions of the upright original (or of `source`, the bytes of a
        source that is not an original: a fetched image, whose record's etag is its content).
        Model missing: 503 when `required`, else None (the render does without)."""
        key = faces_key(asset.etag)
        found = await anyio.to_thread.run_sync(self._cached, key)
        if found is not None:
            return found
        if self.missing_message() is not None:
            if required:
                raise ServiceUnavailable(
                    f"face detection is not installed; install it with "
                    f"`{install_command(FACE_MODEL)}`"
                )
            return None
        async with self._turn:
            return await anyio.to_thread.run_sync(self._detect, asset, key, source)

    def _detect(self, asset: AssetRecord, key: str, source: bytes | None) -> list[FaceBox] | None:
        found = self._cached(key)  # another request of this process may have done it
        if found is not None:
            return found
        detector = self._detector_or_none()
        if detector is None:
            return None
        data = source
        if data is None:
            data = self._originals.read(asset.cloud, asset.public_id, version=asset.version)
        picture = engine.Picture(
            data, max_pixels=self._max_pixels, max_side=self._max_side, fit_pixels=_FIT_PIXELS
        )
        faces = faces_in(picture, detector)
        self.runs += 1
        meta = {"faces": faces_to_json(faces), "model": FACE_MODEL}
        self._store.put_matte(key, b"", meta, tag=asset_tag(asset.cloud, asset.public_id))
        return [f.box for f in faces]


__all__ = ["FaceBox", "Faces", "faces_key"]
