"""A real uvicorn (in a thread) serving the removebg routes over a deterministic fake cut-out,
a local HTTP listener (webhooks, remote images), and synthetic images."""

from __future__ import annotations

import contextlib
import http.server
import json
import socket
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import pyvips
import uvicorn
from starlette.applications import Starlette

from alphacdn.cache import JobStore
from alphacdn.engine import encode_rgba_png
from alphacdn.jobs.runner import JobRunner
from alphacdn.net import fetch_url
from alphacdn.removebg import ApiKey, CutoutResult, RemoveBgApi
from alphacdn.settings import JobSettings

KEY = "test-key"
POOR_KEY = "poor-key"
SLOW_KEY = "slow-key"  # rate limit 3 megapixel-images per minute


def make_image(width: int = 120, height: int = 80, fmt: str = ".png", box: bool = True) -> bytes:
    """White background with a red rectangle in the middle half (the 'subject')."""
    arr = np.full((height, width, 3), 255, np.uint8)
    if box:
        arr[height // 4 : 3 * height // 4, width // 4 : 3 * width // 4] = (200, 30, 30)
    image = pyvips.Image.new_from_memory(arr.tobytes(), width, height, 3, "uchar")
    return bytes(image.write_to_buffer(fmt))


@dataclass
class FakeDeps:
    """`RemoveBgDeps` with a threshold 'model': everything not near-white is foreground."""

    state_dir: Path
    api_keys: dict[str, ApiKey] = field(
        default_factory=lambda: {
            KEY: ApiKey(KEY, credits=1000, free_calls=0, rate_limit=100_000),
            POOR_KEY: ApiKey(POOR_KEY, credits=0.5, free_calls=1, rate_limit=500),
            SLOW_KEY: ApiKey(SLOW_KEY, credits=100, free_calls=0, rate_limit=3),
        }
    )
    allow_private_urls: bool = True
    public_url: str | None = None
    delay: float = 0.0
    calls: int = 0

    async def cutout(self, image: bytes, *, fine_edges: bool, type: str) -> CutoutResult:
        self.calls += 1
        await anyio.sleep(self.delay)
        vips = pyvips.Image.new_from_buffer(image, "").autorot().colourspace("srgb")
        rgb = vips.extract_band(0, n=3)
        arr = np.ndarray(
            buffer=rgb.write_to_memory(), dtype=np.uint8, shape=(rgb.height, rgb.width, 3)
        )
        alpha = np.where(arr.min(axis=2) < 200, 255, 0).astype(np.uint8)
        png = encode_rgba_png(np.dstack([arr, alpha]))
        return CutoutResult(png, 0.9, "product" if type == "auto" else type)

    async def fetch(self, url: str, *, max_bytes: int) -> bytes:
        return await fetch_url(
            url, max_bytes=max_bytes, timeout=5.0, allow_private=self.allow_private_urls
        )

    async def publish(self, name: str, data: bytes, media_type: str) -> str | None:
        return None


def open_jobs(deps: FakeDeps) -> JobStore:
    """The job queue the app of `build_app(deps)` runs its tasks from."""
    return JobStore(deps.state_dir / "jobs")


def build_app(
    deps: FakeDeps, *, task_retention_seconds: float = 3600, **api_options: Any
) -> Starlette:
    """The removebg routes over `deps`, their tasks run by a job runner as in the app."""
    runner = JobRunner(open_jobs(deps), JobSettings(poll_seconds=0.1))
    api = RemoveBgApi(deps, runner, task_retention_seconds=task_retention_seconds, **api_options)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with api.lifespan(), runner.running(api.jobs.kinds()):
            yield

    app = Starlette(routes=api.routes(), lifespan=lifespan)
    app.state.api = api
    return app


class ThreadServer:
    """uvicorn on 127.0.0.1:<free port> in a background thread, with lifespan."""

    def __init__(self, app: Starlette) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.sock.close()


class Listener:
    """A local HTTP server: records POSTed JSON, serves `files` on GET."""

    def __init__(self) -> None:
        self.posts: list[Any] = []
        self.files: dict[str, bytes] = {}
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                outer.posts.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def do_GET(self) -> None:
                if self.path.startswith("/redirect/"):
                    self.send_response(302)
                    self.send_header("Location", self.path.removeprefix("/redirect"))
                    self.end_headers()
                    return
                body = outer.files.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
