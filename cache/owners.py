"""Who holds a claim or a job lease: `host:pid:nonce`, and whether that holder is gone.

A lease must not outlive its holder (kill -9, OOM, a deploy): on the holder's own host, a dead
pid is seen at once (signal 0 probes, sends nothing), so claims and job leases of a dead process
are taken over without waiting out their TTL. A holder on another host is judged by its lease
alone (a shared backend's leases lapse when the holder stops renewing).
"""

from __future__ import annotations

import os
import socket
import uuid

__all__ = ["new_owner", "owner_is_dead"]

_HOST = socket.gethostname()


def new_owner() -> str:
    """A fresh owner token for this process: `host:pid:nonce`."""
    return f"{_HOST}:{os.getpid()}:{uuid.uuid4().hex}"


def _pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def owner_is_dead(token: str) -> bool:
    """True when `token`'s holder ran on this host and its process is gone (pid reuse aside)."""
    parts = token.split(":")
    if len(parts) < 3:
        return False  # a token from before owners were recorded: let it expire
    host, pid = ":".join(parts[:-2]), parts[-2]
    return host == _HOST and pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid))
