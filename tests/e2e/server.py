"""A real `alphacdn serve` (uvicorn) on 127.0.0.1, in a subprocess, with temp-dir settings; or,
with `worker=True`, an `alphacdn worker` whose metrics port is `port`."""

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
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import MODELS_DIR, ROOT
from tests.ports import free_port

#: the model part of the test servers' matte keys: ALPHACDN_MODEL with the person route on
#: (rvm and the detector are --for-tests models; `Mattes.key`)
MATTE_MODEL = "u2netp+rvm"


def metric_sum(text: str, name: str, **labels: str) -> float:
    """The sum of the samples `name` in Prometheus `text` whose labels include `labels`
    (read with prometheus-client's own parser, which refuses a malformed text)."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                total += sample.value
    return total


def port_is_free(port: int) -> bool:
    """True when a listener could bind `port` now (as uvicorn binds: with SO_REUSEADDR)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def wait_port_free(port: int, timeout: float = 30.0) -> None:
    """Wait until nothing listens on `port`.

    After kill -9 of a server's process group the supervisor is reaped at once, but a worker
    process still dying (busy in a syscall on a loaded machine) keeps the inherited listening
    socket open for a while: a restart on the same port before then fails with EADDRINUSE.
    """
    deadline = time.monotonic() + timeout
    while not port_is_free(port):
        if time.monotonic() > deadline:
            raise RuntimeError(f"port {port} still in use {timeout}s after the server stopped")
        time.sleep(0.05)


@dataclass
class Server:
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    workers: int = 1
    log_level: str = "warning"
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    #: run `alphacdn worker --metrics-port <port>` instead of `serve`
    worker: bool = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def jobs(self) -> dict[str, Any]:
        """The `jobs` part of this server's /metrics.json (runs, failures, loaded models)."""
        jobs: dict[str, Any] = httpx.get(self.url + "/metrics.json").json()["jobs"]
        return jobs

    def metric(self, name: str, **labels: str) -> float:
        """The sum of the samples `name` (e.g. `alphacdn_model_runs_total`) in this server's
        `/metrics` whose labels include `labels`: every worker process together."""
        return metric_sum(httpx.get(self.url + "/metrics").text, name, **labels)

    def start(self, timeout: float = 30.0) -> Server:
        if self.port:  # a restart keeps its address, once the old listener is gone
            wait_port_free(self.port)
        else:
            self.port = free_port()
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
        log = self.log_path.open("ab")  # a restart appends: the earlier run's log stays readable
        if self.worker:
            command = ["worker", "--metrics-port", str(self.port)]
        else:
            command = ["serve", "--port", str(self.port), "--workers", str(self.workers)]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "alphacdn.cli", *command, "--log-level", self.log_level],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"server exited early (rc {self.proc.returncode}):\n{self.log()[-4000:]}"
                )
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not start in {timeout}s:\n{self.log()[-4000:]}")

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


__all__ = ["Server", "metric_sum", "port_is_free", "wait_port_free"]
