"""`scripts/cluster.sh up|status|down`: the whole scale-out topology on loopback, once.

Redis, radosgw, two `alphacdn serve --role web`, one `alphacdn worker`, nginx. Skipped while
this checkout has no `alphacdn worker` (the roles), or when a Debian package is missing and
cannot be installed.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import cloudinary
import httpx
import pytest

from alphacdn.settings import DEV_API_KEY, DEV_API_SECRET
from tests.conftest import MODELS_DIR, ROOT
from tests.e2e.conftest import upload_fixture

CLUSTER = ROOT / "scripts" / "cluster.sh"
#: the ports cluster.sh uses above its base: nginx, web ×2, worker metrics, Redis, radosgw
OFFSETS = (0, 1, 2, 9, 10, 11)
PIECES = ("redis", "s3", "web1", "web2", "worker", "nginx")


def _has_roles() -> bool:
    cmd = [sys.executable, "-m", "alphacdn.cli", "worker", "--help"]
    return subprocess.run(cmd, capture_output=True, cwd=ROOT, timeout=60).returncode == 0


def _free_base() -> int:
    for _ in range(50):
        base = random.randrange(20000, 60000)
        free = True
        for offset in OFFSETS:
            with socket.socket() as s:
                free = free and s.connect_ex(("127.0.0.1", base + offset)) != 0
        if free:
            return base
    raise RuntimeError("no free port range")


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(CLUSTER), *args], capture_output=True, text=True, env=env, timeout=600
    )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    if not _has_roles():
        pytest.skip("this checkout has no `alphacdn worker` (roles, issue 13 part 3)")
    base = _free_base()
    env = {
        **os.environ,
        # ceph's admin sockets live under here: keep the path short
        "CLUSTER_DIR": str(Path(tmp_path_factory.mktemp("cl", numbered=True))),
        "CLUSTER_PORT": str(base),
        "ALPHACDN": f"{sys.executable} -m alphacdn.cli",
        "ALPHACDN_MODELS_DIR": str(MODELS_DIR),
        "ALPHACDN_MODEL": "u2netp",
        "ALPHACDN_ORT_THREADS": "1",
    }
    up = _run(env, "up")
    if up.returncode != 0:
        _run(env, "down")
        if "cannot install" in up.stderr:
            pytest.skip(f"a package is missing and cannot be installed: {up.stderr[-500:]}")
        pytest.fail(f"cluster.sh up failed ({up.returncode}):\n{up.stdout}\n{up.stderr[-3000:]}")
    try:
        yield f"http://127.0.0.1:{base}", env
    finally:
        _run(env, "down")


def test_status_names_every_piece_up(cluster: tuple[str, dict[str, str]]) -> None:
    _, env = cluster
    status = _run(env, "status")
    assert status.returncode == 0, status.stdout
    states = {line.split()[0]: line.split()[1] for line in status.stdout.splitlines()}
    assert states == dict.fromkeys(PIECES, "up")


def test_an_upload_and_f_auto_through_the_cluster(cluster: tuple[str, dict[str, str]]) -> None:
    edge, _ = cluster
    cloudinary.reset_config()
    cloudinary.config(
        cloud_name="demo",
        api_key=DEV_API_KEY,
        api_secret=DEV_API_SECRET,
        upload_prefix=edge,
        secure=False,
    )
    upload_fixture("car-house.jpg", "car")
    url = f"{edge}/demo/image/upload/c_fill,w_120,h_90/f_auto/car"
    for accept, content_type in (("image/avif,*/*", "image/avif"), ("*/*", "image/jpeg")):
        first = httpx.get(url, headers={"Accept": accept}, timeout=60)
        again = httpx.get(url, headers={"Accept": accept}, timeout=60)
        assert first.status_code == 200, first.text
        assert first.headers["content-type"] == content_type
        assert (first.headers["x-edge-cache"], again.headers["x-edge-cache"]) == ("MISS", "HIT")


def test_down_stops_every_piece(tmp_path: Path, cluster: tuple[str, dict[str, str]]) -> None:
    _, env = cluster
    _run(env, "down")
    status = _run(env, "status")
    assert status.returncode == 1
    states = {line.split()[0]: line.split()[1] for line in status.stdout.splitlines()}
    assert states == dict.fromkeys(PIECES, "down")
