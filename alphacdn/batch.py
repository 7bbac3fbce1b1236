"""`alphacdn remove-bg INPUT_DIR OUTPUT_DIR`: send a folder through a remove.bg-style API.

Bounded concurrency; 429 is retried after its `Retry-After`, 5xx and network errors with
exponential backoff and jitter; existing outputs are skipped (and counted) unless `--overwrite`;
outputs are written atomically (temp file, then rename); the exit status is 1 if any image failed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import httpx

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".avif", ".heic"})
_EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/webp": ".webp",
    "application/zip": ".zip",
}
MAX_RETRY_AFTER = 120.0


@dataclass
class Progress:
    total: int
    stream: TextIO
    done: int = 0
    ok: int = 0
    skipped: int = 0
    throttled: int = 0
    failures: list[str] = field(default_factory=list)

    def update(self, outcome: str, name: str, message: str = "") -> None:
        self.done += 1
        if outcome == "ok":
            self.ok += 1
        elif outcome == "skipped":
            self.skipped += 1
        else:
            self.failures.append(f"{name}: {message}")
        width = 30
        filled = width * self.done // max(1, self.total)
        bar = "#" * filled + "." * (width - filled)
        line = (
            f"[{bar}] {self.done}/{self.total}  ok {self.ok}  skipped {self.skipped}  "
            f"failed {len(self.failures)}"
        )
        end = "\r" if self.stream.isatty() and self.done < self.total else "\n"
        self.stream.write(line + end)
        self.stream.flush()


@dataclass(frozen=True)
class Options:
    input_dir: Path
    output_dir: Path
    api_url: str
    api_key: str
    params: dict[str, str]
    concurrency: int
    overwrite: bool
    retries: int


class RequestFailed(Exception):
    pass


def _existing(target: Path) -> Path | None:
    for ext in (*_EXTENSIONS.values(), target.suffix):
        candidate = target.with_suffix(ext)
        if candidate.exists():
            return candidate
    return None


def _error_text(response: httpx.Response) -> str:
    try:
        error = response.json()["errors"][0]
        return f"HTTP {response.status_code} {error.get('code', '')}: {error['title']}".strip()
    except (ValueError, KeyError, IndexError, TypeError):
        return f"HTTP {response.status_code}"


async def _call(
    client: httpx.AsyncClient, opts: Options, source: Path, progress: Progress
) -> httpx.Response:
    """POST one image; retry 429 after Retry-After and 5xx/network errors with backoff."""
    failures = 0
    data = source.read_bytes()
    while True:
        try:
            response = await client.post(
                opts.api_url.rstrip("/") + "/v1.0/removebg",
                data=opts.params,
                files={"image_file": (source.name, data)},
                headers={"X-Api-Key": opts.api_key},
            )
        except httpx.TransportError as exc:
            failures += 1
            if failures > opts.retries:
                raise RequestFailed(f"network error: {type(exc).__name__}") from exc
            await asyncio.sleep(2 ** (failures - 1) + random.random())
            continue
        if response.status_code == 429:
            progress.throttled += 1
            retry_after = response.headers.get("retry-after", "")
            delay = float(retry_after) if retry_after.replace(".", "", 1).isdigit() else 10.0
            await asyncio.sleep(min(delay, MAX_RETRY_AFTER))
            continue
        if response.status_code >= 500:
            failures += 1
            if failures > opts.retries:
                raise RequestFailed(_error_text(response))
            await asyncio.sleep(2 ** (failures - 1) + random.random())
            continue
        return response


async def _one(
    client: httpx.AsyncClient,
    opts: Options,
    source: Path,
    gate: asyncio.Semaphore,
    progress: Progress,
) -> None:
    relative = source.relative_to(opts.input_dir)
    target = opts.output_dir / relative
    existing = _existing(target)
    if existing is not None and not opts.overwrite:
        progress.update("skipped", str(relative))
        return
    async with gate:
        try:
            response = await _call(client, opts, source, progress)
        except RequestFailed as exc:
            progress.update("failed", str(relative), str(exc))
            return
    if response.status_code != 200:
        progress.update("failed", str(relative), _error_text(response))
        return
    media_type = response.headers.get("content-type", "").split(";")[0]
    final = target.with_suffix(_EXTENSIONS.get(media_type, ".bin"))
    final.parent.mkdir(parents=True, exist_ok=True)
    temp = final.with_name(f".{final.name}.{os.getpid()}.part")
    temp.write_bytes(response.content)
    temp.replace(final)
    progress.update("ok", str(relative))


async def run_batch(opts: Options, stream: TextIO = sys.stderr) -> Progress:
    """Process every image under `opts.input_dir`; return the tally."""
    sources = sorted(
        p for p in opts.input_dir.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )
    progress = Progress(len(sources), stream)
    gate = asyncio.Semaphore(opts.concurrency)
    timeout = httpx.Timeout(300.0, connect=10.0)
    async with httpx.AsyncClient(timeout=timeout) as client:
        await asyncio.gather(*(_one(client, opts, s, gate, progress) for s in sources))
    return progress


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="alphacdn remove-bg",
        description="Send every image in INPUT_DIR through a remove.bg-style API into OUTPUT_DIR.",
    )
    p.add_argument("input_dir", type=Path)
    p.add_argument("output_dir", type=Path)
    p.add_argument("--format", default="auto", choices=["auto", "png", "webp", "jpg", "zip"])
    p.add_argument("--size", default="full", help="preview, full, 50MP, auto … (default full)")
    p.add_argument("--api-url", default="http://127.0.0.1:8000")
    p.add_argument("--api-key", help="X-Api-Key (default: $ALPHACDN_REMOVEBG_API_KEY)")
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--retries", type=int, default=5, help="for 5xx / network errors")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="any other API parameter, e.g. --param bg_color=white (repeatable)",
    )
    return p


def main_remove_bg(argv: Sequence[str], stream: TextIO = sys.stderr) -> int:
    """Entry point of `alphacdn remove-bg`; returns the exit status."""
    args = _parser().parse_args(list(argv))
    key = args.api_key or os.environ.get("ALPHACDN_REMOVEBG_API_KEY", "")
    if not key:
        stream.write("alphacdn remove-bg: give --api-key or ALPHACDN_REMOVEBG_API_KEY\n")
        return 2
    if not args.input_dir.is_dir():
        stream.write(f"alphacdn remove-bg: {args.input_dir} is not a directory\n")
        return 2
    params = {"format": args.format, "size": args.size}
    for item in args.param:
        name, sep, value = item.partition("=")
        if not sep:
            stream.write(f"alphacdn remove-bg: --param {item!r} is not NAME=VALUE\n")
            return 2
        params[name] = value
    opts = Options(
        args.input_dir,
        args.output_dir,
        args.api_url,
        key,
        params,
        max(1, args.concurrency),
        args.overwrite,
        max(0, args.retries),
    )
    progress = asyncio.run(run_batch(opts, stream))
    stream.write(
        f"done: {progress.ok} written, {progress.skipped} skipped, "
        f"{len(progress.failures)} failed\n"
    )
    if progress.throttled:
        stream.write(
            f"{progress.throttled} request(s) got 429 and were retried after Retry-After\n"
        )
    if progress.skipped:
        stream.write(
            f"skipped {progress.skipped} existing output(s); use --overwrite to replace them\n"
        )
    for failure in progress.failures:
        stream.write(f"failed: {failure}\n")
    return 1 if progress.failures else 0


__all__ = ["Options", "Progress", "main_remove_bg", "run_batch"]
