"""Where the processes of one server keep their Prometheus metrics (multiprocess mode).

prometheus-client chooses, when it is first imported, between counting in memory and counting in
per-process files under `PROMETHEUS_MULTIPROC_DIR`; only the files let one `/metrics` answer for
every worker process of `alphacdn serve --workers N`. So the process that starts the server (or
`alphacdn worker`) calls `prepare(data_dir)` before anything imports prometheus-client (this
module does not), and the worker processes it starts inherit the variable.

Layout: `<data dir>/metrics/<host>-<pid>/` (`<temp dir>/alphacdn-metrics/…` when the data dir
cannot take it), one directory per server start (`pid` of the process
that called `prepare`, `host` so that replicas sharing a data dir never share one). A start
removes the directories of earlier starts on this host whose process is gone, and its own
directory when it exits. Inside a run, the files of a worker process that died stay: its
counters still count (totals never go backwards); only its `live*` gauge files are dropped
(`metrics.sweep_dead_processes`, at every scrape).

`PROMETHEUS_MULTIPROC_DIR` set by the operator is used as it is: its `*.db` files are removed at
start (prometheus-client needs an empty directory per run) and nothing else is touched.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import socket
import tempfile
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    try:  # a zombie (dead, not yet reaped) holds nothing
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def prepare(data_dir: Path, env: dict[str, str] | None = None) -> Path:
    """Make this run's metrics directory and point `PROMETHEUS_MULTIPROC_DIR` at it (in
    `os.environ`, and in `env` too if given, e.g. the environment a child will get)."""
    given = os.environ.get(ENV)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink(missing_ok=True)
    else:
        host = socket.gethostname().replace("/", "_") or "host"
        try:
            path = _own_run(data_dir / "metrics", host)
        except OSError:  # a read-only data dir: the temp dir will do
            path = _own_run(Path(tempfile.gettempdir()) / "alphacdn-metrics", host)
        atexit.register(_remove_own, path, os.getpid())
    os.environ[ENV] = str(path)
    if env is not None:
        env[ENV] = str(path)
    return path


def _own_run(base: Path, host: str) -> Path:
    _remove_dead_runs(base, host)
    path = base / f"{host}-{os.getpid()}"
    shutil.rmtree(path, ignore_errors=True)  # a pid reused (a container's pid 1)
    path.mkdir(parents=True)
    return path


def _remove_dead_runs(base: Path, host: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        for run in base.iterdir():
            name, _, pid = run.name.rpartition("-")
            if name == host and pid.isdigit() and not pid_alive(int(pid)):
                shutil.rmtree(run, ignore_errors=True)


def _remove_own(path: Path, pid: int) -> None:
    if os.getpid() == pid:  # not in a forked child that exits
        shutil.rmtree(path, ignore_errors=True)


__all__ = ["ENV", "pid_alive", "prepare"]
