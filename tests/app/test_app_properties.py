"""Thousands of generated delivery URLs through the whole app: nothing answers 5xx, and every
URL that renders agrees with its canonical form; a bounded run of the same through a real
uvicorn, where every answer arrives and every header is printable."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

import cloudinary.uploader
import httpx
import pytest
import pyvips
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from alphacdn.app import create_app
from alphacdn.cache import LocalOriginals
from alphacdn.responses import MAX_ECHO, safe_text
from alphacdn.settings import Settings
from alphacdn.transform import canonical, parse_chain
from tests.conftest import MODELS_DIR
from tests.e2e.conftest import configure_sdk
from tests.e2e.server import Server
from tests.transform.test_expressions import dynamic_chains
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


# ── the same through a real uvicorn ──────────────────────────────────────────────────────────
# The in-process client does not validate headers as the server does: uvicorn (h11) refuses a
# header value with a control character and drops the connection without any answer, which
# thousands of in-process examples could not see.

#: characters a request can carry only percent-encoded, and one outside latin-1
UNSAFE = "\x00\x01\t\n\r\x1b\x7f\x85é狗"
#: printable ASCII: what every header value of an answer must be
_PRINTABLE = re.compile(r"[\x20-\x7e]*")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    env = {"ALPHACDN_MAX_SOURCE_PIXELS": "1000000", "ALPHACDN_VIPS_CACHE_MB": "0"}
    srv = Server(tmp_path_factory.mktemp("props-uvicorn"), env=env).start()
    try:
        configure_sdk(srv)
        img = pyvips.Image.black(24, 16, bands=3).linear(1, [200, 40, 90])
        data = img.cast("uchar").copy(interpretation="srgb").pngsave_buffer()
        cloudinary.uploader.upload(io.BytesIO(data), public_id=ASSET)
        with httpx.Client(base_url=srv.url, timeout=30) as client:
            yield client
    finally:
        srv.stop()


def _answered(client: httpx.Client, target: str) -> httpx.Response:
    """The answer to `GET target` (an httpx error here means the server dropped it)."""
    resp = client.get(target, headers={"accept": "image/*"})
    assert resp.status_code < 500, (target, resp.text)
    for name, value in resp.headers.raw:
        assert _PRINTABLE.fullmatch(value.decode("latin-1")), (target, name, value)
    return resp


real = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@real
@given(st.text(ALPHABET + "ABC.\\%" + UNSAFE, max_size=60), st.text(ALPHABET + UNSAFE, max_size=20))
def test_junk_through_uvicorn_is_always_answered(
    served: httpx.Client, junk: str, query: str
) -> None:
    # `%` stays as typed, so the junk can spell its own escapes (`%00`)
    target = "/demo/image/upload/" + quote(junk, safe="/,:;()$%_.-") + "?q=" + quote(query)
    resp = _answered(served, target)
    if resp.status_code >= 400:
        assert "x-cld-error" in resp.headers


@real
@given(chains(), st.sampled_from(["", ".png", ".webp"]))
def test_generated_chains_through_uvicorn_never_5xx(
    served: httpx.Client, chain: str, ext: str
) -> None:
    _answered(served, f"/demo/image/upload/{quote(chain, safe='/,:;()$%_.-')}/{ASSET}{ext}")


@pytest.mark.parametrize("char", list(UNSAFE))
@pytest.mark.parametrize(
    "template",
    [
        "/demo/image/upload/w_100/{c}abc",  # the public_id
        "/demo/image/upload/w_{c}/" + ASSET,  # a component's value
        "/demo/image/upload/{c}_1/" + ASSET,  # a component's name
        "/demo/image/upload/w_100/" + ASSET + ".png?_a={c}",  # the query
    ],
)
def test_control_characters_are_echoed_escaped(
    served: httpx.Client, template: str, char: str
) -> None:
    """Regression: `w_100/%00abc` was echoed raw into X-Cld-Error and got no answer at all."""
    resp = _answered(served, template.format(c=quote(char)))
    error = resp.headers.get("x-cld-error", "")
    # an error body that echoes the character: the header echoes it too, escaped
    if resp.status_code >= 400 and char in resp.text.removesuffix("\n"):
        assert char.encode("unicode_escape").decode("ascii") in error


def test_safe_text_escapes_and_bounds() -> None:
    assert safe_text("w_\x00a\nb\té\u72d7\x7f") == "w_\\x00a\\nb\\t\\xe9\\u72d7\\x7f"
    assert safe_text("plain: ok (1/2)") == "plain: ok (1/2)"
    long = safe_text("start " + "é" * 1000 + " (too long)")
    assert len(long) == MAX_ECHO
    assert long.startswith("start \\xe9") and "..." in long and long.endswith(" (too long)")


@settings(common, max_examples=150)
@given(dynamic_chains(), st.sampled_from(["", "w_auto", "dpr_auto"]), st.sampled_from(
    [{}, {"sec-ch-width": "333", "sec-ch-dpr": "2"}, {"width": "0"}, {"dpr": "x"}]))  # fmt: skip
def test_generated_dynamic_chains_never_5xx(
    client: TestClient, chain: str, extra: str, hints: dict[str, str]
) -> None:
    """Variables, expressions, conditions and client hints (issue 14) never answer 5xx."""
    chain = f"{chain}/{extra}" if extra else chain
    resp = client.get(f"/demo/image/upload/{chain}/{ASSET}.png", headers=hints)
    assert resp.status_code < 500, (chain, resp.text)
