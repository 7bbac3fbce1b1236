"""URL fuzzer through a real uvicorn: grammar-aware mutations of SDK-built URLs plus byte junk.

    python -m bench.robust.fuzz [--count 10000] [--concurrency 8] [--timeout 30] [--seed 15]
        [--max-seconds 1800] [--show 10]

Uploads four fixtures (`base` 480×320 JPEG, `alpha` RGBA PNG, `anim` GIF, `x` 64×64 PNG), builds
delivery URLs with the official `cloudinary` SDK (random chains of real transformations, signed
or not), then mutates them: boundary values, dropped/duplicated/shuffled qualifiers, doubled
separators, percent-encoded control bytes, huge components, unicode (encoded and raw), deep layer
nesting, odd resource types and versions. Each URL goes on a fresh connection with a bounded
concurrency; a status line is an answer, a connection closed without one is *dropped*, no status
line within `--timeout` is *no answer*. Summary: status histogram, 5xx, dropped, no answer, worst
request time, the server's peak RSS (VmHWM) and CPU-s.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from urllib.parse import quote

from bench.robust.common import (
    CLOUD,
    Outcome,
    Tally,
    configure_sdk,
    cpu_seconds,
    load_note,
    peak_rss_mb,
    print_log_errors,
    run_bounded,
    running_server,
    upload_fixtures,
)

IDS = ["base", "base", "base", "alpha", "alpha", "anim", "x", "x", "missing", "folder/base"]
FORMATS = ["", "", "jpg", "png", "png", "webp", "avif", "gif", "tiff", "bmp", "svg", "pdf", "jxl"]
CROPS = ["fill", "scale", "fit", "limit", "pad", "lpad", "crop", "thumb", "lfill", "mfit", "mpad"]
GRAVITY = ["center", "north", "south_east", "auto", "face", "faces", "xy_center", "west"]
EFFECTS = [
    "grayscale",
    "blackwhite",
    "sepia",
    "blur",
    "sharpen",
    "brightness",
    "contrast",
    "saturation",
    "negate",
    "pixelate",
    "vignette",
    "trim",
    "colorize",
    "tint",
    "shadow",
    "dropshadow",
    "background_removal",
    "mask",
    "blur_faces",
    "unknown",
]
#: boundary and junk values put in place of a qualifier's value
VALUES = [
    "0",
    "-1",
    "1",
    "2",
    "100",
    "2000",
    "2001",
    "16384",
    "16385",
    "99999999999",
    "1e309",
    "-1e309",
    "nan",
    "inf",
    "-0",
    "0.0",
    "0.0001",
    "1.0",
    "1.5",
    "10.0",
    "100.0",
    "abc",
    "",
    "%00",
    "0x10",
    "+5",
    "1_000",
    "١٢",
    "auto",
    "auto:best",
    "ff0000",
    "rgb:ff0000",
    "!x!",
    "1:2:3:4:5:6:7:8",
    "(1;2)",
    "$w",
    "iw",
    "ih_mul_2",
]
JUNK = [
    "%00",
    "%01",
    "%0a",
    "%0d",
    "%1b",
    "%7f",
    "%ff",
    "%2f",
    "%2e%2e",
    "%25",
    "%c0%af",
    "%e2%80%ae",
    "..",
    "//",
    ",,",
    "::",
    ";",
    "%20",
    "+",
    "~",
    "\\",
    "%5c",
    "'",
    '"',
    "<",
    ">",
    "{",
    "}",
    "|",
    "^",
    "`",
    "é",
    "💥",
    "\u202e",
    "\ufeff",
    "\u0000",
    "ﬁ",
    "Ｗ",
]
TEXT = ["hi", "W" * 120, "%20" * 50, "a%2Cb", "x" * 2000, "💥" * 40, "Hello%0AWorld", ""]


def sdk_transformation(rng: random.Random) -> list[dict[str, object]]:
    """A random chain of real transformations, as SDK options."""
    chain: list[dict[str, object]] = []
    for _ in range(rng.randint(1, 4)):
        step: dict[str, object] = {}
        pick = rng.random()
        if pick < 0.35:
            step["width"] = rng.choice([1, 50, 200, 480, 1000, 0.5, 1.5])
            if rng.random() < 0.6:
                step["height"] = rng.choice([1, 50, 200, 320, 0.3])
            step["crop"] = rng.choice(CROPS)
            if rng.random() < 0.4:
                step["gravity"] = rng.choice(GRAVITY)
            if rng.random() < 0.2:
                step["dpr"] = rng.choice(["1.0", "2.0", "auto"])
        elif pick < 0.65:
            e = rng.choice(EFFECTS)
            step["effect"] = e if rng.random() < 0.5 else f"{e}:{rng.choice([1, 50, 100, 300])}"
        elif pick < 0.75:
            step["overlay"] = rng.choice(
                [
                    "x",
                    "alpha",
                    "missing",
                    f"text:Arial_{rng.choice([8, 30, 60])}:{rng.choice(TEXT[:1])}",
                ]
            )
            step["width"] = rng.choice([20, 0.5, 1.0])
            if rng.random() < 0.5:
                step["flags"] = "relative"
        elif pick < 0.85:
            step["angle"] = rng.choice([0, 45, 90, -30, "auto_left", "hflip"])
            step["radius"] = rng.choice([0, 10, "max"])
        else:
            step["quality"] = rng.choice([1, 50, "auto", "auto:low"])
            step["fetch_format"] = rng.choice(["auto", "webp", "avif", "png"])
            if rng.random() < 0.3:
                step["flags"] = rng.choice(["attachment", "progressive", "lossy", "strip_profile"])
        chain.append(step)
    return chain


def sdk_url(rng: random.Random) -> str:
    """A delivery path (no scheme/host) built by the `cloudinary` SDK."""
    import cloudinary.utils

    options: dict[str, object] = {"transformation": sdk_transformation(rng)}
    fmt = rng.choice(FORMATS)
    if fmt:
        options["format"] = fmt
    if rng.random() < 0.3:
        options["sign_url"] = True
    if rng.random() < 0.2:
        options["version"] = rng.choice([1, 1700000000, 99999999999])
    url, _ = cloudinary.utils.cloudinary_url(rng.choice(IDS), **options)
    assert isinstance(url, str)
    return url.split("://", 1)[1].split("/", 1)[1]  # drop scheme and host


def _mutate(rng: random.Random, path: str) -> str:
    parts = path.split("/")
    prefix, rest = parts[:3], parts[3:]  # demo/image/upload
    op = rng.randrange(13)
    if op == 0 and rest:  # a boundary value in place of a value
        i = rng.randrange(len(rest))
        quals = rest[i].split(",")
        j = rng.randrange(len(quals))
        name = quals[j].split("_", 1)[0]
        quals[j] = f"{name}_{rng.choice(VALUES)}"
        rest[i] = ",".join(quals)
    elif op == 1 and rest:  # drop, duplicate or shuffle components
        i = rng.randrange(len(rest))
        r = rng.random()
        if r < 0.33:
            del rest[i]
        elif r < 0.66:
            rest.insert(i, rest[i])
        else:
            rng.shuffle(rest)
    elif op == 2 and rest:  # shuffle / duplicate qualifiers inside one component
        i = rng.randrange(len(rest))
        quals = rest[i].split(",")
        quals = [*quals, rng.choice(quals)] if rng.random() < 0.5 else rng.sample(quals, len(quals))
        rest[i] = ",".join(quals)
    elif op == 3:  # junk bytes at a random place
        s = "/".join(rest)
        k = rng.randrange(len(s) + 1)
        rest = (s[:k] + rng.choice(JUNK) + s[k:]).split("/")
    elif op == 4:  # percent-encoded control or high bytes
        rest.insert(0, "".join(f"%{rng.randrange(256):02x}" for _ in range(rng.randint(1, 12))))
    elif op == 5:  # a huge component
        token = rng.choice(["w_1", "e_blur", "l_x", "a", "%00", "fl_relative", "💥"])
        rest.insert(0, ",".join([token] * rng.choice([100, 2000, 20000])))
    elif op == 6:  # unicode, raw or encoded
        u = "".join(
            chr(rng.choice([0x41, 0xE9, 0x4E2D, 0x1F4A5, 0x202E, 0xFEFF, 0x10FFFF, 0xD7FF]))
            for _ in range(rng.randint(1, 30))
        )
        rest.insert(rng.randrange(len(rest) + 1), u if rng.random() < 0.5 else quote(u))
    elif op == 7:  # deep layer nesting
        depth = rng.choice([3, 10, 50, 200])
        layer = rng.choice(["l_x", "l_alpha", "u_x", "l_text:Arial_20:hi", "l_x,fl_relative,w_1.0"])
        rest = [layer] * depth + ["fl_layer_apply"] * depth + rest[-1:]
    elif op == 8:  # text layers with odd texts
        rest.insert(0, f"l_text:Arial_{rng.choice(VALUES)}:{rng.choice(TEXT)}")
    elif op == 9:  # odd prefixes
        prefix = [
            rng.choice([CLOUD, "other", "", "..", "%2e%2e"]),
            rng.choice(["image", "video", "raw", "IMAGE"]),
            rng.choice(["upload", "fetch", "private", "authenticated", "upload%00"]),
        ]
    elif op == 10:  # the signature or the version component mangled
        rest.insert(
            0,
            rng.choice(
                ["s--AAAAAAAA--", "s----", "s--" + "A" * 500 + "--", "v-1", "v" + "9" * 40, "v1.5"]
            ),
        )
    elif op == 11:  # separators doubled, dropped, swapped
        s = "/".join(rest)
        a, b = rng.choice(
            [(",", ",,"), ("/", "//"), (":", "::"), ("_", ""), (",", "/"), ("/", ",")]
        )
        rest = s.replace(a, b, rng.randint(1, 3)).split("/")
    else:  # a random real qualifier appended
        q = rng.choice(
            [
                "dpr_10.0",
                "w_16384",
                "h_16384",
                "e_blur:2000",
                "z_100",
                "ar_1000",
                "fl_relative",
                "fl_layer_apply",
                "t_missing",
                "q_1",
                "f_auto",
                "$v_1",
                "if_w_gt_100",
                "if_end",
                "bo_1000px_solid_red",
                "r_10000",
            ]
        )
        rest.insert(rng.randrange(len(rest) + 1), q)
    return "/".join(prefix + rest)


def fuzz_targets(seed: int, count: int) -> list[bytes]:
    """`count` request targets, deterministic for a seed (URLs built by the SDK, then mutated)."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        path = sdk_url(rng)
        for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
            path = _mutate(rng, path)
        raw = ("/" + path).encode("utf-8", "surrogatepass")
        # the request line cannot hold these bytes; everything else goes as it is
        raw = raw.replace(b" ", b"%20").replace(b"\r", b"%0D").replace(b"\n", b"%0A")
        out.append(raw.replace(b"\x00", b"%00").replace(b"#", b"%23").replace(b"?", b"%3F"))
    return out


async def _run(
    port: int, targets: list[bytes], conc: int, timeout: float, limit: float
) -> list[Outcome]:
    return await run_bounded(port, targets, conc, timeout, time.monotonic() + limit)


def fuzz(
    port: int, seed: int, count: int, concurrency: int, timeout: float, max_seconds: float
) -> Tally:
    """Send `count` fuzzed URLs to a running server on loopback; the tally of their outcomes."""
    targets = fuzz_targets(seed, count)
    tally = Tally("delivery fuzz")
    for o in asyncio.run(_run(port, targets, concurrency, timeout, max_seconds)):
        tally.add(o)
    return tally


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--count", type=int, default=10_000)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--timeout", type=float, default=30.0, help="seconds before 'no answer'")
    p.add_argument("--seed", type=int, default=15)
    p.add_argument("--max-seconds", type=float, default=1800.0, help="stop starting requests")
    p.add_argument("--show", type=int, default=10, help="failures to list")
    args = p.parse_args()
    with running_server() as srv:
        configure_sdk(srv)
        upload_fixtures(srv)
        cpu0, t0 = cpu_seconds(srv), time.monotonic()
        tally = fuzz(
            srv.port, args.seed, args.count, args.concurrency, args.timeout, args.max_seconds
        )
        wall, cpu = time.monotonic() - t0, cpu_seconds(srv) - cpu0
        alive = srv.proc is not None and srv.proc.poll() is None
        print(
            f"\n== URL fuzz: seed {args.seed}, {len(tally.outcomes)}/{args.count} sent, "
            f"concurrency {args.concurrency}, {wall:.0f} s, {load_note()}"
        )
        for line in tally.lines(args.show):
            print(line)
        print(
            f"[server] alive at the end: {alive}; peak RSS (VmHWM) {peak_rss_mb(srv):.0f} MB; "
            f"CPU {cpu:.0f} s"
        )
        print_log_errors(srv)
        print(dropped_note(tally, targets_of(args.seed, args.count), srv.log()))


def targets_of(seed: int, count: int) -> dict[str, bytes]:
    """The fuzzed targets by their shown prefix (an Outcome keeps only 200 characters)."""
    return {t[:200].decode("latin-1"): t for t in fuzz_targets(seed, count)}


def dropped_note(tally: Tally, targets: dict[str, bytes], log: str) -> str:
    """What the dropped connections have in common: their targets' sizes and bytes, and how
    many request lines uvicorn refused before the app saw them ("Invalid HTTP request")."""
    drops = tally.dropped
    if not drops:
        return "[dropped] none"
    sizes = [o.length for o in drops]
    raw = sum(any(b > 0x7F for b in targets.get(o.target, b"")) for o in drops)
    refused = log.count("Invalid HTTP request received")
    return (
        f"[dropped] {len(drops)}: targets of {min(sizes):,}–{max(sizes):,} bytes, {raw} with raw "
        f'non-ASCII bytes; uvicorn refused {refused} request lines ("Invalid HTTP request '
        f'received") before the app; the largest target that got a status: '
        + max(
            (f"{o.length:,} B → {o.kind}" for o in tally.outcomes if o.status is not None),
            key=lambda text: int(text.split(" ")[0].replace(",", "")),
            default="none",
        )
    )


if __name__ == "__main__":
    main()
