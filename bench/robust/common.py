"""What the robustness tools share: the server, its process figures, a raw client, summaries."""

from __future__ import annotations

import asyncio
import hashlib
import os
import resource
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from alphacdn.settings import DEV_API_KEY, DEV_API_SECRET, DEV_REMOVEBG_KEY
from tests.e2e.server import Server

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "e2e"
MODELS_DIR = Path(os.environ.get("ALPHACDN_TEST_MODELS_DIR", ROOT / "data" / "models"))
CLOUD = "demo"
REMOVEBG_KEY = DEV_REMOVEBG_KEY
#: remove.bg credits for a campaign run (every bad file is a request; the default is 10,000)
#: the person route off: the campaign's matte keys name the salient model alone (`faults.py`),
#: whatever models the models dir holds
ENV = {"ALPHACDN_REMOVEBG_DEFAULT_CREDITS": "1000000", "ALPHACDN_PERSON_MODEL": "none"}
CLK = os.sysconf("SC_CLK_TCK")


# ── the server and its process figures ──────────────────────────────────────────────────────


@contextmanager
def running_server(
    workers: int = 1,
    env: dict[str, str] | None = None,
    data_dir: Path | None = None,
    memory_cap: int | None = None,
) -> Iterator[Server]:
    """A real `alphacdn serve` on 127.0.0.1 with a temp data dir, stopped (its group killed) after.

    `memory_cap` (bytes) sets RLIMIT_AS on the server process, so a decode bomb on a shared
    machine fails inside the server instead of taking the machine's memory.
    """
    with tempfile.TemporaryDirectory(prefix="robust-") as tmp:
        srv = Server(
            data_dir or Path(tmp) / "data",
            env={"ALPHACDN_MODELS_DIR": str(MODELS_DIR), **ENV, **(env or {})},
            workers=workers,
        )
        srv.start(timeout=60)
        if memory_cap:
            cap_memory(srv, memory_cap)
        try:
            yield srv
        finally:
            srv.stop(kill=True)


def cap_memory(srv: Server, cap: int) -> None:
    for pid in group_pids(srv):
        resource.prlimit(pid, resource.RLIMIT_AS, (cap, cap))


def group_pids(srv: Server) -> list[int]:
    """Every live process of the server's process group (the supervisor and its workers)."""
    assert srv.proc is not None
    pgid = srv.proc.pid
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                fields = Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid:
                out.append(int(d))
    return sorted(out)


def worker_pids(srv: Server) -> list[int]:
    """The uvicorn worker processes (children of the supervisor that serve requests)."""
    assert srv.proc is not None
    leader = srv.proc.pid
    kids = []
    for pid in group_pids(srv):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == leader and b"resource_tracker" not in cmd:
            kids.append(pid)
    return kids or [leader]


def cpu_seconds(srv: Server) -> float:
    """utime + stime of the group (threads included; reaped children through the leader)."""
    total = 0
    for pid in group_pids(srv):
        try:
            f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
    return total / CLK


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def peak_rss_mb(srv: Server) -> float:
    """The largest VmHWM among the group's processes (the kernel's peak RSS), MB."""
    return max((_status_kb(p, "VmHWM") for p in group_pids(srv)), default=0) / 1024


def rss_mb(srv: Server) -> float:
    return max((_status_kb(p, "VmRSS") for p in group_pids(srv)), default=0) / 1024


def reset_peak_rss(srv: Server) -> None:
    """Reset VmHWM to the current RSS (`echo 5 > /proc/pid/clear_refs`)."""
    for pid in group_pids(srv):
        with suppress(OSError):
            Path(f"/proc/{pid}/clear_refs").write_text("5")


def wait_idle(srv: Server, limit: float, quiet: float = 0.05) -> float:
    """Wait (≤ limit s) until the server burns < `quiet` CPU-s per 0.5 s; its CPU-s then."""
    deadline = time.monotonic() + limit
    last = cpu_seconds(srv)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = cpu_seconds(srv)
        if now - last < quiet:
            return now
        last = now
    return cpu_seconds(srv)


# ── signed uploads, the SDK ─────────────────────────────────────────────────────────────────


def configure_sdk(srv: Server) -> None:
    import cloudinary

    cloudinary.reset_config()
    cloudinary.config(
        cloud_name=CLOUD,
        api_key=DEV_API_KEY,
        api_secret=DEV_API_SECRET,
        upload_prefix=srv.url,
        secure=False,
        cname=f"127.0.0.1:{srv.port}",
        private_cdn=False,
    )


def signed_form(public_id: str) -> dict[str, str]:
    import cloudinary.utils

    params: dict[str, Any] = {"public_id": public_id, "timestamp": str(int(time.time()))}
    params["signature"] = cloudinary.utils.api_sign_request(params, DEV_API_SECRET)
    params["api_key"] = DEV_API_KEY
    return params


def upload(
    client: httpx.Client, srv: Server, public_id: str, data: bytes, name: str = "f"
) -> httpx.Response:
    """A signed multipart upload, as the SDK sends it."""
    return client.post(
        f"{srv.url}/v1_1/{CLOUD}/image/upload",
        data=signed_form(public_id),
        files={"file": (name, data, "application/octet-stream")},
    )


def upload_fixtures(srv: Server) -> dict[str, bytes]:
    """The fixture images every tool renders from: public_id → the bytes uploaded."""
    import pyvips

    small = pyvips.Image.black(64, 64, bands=3).draw_rect([200, 40, 40], 8, 8, 40, 40, fill=True)
    files = {
        "base": (FIXTURES / "car-house.jpg").read_bytes(),  # 480×320 JPEG
        "alpha": (FIXTURES / "tiger-cutout.png").read_bytes(),  # 320×213 RGBA PNG
        "anim": (FIXTURES / "anim.gif").read_bytes(),  # 64×64 animated GIF
        "x": small.pngsave_buffer(),  # 64×64, a layer and a tiny base
    }
    with httpx.Client(timeout=60) as client:
        for pid, data in files.items():
            r = upload(client, srv, pid, data, pid)
            if r.status_code != 200:
                raise RuntimeError(f"fixture upload {pid}: {r.status_code} {r.text[:200]}")
    return files


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


# ── a raw HTTP/1.1 client (sends any request target, sees a dropped connection as one) ───────


@dataclass
class Outcome:
    """One request's fate: a status, or `dropped` (closed without a status line), or `timeout`."""

    target: str
    status: int | None
    seconds: float
    error: str = ""
    body: bytes = b""
    #: the request target's length in bytes (`target` is cut to 200 characters)
    length: int = 0

    @property
    def kind(self) -> str:
        return str(self.status) if self.status is not None else self.error


async def raw_get(
    port: int,
    target: bytes,
    timeout: float,
    keep_body: int = 0,
    method: bytes = b"GET",
    headers: bytes = b"",
) -> Outcome:
    """`GET target` on a fresh connection with `Connection: close`; reads the answer to EOF.
    `headers`: extra header lines, each ending in CRLF (e.g. `X-Forwarded-For`)."""
    t0 = time.perf_counter()
    shown = target[:200].decode("latin-1")
    n = len(target)
    writer = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(
                method + b" " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"User-Agent: alphacdn-robust\r\nConnection: close\r\n" + headers + b"\r\n"
            )
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            body = bytearray()
            while chunk := await reader.read(65536):
                if len(body) < keep_body:
                    body += chunk[: keep_body - len(body)]
            return Outcome(shown, status, time.perf_counter() - t0, body=bytes(body), length=n)
    except TimeoutError:
        return Outcome(shown, None, time.perf_counter() - t0, "timeout", length=n)
    except (asyncio.IncompleteReadError, ConnectionError, ValueError, IndexError) as exc:
        return Outcome(
            shown, None, time.perf_counter() - t0, f"dropped:{type(exc).__name__}", length=n
        )
    finally:
        if writer is not None:
            writer.close()
            with suppress(ConnectionError, OSError):
                await writer.wait_closed()


async def run_bounded(
    port: int, targets: Iterable[bytes], concurrency: int, timeout: float, deadline: float
) -> list[Outcome]:
    """Send every target, ≤ `concurrency` in flight; start none after `deadline`."""
    out: list[Outcome] = []
    it = iter(targets)

    async def worker() -> None:
        for t in it:
            if time.monotonic() > deadline:
                return
            out.append(await raw_get(port, t, timeout))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return out


def classify_httpx(exc: Exception) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    return f"dropped:{type(exc).__name__}"


# ── summaries ───────────────────────────────────────────────────────────────────────────────


@dataclass
class Tally:
    """Status histogram and worst cases of one surface."""

    name: str
    outcomes: list[Outcome] = field(default_factory=list)

    def add(self, o: Outcome) -> None:
        self.outcomes.append(o)

    @property
    def histogram(self) -> Counter[str]:
        return Counter(o.kind for o in self.outcomes)

    @property
    def five_xx(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status is not None and o.status >= 500]

    @property
    def dropped(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.error.startswith("dropped")]

    @property
    def timeouts(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.error == "timeout"]

    def worst(self, n: int = 1) -> list[Outcome]:
        return sorted(self.outcomes, key=lambda o: -o.seconds)[:n]

    def lines(self, show: int = 5) -> list[str]:
        h = ", ".join(f"{k}: {v}" for k, v in sorted(self.histogram.items()))
        w = self.worst(1)
        out = [
            f"[{self.name}] {len(self.outcomes)} requests; statuses {{{h}}}",
            f"[{self.name}] 5xx: {len(self.five_xx)}; dropped: {len(self.dropped)}; "
            f"no answer in time: {len(self.timeouts)}; worst: "
            + (f"{w[0].seconds:.2f} s ({w[0].kind}) {w[0].target[:120]}" if w else "-"),
        ]
        for o in (self.five_xx + self.dropped + self.timeouts)[:show]:
            out.append(f"    {o.kind:>8} {o.seconds:7.2f} s  {o.length:>6} B  {o.target[:140]}")
        return out


def log_errors(srv: Server) -> Counter[str]:
    """The server log's tracebacks, counted by their last lines (the error and its detail)."""
    out: Counter[str] = Counter()
    for block in srv.log().split("Traceback (most recent call last):")[1:]:
        lines = [ln for ln in block.splitlines() if ln and not ln.startswith((" ", "\t"))]
        lines = [ln for ln in lines if not ln.startswith(("ERROR", "WARNING", "INFO"))]
        out[" / ".join(lines[:2])[:200] or "?"] += 1
    return out


def print_log_errors(srv: Server) -> None:
    errors = log_errors(srv)
    print(f"[server] tracebacks in the log: {sum(errors.values())}")
    for line, n in errors.most_common(10):
        print(f"    {n:4d} × {line}")


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def load_note() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} (1 / 5 min) on {os.cpu_count()} cores"
