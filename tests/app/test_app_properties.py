"""Thousands of generated delivery URLs through the whole app: nothing answers 5xx, and every
URL that renders agrees with its canonical form."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import pyvips
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from alphacdn.app import create_app
from alphacdn.cache import LocalOriginals
from alphacdn.settings import Settings
from alphacdn.transform import canonical, parse_chain
from tests.conftest import MODELS_DIR
from tests.transform.test_properties import ALPHABET, chains

ASSET = "dot"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root: Path = tmp_path_factory.mktemp("props")
    s = Settings.for_data_dir(root)
    # a tiny source and a 1 MP output cap keep thousands of renders fast
    s = replace(
        s,
        engine=replace(s.engine, max_source_pixels=1_000_000, vips_cache_mb=0),
        models=replace(s.models, models_dir=MODELS_DIR, default_model="u2netp", ort_threads=1),
    )
    app = create_app(s)
    img = pyvips.Image.black(24, 16, bands=3).linear(1, [200, 40, 90])
    data = img.cast("uchar").copy(interpretation="srgb").pngsave_buffer()
    LocalOriginals(s.cache.originals_dir).put(
        "demo", ASSET, data, {"format": "png", "width": 24, "height": 16}
    )
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


common = settings(
    max_examples=700,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@common
@given(chains(), st.sampled_from(["", ".png", ".jpg", ".webp", ".gif"]))
def test_generated_chains_never_5xx(client: TestClient, chain: str, ext: str) -> None:
    resp = client.get(f"/demo/image/upload/{chain}/{ASSET}{ext}", headers={"accept": "image/*"})
    assert resp.status_code < 500, (chain, resp.text)
    if resp.status_code == 200:
        # the canonical form of what rendered names the same cache entry
        canon = canonical(parse_chain(chain))
        again = client.get(
            f"/demo/image/upload/{canon}/{ASSET}{ext}"
            if canon
            else f"/demo/image/upload/{ASSET}{ext}",
            headers={"accept": "image/*"},
        )
        assert again.status_code == 200
        assert again.headers["etag"] == resp.headers["etag"]


@common
@given(st.text(ALPHABET + "ABC.\\é%", max_size=60))
def test_junk_paths_never_5xx(client: TestClient, junk: str) -> None:
    resp = client.get("/demo/image/upload/" + junk)
    assert resp.status_code < 500, (junk, resp.text)
    if resp.status_code >= 400:
        assert "x-cld-error" in resp.headers
