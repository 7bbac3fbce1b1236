"""A render can be stopped from another thread: libvips work under way is killed."""

from __future__ import annotations

import threading
import time

import pytest
import pyvips

from alphacdn.engine import RenderStop, RenderStopped, render
from alphacdn.transform import parse_chain
from tests.conftest import FIXTURES


def _rgba(width: int, height: int) -> bytes:
    image = pyvips.Image.new_from_file(str(FIXTURES / "e2e" / "tiger-cutout.png"))
    return bytes(image.thumbnail_image(width, height=height, size="force").pngsave_buffer())


def test_a_stopped_render_ends_within_a_tile_not_after_its_work() -> None:
    source = _rgba(480, 360)
    stop = RenderStop()
    threading.Timer(0.3, stop.stop, args=("timeout",)).start()
    t0 = time.monotonic()
    with pytest.raises(RenderStopped) as err:  # ~50 CPU-s of RGBA blur if left to run
        render(source, parse_chain("w_2000,e_blur:2000"), max_pixels=50_000_000, stop=stop)
    assert err.value.reason == "timeout"
    assert time.monotonic() - t0 < 8


def test_a_past_deadline_stops_before_decoding_and_a_live_one_changes_nothing() -> None:
    source = _rgba(120, 90)
    with pytest.raises(RenderStopped):
        render(source, parse_chain("w_60"), max_pixels=50_000_000,
               stop=RenderStop(deadline=time.monotonic() - 1))  # fmt: skip
    out = render(source, parse_chain("w_60/e_blur"), max_pixels=50_000_000,
                 stop=RenderStop(deadline=time.monotonic() + 60))  # fmt: skip
    assert (out.width, out.height) == (60, 45)
