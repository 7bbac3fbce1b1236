"""Real servers for the store contract tests and the fleet e2e tests, each started once per
session on loopback (registered for every test by `pytest_plugins` in tests/conftest.py).

- S3: Ceph radosgw. `scripts/services/radosgw.sh` installs the Debian packages when missing and
  starts a throwaway one-node cluster (a few seconds); every test gets its own bucket. Set
  `ALPHACDN_TEST_S3_ENDPOINT_URL` (with the standard `AWS_*` credentials) to run the same tests
  against another S3 server instead (MinIO, AWS …).
- Redis: Debian's redis-server through `scripts/services/redis.sh` (installs it when missing,
  starts in ~0.1 s); every test works under its own key prefix. Set `ALPHACDN_TEST_REDIS_URL`
  to use another server instead.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from alphacdn.cache.s3_bucket import S3Bucket, make_client
from tests.ports import free_port
from tests.s3_server import S3Server

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ROOT = Path(__file__).resolve().parents[1]
RADOSGW = ROOT / "scripts" / "services" / "radosgw.sh"
REDIS = ROOT / "scripts" / "services" / "redis.sh"
#: radosgw.sh's and redis.sh's exit status when the packages cannot be installed here
CANNOT_INSTALL = 3
#: length of a lifecycle "day" on the session's radosgw (only buckets with rules notice)
LC_DAY_SECONDS = 2


def _read_env(path: Path) -> dict[str, str]:
    pairs = (line.removeprefix("export ").split("=", 1) for line in path.read_text().split("\n"))
    return {p[0]: p[1] for p in pairs if len(p) == 2}


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    external = os.environ.get("ALPHACDN_TEST_S3_ENDPOINT_URL")
    if external:
        yield S3Server(
            external,
            os.environ["AWS_ACCESS_KEY_ID"],
            os.environ["AWS_SECRET_ACCESS_KEY"],
            os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        )
        return
    # ceph keeps its admin sockets under here: the path must fit a unix socket name (108 bytes)
    state = Path(tmp_path_factory.mktemp("rgw", numbered=True))
    proc = subprocess.run(
        ["bash", str(RADOSGW), "start", str(state), str(free_port())],
        capture_output=True,
        text=True,
        timeout=600,
        # a lifecycle "day" of LC_DAY_SECONDS lets a test watch an expiry rule act
        env={**os.environ, "RADOSGW_LC_DAY_SECONDS": str(LC_DAY_SECONDS)},
    )
    if proc.returncode == CANNOT_INSTALL:
        pytest.skip(f"radosgw is not installed and cannot be: {proc.stderr.strip()[-500:]}")
    if proc.returncode != 0:
        pytest.fail(f"radosgw.sh start failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    env = _read_env(state / "s3.env")
    try:
        yield S3Server(
            env["AWS_ENDPOINT_URL"],
            env["AWS_ACCESS_KEY_ID"],
            env["AWS_SECRET_ACCESS_KEY"],
            env["AWS_DEFAULT_REGION"],
            LC_DAY_SECONDS,
        )
    finally:
        subprocess.run(["bash", str(RADOSGW), "stop", str(state)], capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def s3_client(s3_server: S3Server) -> S3Client:
    """One client for the session (making one costs ~0.3 s; it is thread-safe)."""
    return make_client(
        s3_server.endpoint_url,
        credentials=(s3_server.access_key, s3_server.secret_key),
        region=s3_server.region,
    )


@pytest.fixture
def s3_bucket(s3_client: S3Client) -> S3Bucket:
    """A new, empty bucket on the session's server, under a key prefix (as a deployment may)."""
    bucket = S3Bucket(s3_client, f"alphacdn-test-{uuid.uuid4().hex[:16]}", prefix="site/a")
    bucket.ensure()
    return bucket


class RedisProcess:
    """A redis-server of our own started by `redis.sh` in `state`: stop it, start it again."""

    def __init__(self, state: Path, port: int) -> None:
        self.state, self.port = state, port
        self.url = f"redis://127.0.0.1:{port}/0"

    def start(self) -> None:
        proc = subprocess.run(
            ["bash", str(REDIS), "start", str(self.state), str(self.port)],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if proc.returncode == CANNOT_INSTALL:
            pytest.skip(f"redis-server is not installed and cannot be: {proc.stderr[-500:]}")
        if proc.returncode != 0:
            pytest.fail(f"redis.sh start failed ({proc.returncode}):\n{proc.stderr[-3000:]}")

    def stop(self) -> None:
        cmd = ["bash", str(REDIS), "stop", str(self.state)]
        subprocess.run(cmd, capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The session's Redis; `ALPHACDN_TEST_REDIS_URL` tells child processes where it is."""
    external = os.environ.get("ALPHACDN_TEST_REDIS_URL")
    if external:
        yield external
        return
    server = RedisProcess(tmp_path_factory.mktemp("redis", numbered=True), free_port())
    server.start()
    try:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("ALPHACDN_TEST_REDIS_URL", server.url)  # spawn children inherit it
            yield server.url
    finally:
        server.stop()


@pytest.fixture
def redis_prefix(redis_url: str) -> str:
    """A key prefix of this test's own (with a hash tag, as the stores' defaults have)."""
    return f"test:{{{uuid.uuid4().hex}}}:"


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    """A redis-server for this test alone, which it may stop and start again."""
    server = RedisProcess(tmp_path / "redis", free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()
