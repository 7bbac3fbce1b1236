"""Loopback ports for test and bench servers, chosen outside the kernel's ephemeral range.

A port taken from the ephemeral range (what `bind(0)` hands out, and what a random pick in
20000–60000 mostly lands in) can be taken between the pick and the server's own bind by the
local end of any outgoing connection: a Redis client, boto3 talking to radosgw, ceph's daemons
talking to each other. Once that happened in CI (`cluster.sh up`: "address already in use").
Ports below the ephemeral range are never handed out to outgoing connections, so a port that
binds now stays free until a server of ours takes it.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Sequence
from pathlib import Path

_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
#: lowest port we hand out (clear of the well-known and registered services people run locally)
_FLOOR = 10000
_rng = random.SystemRandom()


def ephemeral_range() -> tuple[int, int]:
    """The kernel's range for the local end of outgoing connections (Linux default 32768–60999)."""
    try:
        low, high = (int(x) for x in _RANGE_FILE.read_text().split())
    except (OSError, ValueError):
        return 32768, 60999
    return low, high


def _candidates(span: int) -> tuple[int, int]:
    """The [first, last] start ports for a block of `span` ports outside the ephemeral range."""
    low, high = ephemeral_range()
    if low - span > _FLOOR + 1000:
        return _FLOOR, low - span
    return high + 1, 65535 - span  # a machine whose ephemeral range starts low: use the top


def _bindable(port: int) -> bool:
    """True when nothing holds `port` on loopback (no listener, no connection end, no TIME_WAIT)."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(offsets: Sequence[int] = (0,)) -> int:
    """A base port such that base + each offset is free now; raise after 200 tries."""
    first, last = _candidates(max(offsets))
    for _ in range(200):
        base = _rng.randint(first, last)
        if all(_bindable(base + o) for o in offsets):
            return base
    raise RuntimeError(f"no free loopback ports in {first}–{last + max(offsets)}")


def free_port() -> int:
    """One free loopback port outside the ephemeral range."""
    return free_ports((0,))
