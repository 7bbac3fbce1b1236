"""A fleet on real engines: two web replicas and one worker (real uvicorn processes on loopback)
sharing nothing but a real S3 server (radosgw) and a redis-server; each has an empty data dir of
its own. The tests run in file order on one fleet (each builds on the state the one before
left): a worker killed mid-matte, 50 first requests over both replicas, reuse of the matte, a
render claimed once across replicas, replicas restarted on an empty disk, Redis stopped and
started again, and an S3 endpoint that does not answer."""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cloudinary.api
import cloudinary.exceptions
import cloudinary.uploader
import httpx
import numpy as np
import pytest
import pyvips

from alphacdn.cache import JobStatus
from alphacdn.cache.redis_client import connect
from alphacdn.cache.redis_queue import RedisJobQueue
from alphacdn.cache.s3_bucket import S3Bucket, make_client
from alphacdn.mattes import content_matte_key
from alphacdn.settings import DEV_REMOVEBG_KEY
from alphacdn.transform import BackgroundRemoval
from tests.conftest import FIXTURES
from tests.e2e.conftest import configure_sdk, upload_fixture
from tests.e2e.server import MATTE_MODEL, Server
from tests.ports import free_port
from tests.s3_server import S3Server
from tests.services import RedisProcess

pytestmark = pytest.mark.model

TIGER = FIXTURES / "e2e" / "tiger-on-backdrop.jpg"
TIGER_ALPHA = FIXTURES / "e2e" / "tiger-on-backdrop.alpha.png"
#: how long a client keeps polling a 423 (or a 503 while the worker is restarted)
POLL_SECONDS = 90


@dataclass
class Fleet:
    web: list[Server]
    worker: Server
    redis: RedisProcess
    bucket: S3Bucket
    queue: RedisJobQueue

    def model_runs(self) -> int:
        """`alphacdn_model_runs_total` of the worker (since it last started)."""
        text = httpx.get(self.worker.url + "/metrics", timeout=10).text
        found = re.search(r'^alphacdn_model_runs_total\{model="u2netp"\} ([0-9.e+]+)$', text, re.M)
        assert found, text
        return int(float(found.group(1)))

    def renders(self) -> int:
        """Renders done by both web replicas (since they last started)."""
        return sum(int(httpx.get(w.url + "/metrics.json").json()["renders"]) for w in self.web)

    def derived_objects(self) -> int:
        return sum(1 for _ in self.bucket.objects("derived/obj/"))


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory, s3_server: S3Server) -> Iterator[Fleet]:
    root = tmp_path_factory.mktemp("fleet")
    redis = RedisProcess(root / "redis", free_port())
    redis.start()
    name = f"alphacdn-fleet-{uuid.uuid4().hex[:12]}"
    env = {
        "ALPHACDN_STORE_URL": f"s3://{name}/site",
        "ALPHACDN_S3_ENDPOINT_URL": s3_server.endpoint_url,
        "AWS_ACCESS_KEY_ID": s3_server.access_key,
        "AWS_SECRET_ACCESS_KEY": s3_server.secret_key,
        "AWS_DEFAULT_REGION": s3_server.region,
        "ALPHACDN_REDIS_URL": redis.url,
        "ALPHACDN_JOB_POLL_SECONDS": "0.1",
    }
    web = [Server(root / f"web{i}", env={**env, "ALPHACDN_ROLE": "web"}) for i in (1, 2)]
    worker = Server(root / "worker", env=env, worker=True)
    client = make_client(
        s3_server.endpoint_url,
        credentials=(s3_server.access_key, s3_server.secret_key),
        region=s3_server.region,
    )
    bucket = S3Bucket(client, name, "site")
    started: list[Server] = []
    try:
        for srv in (*web, worker):
            started.append(srv.start(timeout=60))
        configure_sdk(web[0])
        yield Fleet(web, worker, redis, bucket, RedisJobQueue(connect(redis.url)))
    finally:
        for srv in started:
            srv.stop()
        redis.stop()


def _poll(
    url: str, *, seen: list[int] | None = None, start: threading.Barrier | None = None
) -> httpx.Response:
    """GET `url` until it answers something else than 423 (or 503 while a worker restarts);
    `start`: every client's first request goes at once."""
    deadline = time.monotonic() + POLL_SECONDS
    with httpx.Client(timeout=30) as client:
        if start is not None:
            client.get(url.rsplit("/demo/", 1)[0] + "/health")  # connected before the start
            start.wait(timeout=30)
        while True:
            resp = client.get(url)
            if seen is not None:
                seen.append(resp.status_code)
            if resp.status_code not in (423, 503) or time.monotonic() > deadline:
                return resp
            time.sleep(min(0.5, float(resp.headers.get("retry-after", "1")) / 4))


def _removal_url(srv: Server, public_id: str, chain: str = "") -> str:
    middle = f"{chain}/" if chain else ""
    return f"{srv.url}/demo/image/upload/e_background_removal/{middle}{public_id}.png"


def test_each_process_reports_its_role_and_is_ready(fleet: Fleet) -> None:
    for srv, role in [(fleet.web[0], "web"), (fleet.web[1], "web"), (fleet.worker, "worker")]:
        assert httpx.get(srv.url + "/health", timeout=10).json()["role"] == role
        ready = httpx.get(srv.url + "/readyz", timeout=10)
        assert ready.status_code == 200, ready.text
        checks = ready.json()["checks"]
        assert checks["s3"] == "ok" and checks["redis"] == "ok", checks
        assert ("model" in checks) is (role == "worker")  # a web replica needs no model


def test_a_worker_killed_mid_matte_is_replaced_and_clients_get_200(fleet: Fleet) -> None:
    etag = upload_fixture("dog-bike.jpg", "crashy")["etag"]
    key = content_matte_key(etag, MATTE_MODEL, BackgroundRemoval())
    url = _removal_url(fleet.web[0], "crashy")
    assert httpx.get(url).status_code == 423
    # mid-matte: claimed by the worker (its first job: the model loads, then infers)
    deadline = time.monotonic() + 30
    while (rec := fleet.queue.get(key)) is None or rec.status is not JobStatus.RUNNING:
        assert time.monotonic() < deadline, rec
        time.sleep(0.005)
    fleet.worker.stop(kill=True)
    assert fleet.queue.get(key).status is JobStatus.RUNNING  # type: ignore[union-attr]
    assert httpx.get(url).status_code == 423  # the web replica answers on, without a worker
    fleet.worker.start(timeout=60)  # takes the dead process's lease over at once (same host)
    seen: list[int] = []
    resp = _poll(url, seen=seen)
    assert resp.status_code == 200, (seen, resp.text)
    assert resp.headers["content-type"] == "image/png"
    done = fleet.queue.get(key)
    assert done is not None and done.status is JobStatus.DONE and done.attempts == 2


def test_fifty_first_requests_over_two_replicas_run_the_model_once(fleet: Fleet) -> None:
    upload_fixture("cat-street.jpg", "cat")
    before = fleet.model_runs()
    urls = [_removal_url(fleet.web[i % 2], "cat") for i in range(50)]
    seen: list[list[int]] = [[] for _ in urls]
    start = threading.Barrier(50)
    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(lambda i: _poll(urls[i], seen=seen[i], start=start), range(50)))
    assert [r.status_code for r in answers] == [200] * 50, seen
    # first answers: 423 while the matte was on its way (a straggler may come after it)
    assert {s[0] for s in seen} <= {423, 200}
    assert sum(s[0] == 423 for s in seen) >= 25, seen
    assert len({r.content for r in answers}) == 1
    assert fleet.model_runs() - before == 1

    # a later transformation of that asset on the other replica reuses the matte: no 423
    later = httpx.get(_removal_url(fleet.web[1], "cat", "w_120"), timeout=30)
    assert later.status_code == 200, later.text
    assert fleet.model_runs() - before == 1


def test_a_render_requested_on_both_replicas_is_rendered_and_stored_once(fleet: Fleet) -> None:
    upload_fixture("car-house.jpg", "car")
    renders, stored = fleet.renders(), fleet.derived_objects()
    path = "/demo/image/upload/c_fill,w_301,h_211/car.jpg"
    urls = [fleet.web[i % 2].url + path for i in range(16)]
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda u: httpx.get(u, timeout=30), urls))
    assert [r.status_code for r in answers] == [200] * 16
    assert len({r.content for r in answers}) == 1
    assert fleet.renders() - renders == 1
    assert fleet.derived_objects() - stored == 1


def test_an_upload_preset_made_on_one_replica_serves_unsigned_uploads_on_the_other(
    fleet: Fleet,
) -> None:
    configure_sdk(fleet.web[0])
    cloudinary.api.create_upload_preset(name="fleet_shop", unsigned=True, folder="fleet")
    try:
        configure_sdk(fleet.web[1])
        done = cloudinary.uploader.unsigned_upload(
            str(FIXTURES / "e2e" / "car-house.jpg"), "fleet_shop", public_id="shared"
        )
        assert done["public_id"] == "fleet/shared"
        cloudinary.api.delete_upload_preset("fleet_shop")
        configure_sdk(fleet.web[0])  # the deletion shows on the other replica too
        with pytest.raises(cloudinary.exceptions.Error, match="preset not found"):
            cloudinary.uploader.unsigned_upload(
                str(FIXTURES / "e2e" / "car-house.jpg"), "fleet_shop"
            )
    finally:
        configure_sdk(fleet.web[0])


def test_remove_bg_on_a_web_replica_is_matted_by_the_worker(fleet: Fleet) -> None:
    """A web replica never runs a model: `/v1.0/removebg` has the worker make the matte (a
    `cutout` job), then composes and charges on the replica; tasks run on the worker and their
    files are served by any replica."""
    key = {"X-Api-Key": DEV_REMOVEBG_KEY}
    tiger = ("tiger.jpg", TIGER.read_bytes(), "image/jpeg")
    runs = fleet.model_runs()
    resp = httpx.post(
        fleet.web[1].url + "/v1.0/removebg",
        files={"image_file": tiger},
        data={"size": "full", "format": "png", "type": "auto"},
        headers=key,
        timeout=120,
    )
    assert resp.status_code == 200, resp.text
    assert (resp.headers["x-width"], resp.headers["x-height"]) == ("400", "273")
    assert resp.headers["x-type"] in {"animal", "product", "person", "car", "transportation"}
    alpha = np.asarray(pyvips.Image.new_from_buffer(resp.content, "")[3].numpy()) > 127
    truth = np.asarray(pyvips.Image.new_from_file(str(TIGER_ALPHA)).numpy()) > 127
    assert (alpha & truth).sum() / (alpha | truth).sum() > 0.8
    assert fleet.model_runs() == runs + 1
    # the same bytes on the other replica: the matte is shared, no second run
    again = httpx.post(
        fleet.web[0].url + "/v1.0/removebg",
        files={"image_file": tiger},
        data={"channels": "alpha", "type": "auto"},
        headers=key,
        timeout=120,
    )
    assert again.status_code == 200, again.text
    assert fleet.model_runs() == runs + 1
    # a task created on one replica runs on the worker; its file comes from the other replica
    created = httpx.post(
        fleet.web[0].url + "/v2/tasks/create",
        files={"image": tiger},
        data={"tool": "background_removal", "format": "png"},
        headers=key,
        timeout=30,
    )
    assert created.status_code == 200, created.text
    task_id = created.json()["task"]["_id"]
    deadline = time.monotonic() + 60
    while (task := httpx.get(f"{fleet.web[1].url}/v2/tasks/{task_id}", headers=key).json())["task"][
        "status"
    ] in ("pending", "running"):
        assert time.monotonic() < deadline, task
        time.sleep(0.2)
    assert task["task"]["status"] == "completed", task
    url = task["task"]["result"][0]["output"][0]["url"]
    name = url.rsplit("/", 1)[1]
    file = httpx.get(f"{fleet.web[1].url}/v2/tasks/{task_id}/files/{name}", timeout=30)
    assert file.status_code == 200 and file.headers["content-type"] == "image/png"
    assert fleet.model_runs() == runs + 1
    # synchronous eager with a removal, uploaded to a web replica: the worker makes the matte
    done = upload_fixture("portrait-longhair.jpg", "portrait", eager="e_background_removal,w_80")
    assert [e["status"] for e in done["eager"]] == ["processed"], done
    assert fleet.model_runs() == runs + 2
    path = "/demo/image/upload/e_background_removal,w_80/portrait.jpg"
    eager = httpx.get(fleet.web[1].url + path, timeout=30)
    assert eager.status_code == 200 and eager.headers["x-alphacdn-cache"] == "HIT"


def test_replicas_restarted_on_an_empty_disk_serve_from_s3_without_rendering(
    fleet: Fleet,
) -> None:
    for srv in fleet.web:
        srv.stop()
        shutil.rmtree(srv.data_dir)
        srv.start(timeout=60)
    runs = fleet.model_runs()
    for srv in fleet.web:
        for path in ("c_fill,w_301,h_211/car.jpg", "e_background_removal/w_120/cat.png"):
            resp = httpx.get(f"{srv.url}/demo/image/upload/{path}", timeout=30)
            assert resp.status_code == 200, (path, resp.text)
            assert resp.headers["x-alphacdn-cache"] == "HIT", path
    assert fleet.renders() == 0
    assert fleet.model_runs() == runs
    for srv in fleet.web:  # the originals are in S3 too
        original = httpx.get(f"{srv.url}/demo/image/upload/car.jpg", timeout=30)
        assert original.status_code == 200


def test_redis_stopped_answers_503_quickly_hits_go_on_and_all_recovers(fleet: Fleet) -> None:
    web = fleet.web[0]
    hit = f"{web.url}/demo/image/upload/c_fill,w_301,h_211/car.jpg"
    assert httpx.get(hit).status_code == 200
    fleet.redis.stop()
    try:
        # a miss needs a render claim, a new matte needs the queue: 503 naming the backend
        for path in ("c_fill,w_77,h_77/car.jpg", "e_background_removal/car.png"):
            t0 = time.monotonic()
            resp = httpx.get(f"{web.url}/demo/image/upload/{path}", timeout=30)
            assert resp.status_code == 503, (path, resp.status_code, resp.text)
            assert time.monotonic() - t0 < 5
            assert int(resp.headers["retry-after"]) >= 1
            assert "redis" in resp.headers["x-cld-error"]
        # the JSON APIs say so in their own shape
        api = httpx.post(
            f"{web.url}/v1.0/removebg",
            headers={"X-Api-Key": "alphacdn-dev-removebg-key"},
            files={"image_file": ("a.jpg", b"not read yet", "image/jpeg")},
            timeout=30,
        )
        assert api.status_code == 503, api.text
        assert "redis" in api.json()["errors"][0]["title"]
        assert "retry-after" in api.headers
        # a cache hit needs neither the queue nor a claim
        again = httpx.get(hit, timeout=30)
        assert again.status_code == 200 and again.headers["x-alphacdn-cache"] == "HIT"
        time.sleep(1.5)  # the worker's loop meets the outage and keeps going
    finally:
        fleet.redis.start()  # an empty server (no persistence): the queue starts afresh
    fresh = httpx.get(f"{web.url}/demo/image/upload/c_fill,w_77,h_77/car.jpg", timeout=30)
    assert fresh.status_code == 200, fresh.text
    runs = fleet.model_runs()
    resp = _poll(_removal_url(fleet.web[1], "car"))  # the same worker process, no restart
    assert resp.status_code == 200, resp.text
    assert fleet.model_runs() == runs + 1
    assert fleet.worker.proc is not None and fleet.worker.proc.poll() is None


class Gate:
    """A TCP forwarder on loopback in front of the S3 server that can be closed (connections
    refused, open ones cut) and opened again on the same port: an S3 outage and its end,
    without restarting radosgw (whose memstore would forget the bucket)."""

    def __init__(self, target: str) -> None:
        host, port = target.removeprefix("http://").split(":")
        self.target = (host, int(port))
        self.port = free_port()
        self._open: list[socket.socket] = []
        self._listener: socket.socket | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def open(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def close(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):  # wakes the blocked accept (close alone does not)
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        for conn in self._open:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed
            upstream = socket.create_connection(self.target, timeout=10)
            self._open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


def test_s3_stopped_answers_503_quickly_and_the_replica_recovers(
    fleet: Fleet, s3_server: S3Server, tmp_path: Path
) -> None:
    gate = Gate(s3_server.endpoint_url)
    gate.open()
    env = {**fleet.web[0].env, "ALPHACDN_S3_ENDPOINT_URL": gate.url}
    srv = Server(tmp_path / "web3", env=env).start(timeout=60)
    hit = f"{srv.url}/demo/image/upload/c_fill,w_301,h_211/car.jpg"
    try:
        assert httpx.get(hit, timeout=30).status_code == 200
        gate.close()
        for url in (hit, f"{srv.url}/demo/image/upload/c_fill,w_55/car.jpg"):
            t0 = time.monotonic()
            resp = httpx.get(url, timeout=30)
            assert resp.status_code == 503, resp.text
            assert time.monotonic() - t0 < 5
            assert "s3" in resp.headers["x-cld-error"] and int(resp.headers["retry-after"]) >= 1
        gate.open()  # the same replica, no restart
        back = httpx.get(hit, timeout=30)
        assert back.status_code == 200 and back.headers["x-alphacdn-cache"] == "HIT"
        fresh = httpx.get(f"{srv.url}/demo/image/upload/c_fill,w_55/car.jpg", timeout=30)
        assert fresh.status_code == 200, fresh.text
    finally:
        srv.stop()
        gate.close()


def test_an_s3_endpoint_that_does_not_answer_is_503_within_seconds(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    env = {
        "ALPHACDN_STORE_URL": "s3://nowhere",
        "ALPHACDN_S3_ENDPOINT_URL": dead,
        "AWS_ACCESS_KEY_ID": "k",
        "AWS_SECRET_ACCESS_KEY": "s",
        "AWS_DEFAULT_REGION": "us-east-1",
        "ALPHACDN_ROLE": "web",
    }
    srv = Server(tmp_path / "web", env=env).start(timeout=60)
    try:
        t0 = time.monotonic()
        resp = httpx.get(f"{srv.url}/demo/image/upload/w_10/any.jpg", timeout=30)
        assert resp.status_code == 503, resp.text
        assert time.monotonic() - t0 < 5
        assert "s3" in resp.headers["x-cld-error"] and int(resp.headers["retry-after"]) >= 1
        listing = httpx.get(
            f"{srv.url}/v1_1/demo/resources/image",
            auth=("123456789012345", "alphacdn-dev-secret"),
            timeout=30,
        )
        assert listing.status_code == 503, listing.text
        assert "s3" in listing.json()["error"]["message"]
    finally:
        srv.stop()
