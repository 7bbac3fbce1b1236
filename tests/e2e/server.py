"""A real `alphacdn serve` (uvicorn) on 127.0.0.1, in a subprocess, with temp-dir settings."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import MODELS_DIR, ROOT

#: the model part of the test servers' matte keys: ALPHACDN_MODEL with the person route on
#: (rvm and the detector are --for-tests models; `Mattes.key`)
MATTE_MODEL = "u2netp+rvm"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    workers: int = 1
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def jobs(self) -> dict[str, Any]:
        """The `jobs` part of this server's /metrics (runs, failures, loaded models)."""
        jobs: dict[str, Any] = httpx.get(self.url + "/metrics").json()["jobs"]
        return jobs

    def start(self, timeout: float = 30.0) -> Server:
        self.port = self.port or free_port()  # a restart keeps its address
        env = {
            **os.environ,
            "ALPHACDN_DATA_DIR": str(self.data_dir),
            "ALPHACDN_MODELS_DIR": str(MODELS_DIR),
            "ALPHACDN_MODEL": "u2netp",
            "ALPHACDN_ORT_THREADS": "1",
            **self.env,
        }
        self.log_path = self.data_dir / f"server-{self.port}.log"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "alphacdn.cli",
                "serve",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not start in {timeout}s:\n{self.log()}")

    def stop(self, *, kill: bool = False) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""


__all__ = ["Server", "free_port"]
