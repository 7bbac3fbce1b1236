"""Generate the gallery's product photos (ours, Apache-2.0): simple shaded objects on studio
backdrops, 480×480 JPEG. Run with the repository's venv: `python scripts/make_products.py`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyvips

SIZE = 480
OUT = Path(__file__).resolve().parent.parent / "products"
Y, X = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) / SIZE  # 0..1


def backdrop(top: tuple[int, int, int], bottom: tuple[int, int, int], seed: int) -> np.ndarray:
    """A studio sweep: a vertical gradient, a floor line, grain."""
    t = np.clip((Y - 0.1) / 0.8, 0, 1)[..., None]
    img = np.array(top, np.float32) * (1 - t) + np.array(bottom, np.float32) * t
    floor = (Y > 0.72)[..., None]
    img = np.where(floor, img * 0.93, img)
    rng = np.random.default_rng(seed)
    return img + rng.normal(0, 3.0, img.shape).astype(np.float32)


def shade(mask: np.ndarray, base: tuple[int, int, int], cx: float, half: np.ndarray) -> np.ndarray:
    """Cylinder-like shading across x: light from the upper left, a specular stripe."""
    u = np.clip((X - cx) / np.maximum(half, 1e-3), -1, 1)
    lam = np.clip(0.55 - 0.6 * u + 0.35 * np.sqrt(1 - u**2), 0.15, 1.2)
    spec = np.exp(-((u + 0.45) ** 2) / 0.01) * 0.6
    col = np.array(base, np.float32) * lam[..., None] + 255 * spec[..., None]
    return np.where(mask[..., None], col, 0)


def soft(mask: np.ndarray) -> np.ndarray:
    """An anti-aliased alpha from a hard mask (2× supersampling look: a small blur)."""
    im = pyvips.Image.new_from_memory(mask.astype(np.float32).tobytes(), SIZE, SIZE, 1, "float")
    return np.ndarray(
        buffer=im.gaussblur(0.8).write_to_memory(), dtype=np.float32, shape=(SIZE, SIZE)
    )


def floor_shadow(img: np.ndarray, cx: float, y: float, w: float) -> np.ndarray:
    d = ((X - cx) / w) ** 2 + ((Y - y) / (w * 0.18)) ** 2
    s = np.exp(-d * 2.5)[..., None] * 0.45
    return img * (1 - s)


def compose(
    bg: np.ndarray, parts: list[tuple[np.ndarray, np.ndarray]], shadow: tuple[float, float, float]
) -> np.ndarray:
    img = floor_shadow(bg, *shadow)
    for mask, colour in parts:
        a = soft(mask)[..., None]
        img = img * (1 - a) + colour * a
    return img


def mug(colour: tuple[int, int, int] = (200, 45, 50)) -> np.ndarray:
    cx, half = 0.45, np.full_like(X, 0.17)
    body = (abs(X - cx) < 0.17) & (Y > 0.38) & (Y < 0.76)
    ring = np.hypot((X - 0.63) / 0.09, (Y - 0.56) / 0.12)
    handle = (ring > 0.55) & (ring < 1.0) & (X > 0.6)
    rim = np.hypot((X - cx) / 0.17, (Y - 0.38) / 0.035) < 1
    return compose(
        backdrop((236, 232, 226), (205, 198, 188), 1),
        [
            (handle, shade(handle, colour, 0.63, np.full_like(X, 0.1))),
            (body, shade(body, colour, cx, half)),
            (rim, np.where(rim[..., None], np.array(colour, np.float32) * 0.6, 0)),
        ],
        (0.47, 0.77, 0.26),
    )


def bottle() -> np.ndarray:
    cx = 0.5
    half = np.where(Y < 0.33, 0.045, np.where(Y < 0.43, 0.045 + (Y - 0.33) * 0.95, 0.14))
    body = (abs(X - cx) < half) & (Y > 0.14) & (Y < 0.8)
    cap = (abs(X - cx) < 0.05) & (Y > 0.1) & (Y < 0.17)
    label = body & (Y > 0.52) & (Y < 0.68)
    return compose(
        backdrop((214, 226, 236), (170, 186, 200), 2),
        [
            (body, shade(body, (40, 130, 80), cx, half)),
            (label, shade(label, (235, 225, 200), cx, half)),
            (cap, shade(cap, (60, 60, 64), cx, np.full_like(X, 0.05))),
        ],
        (0.5, 0.81, 0.2),
    )


def vase() -> np.ndarray:
    cx = 0.5
    half = 0.06 + 0.12 * np.clip(np.sin(np.clip((Y - 0.22) / 0.58, 0, 1) * np.pi), 0, 1) ** 1.5
    body = (abs(X - cx) < half) & (Y > 0.2) & (Y < 0.8)
    lip = np.hypot((X - cx) / 0.08, (Y - 0.2) / 0.02) < 1
    return compose(
        backdrop((240, 228, 214), (212, 190, 168), 3),
        [
            (body, shade(body, (40, 80, 170), cx, half)),
            (lip, np.where(lip[..., None], np.array([25, 45, 100], np.float32), 0)),
        ],
        (0.5, 0.8, 0.22),
    )


def lamp() -> np.ndarray:
    cx = 0.5
    shade_half = 0.08 + (Y - 0.15) * 0.45
    cone = (abs(X - cx) < shade_half) & (Y > 0.15) & (Y < 0.42)
    stem = (abs(X - cx) < 0.018) & (Y > 0.42) & (Y < 0.74)
    base = np.hypot((X - cx) / 0.16, (Y - 0.75) / 0.04) < 1
    return compose(
        backdrop((226, 230, 224), (186, 194, 184), 4),
        [
            (stem, shade(stem, (180, 150, 60), cx, np.full_like(X, 0.02))),
            (base, shade(base, (170, 140, 55), cx, np.full_like(X, 0.16))),
            (cone, shade(cone, (245, 200, 90), cx, shade_half)),
        ],
        (0.5, 0.77, 0.2),
    )


def ball() -> np.ndarray:
    r = np.hypot(X - 0.5, Y - 0.5)
    disc = r < 0.22
    nz = np.sqrt(np.clip(1 - (r / 0.22) ** 2, 0, 1))
    lit = nz * 0.7 - (X - 0.5) / 0.22 * 0.3 - (Y - 0.5) / 0.22 * 0.3
    light = np.clip(0.25 + 0.75 * lit, 0.1, 1.2)
    stripe = disc & (abs(Y - 0.5 - 0.25 * (X - 0.5)) < 0.035)
    col = np.array([240, 140, 30], np.float32) * light[..., None]
    col = np.where(stripe[..., None], np.array([250, 250, 245], np.float32) * light[..., None], col)
    return compose(backdrop((228, 224, 236), (188, 182, 204), 5), [(disc, col)], (0.5, 0.73, 0.2))


def box() -> np.ndarray:
    front = (X > 0.3) & (X < 0.62) & (Y > 0.42) & (Y < 0.76)
    side = (X >= 0.62) & (X < 0.72) & (Y > 0.42 - (X - 0.62) * 0.8) & (Y < 0.76 - (X - 0.62) * 0.8)
    top = (Y <= 0.42) & (Y > 0.34) & (X > 0.3 + (0.42 - Y) * 1.25) & (X < 0.62 + (0.42 - Y) * 1.25)
    ribbon_f = front & (abs(X - 0.46) < 0.025)
    ribbon_t = top & (abs(X - 0.46 - (0.42 - Y) * 1.25) < 0.025)
    colour = np.array([150, 60, 160], np.float32)
    ribbon = ribbon_f | ribbon_t
    return compose(
        backdrop((236, 236, 236), (198, 198, 198), 6),
        [
            (front, np.where(front[..., None], colour, 0)),
            (side, np.where(side[..., None], colour * 0.7, 0)),
            (top, np.where(top[..., None], colour * 1.25, 0)),
            (ribbon, np.where(ribbon[..., None], np.array([240, 200, 60], np.float32), 0)),
        ],
        (0.52, 0.77, 0.26),
    )


PRODUCTS: dict[str, Callable[[], np.ndarray]] = {
    "mug": mug,
    "bottle": bottle,
    "vase": vase,
    "lamp": lamp,
    "ball": ball,
    "giftbox": box,
}


#: the brand backdrops the swatch picker puts under the cut-outs (`u_<id>`)
BACKDROPS = {
    "cream": ((250, 244, 232), (236, 220, 196)),
    "mint": ((226, 246, 238), (180, 222, 206)),
    "ink": ((62, 70, 96), (28, 32, 48)),
}


def save(img: np.ndarray, path: Path, size: int = SIZE) -> None:
    data = np.clip(img, 0, 255).astype(np.uint8)
    im = pyvips.Image.new_from_memory(data.tobytes(), size, size, 3, "uchar")
    im.copy(interpretation="srgb").jpegsave(str(path), Q=85, keep="none")
    print(path)


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for name, make in PRODUCTS.items():
        save(make(), OUT / f"{name}.jpg")
    for name, (top, bottom) in BACKDROPS.items():
        t = ((X + Y) / 2)[..., None]
        img = np.array(top, np.float32) * (1 - t) + np.array(bottom, np.float32) * t
        save(img, OUT / f"backdrop-{name}.jpg")
    # what the browser test uploads (not seeded): a teal mug
    save(mug((30, 140, 140)), OUT.parent / "test" / "upload-mug.jpg")


if __name__ == "__main__":
    main()
