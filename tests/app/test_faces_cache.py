"""`alphacdn.faces.Faces`: faces found once per content (the cache outlives the process and is
shared by public_ids with the same bytes); a missing model is a 503 only when faces are asked
for."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from alphacdn.cache import DerivedCache, LocalOriginals
from alphacdn.faces import Faces
from alphacdn.transform.errors import ServiceUnavailable
from tests.conftest import FIXTURES, MODELS_DIR

WOMEN = (FIXTURES / "faces" / "two-women.jpg").read_bytes()
META = {"format": "jpg", "width": 320, "height": 480}


def _faces(tmp: Path, models_dir: Path = MODELS_DIR) -> tuple[Faces, LocalOriginals]:
    originals = LocalOriginals(tmp / "originals")
    store = DerivedCache(tmp / "derived", size_limit=50_000_000)
    faces = Faces(
        models_dir=models_dir,
        store=store,
        originals=originals,
        max_source_pixels=50_000_000,
        max_source_side=20_000,
    )
    return faces, originals


@pytest.mark.model
def test_detected_once_per_content(tmp_path: Path) -> None:
    faces, originals = _faces(tmp_path)
    first = originals.put("demo", "women", WOMEN, META)
    twin = originals.put("demo", "same/bytes", WOMEN, META)

    async def go() -> None:
        boxes = await faces.get(first, required=True)
        assert boxes is not None and len(boxes) == 2
        assert all(0 <= v <= 1 for box in boxes for v in box)
        assert await faces.get(first, required=True) == boxes
        assert await faces.get(twin, required=False) == boxes  # the same content
        assert faces.runs == 1
        again, _ = _faces(tmp_path)  # another process on the same cache
        assert await again.get(first, required=True) == boxes and again.runs == 0

    anyio.run(go)


def test_missing_model_is_503_only_when_asked_for(tmp_path: Path) -> None:
    faces, originals = _faces(tmp_path, models_dir=tmp_path / "no-models")
    asset = originals.put("demo", "women", WOMEN, META)
    assert "fetch-models blazeface" in (faces.missing_message() or "")

    async def go() -> None:
        assert await faces.get(asset, required=False) is None  # g_auto does without
        with pytest.raises(ServiceUnavailable, match="fetch-models blazeface"):
            await faces.get(asset, required=True)

    anyio.run(go)
