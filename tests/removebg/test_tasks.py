"""`/v2/tasks`: lifecycle, webhook to a real local listener, restart resume, lease expiry."""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import pyvips

from alphacdn.removebg.tasks import TaskStore
from tests.removebg.helpers import KEY, FakeDeps, Listener, ThreadServer, build_app, make_image

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
    store = TaskStore(tmp_path)
    task_id = store.create(
        owner=KEY,
        args={},
        fields={"size": "preview"},
        image=make_image(),
        base_url="http://x/",
        webhook_url=None,
    )["_id"]
    assert store.claim(lease_seconds=0.2) is not None  # a runner that then dies
    assert store.claim(lease_seconds=0.2) is None
    store.close()
    time.sleep(0.3)
    srv = ThreadServer(build_app(FakeDeps(tmp_path))).start()
    try:
        with httpx.Client(base_url=srv.url, timeout=10) as c:
            assert wait_for(c, task_id, {"completed", "failed"})["status"] == "completed"
    finally:
        srv.stop()
