"""`/v2/tasks`: lifecycle, webhook to a real local listener, restart resume, lease expiry,
retention sweep; tasks are jobs of kind `task` on the one job queue."""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import pyvips

from alphacdn.cache import BlobFolder, JobStatus
from alphacdn.removebg.tasks import KIND, TaskStore, job_key
from tests.removebg.helpers import (
    KEY,
    FakeDeps,
    Listener,
    ThreadServer,
    build_app,
    make_image,
    open_jobs,
)

AUTH = {"X-Api-Key": KEY}
DATA_URI = "data:image/png;base64," + base64.b64encode(make_image()).decode()


def wait_for(
    client: httpx.Client, task_id: str, statuses: set[str], timeout: float = 20
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task: dict[str, Any] = client.get(f"/v2/tasks/{task_id}", headers=AUTH).json()["task"]
        if task["status"] in statuses:
            return task
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} never reached {statuses}: {task}")


def test_lifecycle_with_webhook(client: httpx.Client, listener: Listener) -> None:
    listener.files["/cat.png"] = make_image(200, 100)
    body = {
        "tool": "background_removal",
        "args": {"image": listener.url + "/cat.png", "format": "png"},
        "webhook_url": listener.url + "/hook",
    }
    created = client.post("/v2/tasks/create", json=body, headers=AUTH)
    assert created.status_code == 200, created.text
    task = created.json()["task"]
    assert task["status"] == "pending" and task["_id"] and task["createdAt"]
    assert "X-RateLimit-Remaining" in created.headers
    done = wait_for(client, task["_id"], {"completed", "failed"})
    assert done["status"] == "completed", done
    output = done["result"][0]["output"][0]
    assert output["mediaAttributes"]["width"] == 200
    image = client.get(output["url"])
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert pyvips.Image.new_from_buffer(image.content, "").bands == 4
    deadline = time.monotonic() + 10
    while not listener.posts and time.monotonic() < deadline:
        time.sleep(0.05)
    assert listener.posts[-1]["task"]["_id"] == task["_id"]
    assert listener.posts[-1]["task"]["status"] == "completed"
    assert all(not k.startswith("_") or k == "_id" for k in listener.posts[-1]["task"])


def test_upload_and_failure(client: httpx.Client) -> None:
    upload = client.post(
        "/v2/tasks/create",
        data={"tool": "background_removal", "channels": "alpha"},
        files={"image": ("a.png", make_image())},
        headers=AUTH,
    )
    assert upload.status_code == 200, upload.text
    assert (
        wait_for(client, upload.json()["task"]["_id"], {"completed"})["args"]["image"] == "upload"
    )
    empty = base64.b64encode(make_image(box=False)).decode()
    failing = client.post(
        "/v2/tasks/create",
        headers=AUTH,
        json={"tool": "background_removal", "args": {"image": "data:image/png;base64," + empty}},
    )
    failed = wait_for(client, failing.json()["task"]["_id"], {"completed", "failed"})
    assert failed["status"] == "failed" and "unknown_foreground" in failed["error"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"tool": "upscale", "args": {"image": DATA_URI}}, 400, "unknown_tool"),
        ({"tool": "background_removal", "args": {}}, 400, "missing_source"),
        (
            {"tool": "background_removal", "args": {"image": DATA_URI, "size": "x"}},
            400,
            "unknown_value",
        ),
    ],
)
def test_create_errors(client: httpx.Client, body: dict[str, Any], status: int, code: str) -> None:
    response = client.post("/v2/tasks/create", json=body, headers=AUTH)
    assert response.status_code == status
    assert response.json()["errors"][0]["code"] == code


def test_other_keys_cannot_see_a_task(client: httpx.Client) -> None:
    body = {"tool": "background_removal", "args": {"image": DATA_URI}}
    task_id = client.post("/v2/tasks/create", json=body, headers=AUTH).json()["task"]["_id"]
    other = client.get(f"/v2/tasks/{task_id}", headers={"X-Api-Key": "poor-key"})
    assert other.status_code == 404
    assert client.get("/v2/tasks/nope", headers=AUTH).status_code == 404


def test_restart_resumes_a_running_task(tmp_path: Path) -> None:
    slow = FakeDeps(tmp_path, delay=60)
    first = ThreadServer(build_app(slow)).start()
    try:
        with httpx.Client(base_url=first.url, timeout=10) as c:
            body = {"tool": "background_removal", "args": {"image": DATA_URI}}
            task_id = c.post("/v2/tasks/create", json=body, headers=AUTH).json()["task"]["_id"]
            wait_for(c, task_id, {"running"})
    finally:
        first.stop()  # graceful: the running task goes back to pending
    second = ThreadServer(build_app(FakeDeps(tmp_path))).start()
    try:
        with httpx.Client(base_url=second.url, timeout=10) as c:
            assert wait_for(c, task_id, {"completed", "failed"})["status"] == "completed"
    finally:
        second.stop()


def test_expired_lease_of_a_dead_runner_is_reclaimed(tmp_path: Path) -> None:
    deps = FakeDeps(tmp_path)
    jobs = open_jobs(deps)
    store = TaskStore(jobs, BlobFolder(tmp_path / "tasks"), retention_seconds=3600)
    record = store.create(
        owner=KEY,
        args={},
        fields={"size": "preview"},
        image=make_image(),
        base_url="http://x/",
        webhook_url=None,
    )
    assert record.kind == KIND
    assert jobs.claim_next("dead-runner", lease_seconds=0.2) is not None  # then it dies
    assert jobs.claim_next("other", lease_seconds=0.2) is None
    jobs.close()
    time.sleep(0.3)
    srv = ThreadServer(build_app(deps)).start()
    try:
        with httpx.Client(base_url=srv.url, timeout=10) as c:
            task = wait_for(c, record.key.removeprefix("task:"), {"completed", "failed"})
            assert task["status"] == "completed"
    finally:
        srv.stop()


def test_finished_tasks_are_swept_after_their_retention(tmp_path: Path) -> None:
    deps = FakeDeps(tmp_path)
    srv = ThreadServer(build_app(deps, task_retention_seconds=1)).start()
    try:
        with httpx.Client(base_url=srv.url, timeout=10) as c:
            body = {"tool": "background_removal", "args": {"image": DATA_URI}}
            task_id = c.post("/v2/tasks/create", json=body, headers=AUTH).json()["task"]["_id"]
            done = wait_for(c, task_id, {"completed", "failed"})
            assert done["status"] == "completed"
            file_url = done["result"][0]["output"][0]["url"]
            assert c.get(file_url).status_code == 200  # kept until the retention is over
            assert (tmp_path / "tasks" / task_id).is_dir()
            deadline = time.monotonic() + 10
            while c.get(f"/v2/tasks/{task_id}", headers=AUTH).status_code != 404:
                assert time.monotonic() < deadline, "the task was never swept"
                time.sleep(0.1)
            assert c.get(file_url).status_code == 404
    finally:
        srv.stop()
    assert not (tmp_path / "tasks" / task_id).exists()
    jobs = open_jobs(deps)
    assert jobs.get(job_key(task_id)) is None
    jobs.close()


def test_sweep_keeps_unfinished_and_recent_tasks(tmp_path: Path) -> None:
    jobs = open_jobs(FakeDeps(tmp_path))
    blobs = BlobFolder(tmp_path / "tasks")
    store = TaskStore(jobs, blobs, retention_seconds=60)

    def create() -> str:
        record = store.create(
            owner=KEY, args={}, fields={}, image=b"img", base_url="http://x/", webhook_url=None
        )
        return record.key.removeprefix("task:")

    running, done, failed, queued = create(), create(), create(), create()
    for expected in (running, done, failed):  # oldest first
        claimed = jobs.claim_next("w", 600)
        assert claimed is not None and claimed.key == job_key(expected)
    jobs.finish(job_key(done), {})
    jobs.fail(job_key(failed), "broken")
    blobs.create("0" * 32)  # a folder whose task was never queued
    now = time.time()
    assert store.sweep(now) == 0  # nothing is older than the retention yet
    assert store.sweep(now + 61) == 2  # `done` and `failed` finished more than 60 s before
    assert {r.status for t in (queued, running) if (r := store.get(t))} == {
        JobStatus.QUEUED,
        JobStatus.RUNNING,
    }
    assert store.get(done) is None and store.get(failed) is None
    assert sorted(name for name, _ in blobs.groups()) == sorted([queued, running])
    assert store.input(queued) == b"img"
    jobs.close()


def test_a_task_webhook_to_a_private_address_is_not_sent(
    tmp_path: Path, listener: Listener
) -> None:
    deps = FakeDeps(tmp_path, allow_private_urls=False)
    srv = ThreadServer(build_app(deps)).start()
    try:
        with httpx.Client(base_url=srv.url, timeout=10) as c:
            body = {
                "tool": "background_removal",
                "args": {"image": DATA_URI},
                "webhook_url": listener.url + "/private-hook",
            }
            task_id = c.post("/v2/tasks/create", json=body, headers=AUTH).json()["task"]["_id"]
            assert wait_for(c, task_id, {"completed", "failed"})["status"] == "completed"
            # one runner loop: once a second task has run, the first one's webhook step is over
            del body["webhook_url"]
            second = c.post("/v2/tasks/create", json=body, headers=AUTH).json()["task"]["_id"]
            assert wait_for(c, second, {"completed", "failed"})["status"] == "completed"
    finally:
        srv.stop()
    assert not [p for p in listener.posts if p.get("task", {}).get("_id") == task_id]
