"""Keys through a real `alphacdn serve`: remove.bg keys are their own keys (the Cloudinary
api_key, which browsers see, is refused), and the development keys are live on loopback only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from alphacdn.settings import DEV_API_KEY, DEV_REMOVEBG_KEY
from tests.e2e.server import Server


def _removebg(server: Server, key: str) -> httpx.Response:
    # no image: a key that is accepted gets 400 (what is missing), a refused one 403
    return httpx.post(
        server.url + "/v1.0/removebg", data={"size": "full"}, headers={"X-Api-Key": key}
    )


def _code(resp: httpx.Response) -> str:
    return str(resp.json()["errors"][0].get("code", ""))


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("dev")).start()
    yield srv
    srv.stop()


def test_the_cloudinary_api_key_is_not_a_removebg_key(dev_server: Server) -> None:
    refused = _removebg(dev_server, DEV_API_KEY)
    assert refused.status_code == 403 and _code(refused) == "invalid_api_key"
    account = httpx.get(dev_server.url + "/v1.0/account", headers={"X-Api-Key": DEV_API_KEY})
    assert account.status_code == 403
    accepted = _removebg(dev_server, DEV_REMOVEBG_KEY)
    assert accepted.status_code == 400, accepted.text


def test_own_keys_serve_on_a_public_address_and_replace_the_dev_keys(tmp_path: Path) -> None:
    env = {
        "ALPHACDN_HOST": "0.0.0.0",
        "ALPHACDN_API_KEY": "999999999999999",
        "ALPHACDN_API_SECRET": "own-secret",
        "ALPHACDN_REMOVEBG_KEYS": "rb-own-1,rb-own-2",
    }
    srv = Server(tmp_path / "own", env=env).start()
    try:
        assert _removebg(srv, "rb-own-2").status_code == 400
        for key in ("999999999999999", DEV_REMOVEBG_KEY, DEV_API_KEY):
            refused = _removebg(srv, key)
            assert refused.status_code == 403 and _code(refused) == "invalid_api_key", key
    finally:
        srv.stop()


def test_dev_keys_on_a_public_address_only_when_allowed(tmp_path: Path) -> None:
    refused = Server(tmp_path / "refused", env={"ALPHACDN_HOST": "0.0.0.0"})
    with pytest.raises(RuntimeError, match="refusing to serve the documented development keys"):
        refused.start()
    env = {"ALPHACDN_HOST": "0.0.0.0", "ALPHACDN_ALLOW_DEV_KEYS": "true"}
    srv = Server(tmp_path / "allowed", env=env).start()
    try:
        assert _removebg(srv, DEV_REMOVEBG_KEY).status_code == 400
    finally:
        srv.stop()
