"""Regenerate the photo-derived engine fixtures from ../shared/data/photos (run by hand).

    .venv/bin/python -m tests.engine.make_fixtures

Only MIT-licensed photos are used (credited in tests/fixtures/SOURCES.md). Everything else the
engine tests need is generated at run time.
"""

from __future__ import annotations

import sys

import pyvips

from tests.conftest import FIXTURES, SHARED_DATA

OUT = FIXTURES / "engine"
PHOTOS = SHARED_DATA / "photos"


def main() -> int:
    if not PHOTOS.is_dir():
        print(f"{PHOTOS} is absent: nothing to do")
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    # waterfall: stored sideways with EXIF orientation 6 (and Apple Generic RGB)
    raw = pyvips.Image.new_from_file(str(PHOTOS / "waterfall-exif6-genericrgb.jpg"))
    small = raw.icc_transform("srgb", embedded=True).resize(0.4)
    upright = small.rot("d90")  # orientation 6: the stored image needs 90° clockwise
    upright.pngsave(str(OUT / "waterfall-upright.png"), keep="none")
    small6 = small.copy()
    small6.set_type(pyvips.GValue.gint_type, "orientation", 6)
    small6.jpegsave(str(OUT / "waterfall-exif6.jpg"), Q=92, keep="exif")
    # the same upright picture stored upside down with orientation 3
    small3 = upright.rot("d180").copy()
    small3.set_type(pyvips.GValue.gint_type, "orientation", 3)
    small3.jpegsave(str(OUT / "waterfall-exif3.jpg"), Q=92, keep="exif")
    # sunset: Display P3 original → an sRGB reference, a P3 copy and a CMYK copy
    sunset = pyvips.Image.new_from_file(str(PHOTOS / "sunset-displayp3.jpg"))
    srgb = sunset.icc_transform("srgb", embedded=True, intent="relative").resize(0.4)
    srgb.pngsave(str(OUT / "sunset-srgb.png"), keep="none")
    p3 = srgb.icc_transform("p3", intent="relative")
    p3.jpegsave(str(OUT / "sunset-p3.jpg"), Q=95, keep="icc")
    cmyk = srgb.icc_transform("cmyk", intent="relative")
    # no embedded profile (it alone is 0.5 MB): decoders assume the same generic CMYK profile
    cmyk.jpegsave(str(OUT / "sunset-cmyk.jpg"), Q=95, keep="none")
    for f in sorted(OUT.iterdir()):
        print(f.name, f.stat().st_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
