"""What the benches read from /proc: the load, busy CPU, a process group's CPU and RSS.

Imported by the bench scripts (run as `python bench/<name>.py`, so `bench/` is on the path).
"""

from __future__ import annotations

import os
import pathlib

TICK = os.sysconf("SC_CLK_TCK")


def loadavg() -> str:
    """The 1, 5 and 15 minute load averages, as /proc/loadavg writes them."""
    return " ".join(pathlib.Path("/proc/loadavg").read_text().split()[:3])


def machine_busy_s() -> float:
    """CPU-seconds the whole machine spent busy so far (all processes, /proc/stat)."""
    f = [int(x) for x in pathlib.Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return (sum(f[:8]) - f[3] - f[4]) / TICK


def _group_stats(pgid: int) -> list[tuple[pathlib.Path, list[str]]]:
    """(/proc/<pid>, its stat fields after the command name) of every live process in `pgid`."""
    found = []
    for p in pathlib.Path("/proc").glob("[0-9]*"):
        try:
            f = (p / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(f[2]) == pgid:
            found.append((p, f))
    return found


def group_cpu_s(pgid: int) -> float:
    """utime+stime of every live process in process group `pgid`."""
    return sum(int(f[11]) + int(f[12]) for _, f in _group_stats(pgid)) / TICK


def group_rss_mb(pgid: int) -> float:
    """The summed VmRSS of every live process in process group `pgid`, in MB."""
    total = 0
    for p, _ in _group_stats(pgid):
        try:
            for line in (p / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return round(total / 1024, 1)
