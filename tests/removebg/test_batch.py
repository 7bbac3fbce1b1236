"""`alphacdn remove-bg` against the threaded server: outputs, no silent overwrite, 429 retry."""

from __future__ import annotations

import io
from pathlib import Path

import pyvips

from alphacdn.batch import main_remove_bg
from tests.removebg.helpers import KEY, SLOW_KEY, FakeDeps, ThreadServer, build_app, make_image


def make_inputs(folder: Path, count: int, size: tuple[int, int] = (120, 80)) -> None:
    (folder / "sub").mkdir(parents=True)
    for i in range(count):
        target = folder / ("sub" if i % 2 else "") / f"img{i}.png"
        target.write_bytes(make_image(*size))
    (folder / "notes.txt").write_text("not an image")


def run(server: ThreadServer, src: Path, out: Path, *extra: str, key: str = KEY) -> tuple[int, str]:
    stream = io.StringIO()
    code = main_remove_bg(
        [
            str(src),
            str(out),
            "--api-url",
            server.url,
            "--api-key",
            key,
            "--concurrency",
            "2",
            *extra,
        ],
        stream,
    )
    return code, stream.getvalue()


def test_batch_writes_and_never_overwrites(server: ThreadServer, tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    make_inputs(src, 3)
    code, log = run(server, src, out, "--format", "png", "--size", "preview")
    assert code == 0, log
    assert "3 written, 0 skipped, 0 failed" in log
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert written == ["img0.png", "img2.png", "sub/img1.png"]
    assert pyvips.Image.new_from_buffer((out / "img0.png").read_bytes(), "").bands == 4
    (out / "img0.png").write_bytes(b"keep me")
    code, log = run(server, src, out, "--format", "png")
    assert code == 0 and "0 written, 3 skipped" in log and "--overwrite" in log
    assert (out / "img0.png").read_bytes() == b"keep me"
    code, log = run(server, src, out, "--format", "png", "--overwrite")
    assert "3 written" in log and (out / "img0.png").read_bytes() != b"keep me"


def test_batch_waits_for_retry_after_on_429(tmp_path: Path) -> None:
    # 1.5 MP images weigh 2 against SLOW_KEY's 3 per (here 2-second) window, so a window
    # admits one. Three sent at once: however the (checked, then counted) requests fall across
    # a window boundary, two share a window, and one gets a 429 and is retried after Retry-After
    deps = FakeDeps(tmp_path / "state")
    server = ThreadServer(build_app(deps, rate_window_seconds=2)).start()
    try:
        src, out = tmp_path / "in", tmp_path / "out"
        make_inputs(src, 3, size=(1500, 1000))
        code, log = run(server, src, out, "--param", "size=preview", key=SLOW_KEY)
    finally:
        server.stop()
    assert code == 0, log
    assert "3 written" in log
    assert "got 429 and were retried" in log
    assert deps.calls == 3


def test_batch_reports_failures(server: ThreadServer, tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    (src / "broken.png").write_bytes(b"not really a png")
    code, log = run(server, src, out)
    assert code == 1
    assert "failed: broken.png: HTTP 400 invalid_image" in log
