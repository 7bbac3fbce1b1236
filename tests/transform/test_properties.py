"""Hypothesis: chains generated from the ACTIONS table survive parse ∘ canonical; junk only ever
raises a 4xx `CdnError`."""

from __future__ import annotations

from enum import Enum
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from alphacdn.transform import (
    ACTIONS,
    HINT_CLASSES,
    NAMED_COLORS,
    CdnError,
    InvalidTransformation,
    canonical,
    parse_chain,
    parse_url,
)
from alphacdn.transform.accessibility import AssistColorblind
from alphacdn.transform.compositing import DropShadow, Mask, Shadow
from alphacdn.transform.fields import FieldSpec, specs
from alphacdn.transform.plan import Component, Plan
from alphacdn.transform.registry import CODES
from alphacdn.transform.shapes import Outline
from alphacdn.transform.steps import (
    BackgroundRemoval,
    Border,
    Resize,
    Rotate,
    RoundCorners,
    Tint,
)
from alphacdn.transform.values import Color, CropMode, Format, Gravity, QualityPreset
from alphacdn.transform.vectorize import Vectorize

NAMED = {"thumb": "c_fill,w_100,h_100", "gray": "e_grayscale/q_60", "both": "t_thumb/t_gray"}

colors = st.one_of(
    st.sampled_from(sorted(NAMED_COLORS)),
    st.tuples(st.sampled_from([3, 4, 6, 8]), st.integers(0, 2**32 - 1)).map(
        lambda t: "rgb:" + f"{t[1]:08x}"[: t[0]]
    ),
)


def numbers(spec: FieldSpec) -> st.SearchStrategy[str]:
    rng = spec.range
    lo, hi = (rng.lo, rng.hi) if rng else (-1000, 1000)
    if spec.base is int:
        return st.integers(int(lo), int(hi)).map(str)
    return st.floats(lo, hi, allow_nan=False).map(lambda v: f"{v:.3f}".rstrip("0").rstrip("."))


def field_text(spec: FieldSpec) -> st.SearchStrategy[str]:
    """URL text for one field, read from its type and Range."""
    if spec.base is Color:
        return colors
    if spec.base is bool:
        return st.sampled_from(["y", "n"])
    if isinstance(spec.base, type) and issubclass(spec.base, Enum):
        return st.sampled_from([str(m.value) for m in spec.base])
    return numbers(spec)


@st.composite
def generic_param(draw: st.DrawFn, cls: type) -> list[str]:
    """`e_name[:v1[:v2]]` / `o_50` / `b_red` (plus `co_` when a field takes it) from the fields."""
    fields = specs(cls)
    code = CODES[cls]
    n = draw(st.integers(0 if code.startswith("e_") else 1, len(fields)))
    values = [draw(field_text(f)) for f in fields[:n]]
    tokens = [":".join([code, *values]) if code.startswith("e_") else code + "_" + ":".join(values)]
    for f in fields:
        if f.qualifier and draw(st.booleans()):
            tokens.append(f"{f.qualifier}_{draw(field_text(f))}")
    return tokens


lengths = st.one_of(st.integers(1, 4000).map(str), st.sampled_from(["0.5", "1.0", "0.25", "2.5"]))
offsets = st.one_of(st.integers(-500, 500).map(str), st.sampled_from(["0.5", "-0.1", "0.0"]))
IRREGULAR: dict[type, st.SearchStrategy[list[str]]] = {
    Resize: st.fixed_dictionaries(
        {},
        optional={
            "w": lengths,
            "h": lengths,
            "x": offsets,
            "y": offsets,
            "c": st.sampled_from([m.value for m in CropMode]),
            "g": st.sampled_from([m.value for m in Gravity]),
            "z": st.sampled_from(["0.5", "1", "1.5", "2.0"]),
            "ar": st.sampled_from(["16:9", "4:3", "1.5", "1", "0.75", "3:2"]),
            "dpr": st.sampled_from(["1.0", "2.0", "2", "1.5", "3.0"]),
            "b": colors,
        },
    ).map(lambda d: [f"{k}_{v}" for k, v in d.items()]),
    Rotate: st.one_of(
        st.integers(-360, 360).map(str),
        st.sampled_from(
            [
                "auto",
                "auto_left",
                "auto_right",
                "hflip",
                "vflip",
                "12.5",
                "hflip.90",
                "vflip.hflip",
                "-90.auto",
            ]
        ),
    ).map(lambda v: [f"a_{v}"]),
    RoundCorners: st.one_of(
        st.integers(0, 500).map(str),
        st.just("max"),
        st.lists(st.integers(0, 500).map(str), min_size=2, max_size=4).map(":".join),
    ).map(lambda v: [f"r_{v}"]),
    Outline: st.tuples(
        st.sampled_from(["", "outer:", "inner:", "fill:", "inner_fill:"]),
        st.one_of(st.just(""), st.integers(1, 100).map(str)),
        st.one_of(st.just(""), st.integers(0, 2000).map(lambda b: f":{b}")),
        st.one_of(st.just([]), colors.map(lambda c: [f"co_{c}"])),
    ).map(lambda t: [("e_outline:" + t[0] + t[1] + t[2]).rstrip(":"), *t[3]]),
    Border: st.tuples(st.integers(1, 50), colors).map(lambda t: [f"bo_{t[0]}px_solid_{t[1]}"]),
    # offsets as a resize writes them: a later `e_` param may leave them to the resize
    Shadow: st.tuples(
        st.one_of(st.just(""), st.integers(0, 100).map(lambda s: f":{s}")),
        st.lists(
            st.one_of(
                colors.map(lambda c: f"co_{c}"),
                offsets.map(lambda v: f"x_{v}"),
                offsets.map(lambda v: f"y_{v}"),
            ),
            max_size=3,
        ),
    ).map(lambda t: ["e_shadow" + t[0], *t[1]]),
    DropShadow: st.lists(
        st.sampled_from(
            [
                "azimuth_0",
                "azimuth_360",
                "azimuth_220",
                "elevation_0",
                "elevation_90",
                "elevation_40",
                "spread_0",
                "spread_100",
                "spread_20",
            ]
        ),
        max_size=3,
        unique_by=lambda o: o.partition("_")[0],
    ).map(lambda opts: ["e_dropshadow" + (":" + ";".join(opts) if opts else "")]),
    Mask: st.lists(
        st.sampled_from(["shrink_3", "expand_1", "expand_100", "feather_2", "invert", "alpha"]),
        min_size=1,
        max_size=4,
        unique_by=lambda o: o.partition("_")[0],
    ).map(lambda opts: ["e_mask:" + ";".join(opts)]),
    # issue 14: the multi-step tint, colour-blind assistance, vectorize (named or positional)
    Tint: st.tuples(
        st.sampled_from(["", "equalize:"]),
        st.one_of(st.just(""), st.integers(0, 100).map(str)),
        st.lists(st.tuples(colors, st.sampled_from(["", ":0p", ":40p", ":100p"])), max_size=3),
        st.booleans(),
    ).map(
        lambda t: (
            [("e_tint:" + t[0] + t[1] + "".join(":" + c + p for c, p in t[2])).rstrip(":")]
            + (["co_blue"] if t[3] else [])
        )
    ),
    AssistColorblind: st.one_of(
        st.just(""), st.just(":xray"), st.integers(1, 100).map(lambda v: f":{v}")
    ).map(lambda v: ["e_assist_colorblind" + v]),
    Vectorize: st.one_of(
        st.tuples(
            st.sampled_from(["3", "30", ""]),
            st.sampled_from(["0.5", "300", ""]),
            st.sampled_from(["0.1", "4", ""]),
            st.integers(0, 3),
        ).map(lambda t: ":".join(t[: t[3]])),
        st.lists(
            st.sampled_from(
                [
                    "colors:2",
                    "detail:0.25",
                    "detail:500",
                    "despeckle:0.1",
                    "paths:50",
                    "corners:100",
                ]
            ),
            max_size=4,
            unique_by=lambda o: o.partition(":")[0],
        ).map(lambda p: ":".join(p)),
    ).map(lambda v: ["e_vectorize" + (":" + v if v else "")]),
    BackgroundRemoval: st.tuples(
        st.sampled_from(["", "fineedges_y", "fineedges_n"]),
        st.lists(st.sampled_from(sorted(HINT_CLASSES)), max_size=4),
    ).map(
        lambda t: [
            "e_background_removal:"
            + ";".join([o for o in (t[0], f"hints_({';'.join(t[1])})" if t[1] else "") if o])
        ]
    ),
}
OUTPUT = st.one_of(
    st.sampled_from([f"f_{f.value}" for f in Format] + ["f_jpeg"]),
    st.integers(1, 100).map(lambda q: f"q_{q}"),
    st.sampled_from(["q_auto"] + [f"q_auto:{p.value}" for p in QualityPreset]),
    st.sampled_from(["fl_progressive", "fl_strip_profile.keep_iptc", "fl_attachment",
                     "fl_preserve_transparency", "fl_getinfo"]),
    st.sampled_from([f"t_{n}" for n in NAMED]),
    # frames (`e_loop` is an output setting too, but an effect by spelling: its round trip is in
    # test_chain, as two effects in one component would be one, last wins)
    st.tuples(st.integers(1, 20), st.integers(0, 5)).map(
        lambda ab: f"pg_{ab[0]}" if ab[1] == 0 else f"pg_{ab[0]}-{ab[0] + ab[1]}"
    ),
    st.integers(0, 655_350).map(lambda d: f"dl_{d}"),
    st.just("fl_animated.awebp"),
)  # fmt: skip


def param_strategy(cls: type) -> st.SearchStrategy[list[str]]:
    if cls in IRREGULAR:
        return IRREGULAR[cls]
    assert all(
        f.base in (int, float, bool, Color) or issubclass(f.base, Enum) for f in specs(cls)
    ), f"{cls.__name__} needs a strategy in IRREGULAR"
    return generic_param(cls)


ORDINARY = [cls for code, cls in ACTIONS.items() if cls is not BackgroundRemoval]


@st.composite
def chains(draw: st.DrawFn) -> str:
    components: list[str] = []
    for i in range(draw(st.integers(1, 4))):
        tokens: list[str] = []
        if i == 0 and draw(st.integers(0, 4)) == 0:
            tokens += draw(IRREGULAR[BackgroundRemoval])
        for cls in draw(st.lists(st.sampled_from(ORDINARY), max_size=4)):
            tokens += draw(param_strategy(cls))
        outputs = draw(st.lists(OUTPUT, max_size=2))
        if tokens and isinstance(tokens[0], str) and tokens[0].startswith("e_background_removal"):
            outputs = [o for o in outputs if not o.startswith("t_")]  # t_ would expand first
        tokens += outputs
        components.append(",".join(draw(st.permutations(tokens))))
    return "/".join(components)


@settings(max_examples=250)
@given(chains())
def test_parse_canonical_round_trip(chain: str) -> None:
    plan = parse_chain(chain, named=NAMED)
    text = canonical(plan)
    again = parse_chain(text)
    assert again == plan
    assert canonical(again) == text


def test_every_action_has_a_strategy() -> None:
    for cls in ACTIONS.values():
        assert param_strategy(cls) is not None


@settings(max_examples=200)
@given(st.sampled_from([c for c in ORDINARY if c not in IRREGULAR]).flatmap(
    lambda cls: st.builds(cls, **{f.name: (
        st.builds(Color, *[st.integers(0, 255)] * 4) if f.base is Color
        else st.integers(int(f.range.lo), int(f.range.hi)) if f.range and f.base is int
        else st.from_type(f.base)) for f in specs(cls)})))  # fmt: skip
def test_step_instances_round_trip(step: Any) -> None:
    plan = Plan((Component((step,)),))
    assert parse_chain(canonical(plan)) == plan


ALPHABET = "abcdefghlopqrtuwxyz_:.,/()0123456789;-$%vs "


@settings(max_examples=300)
@given(st.one_of(
    st.text(ALPHABET, max_size=60),
    st.text(max_size=40),
    st.tuples(chains(), st.integers(0, 80), st.text(ALPHABET, max_size=3)).map(
        lambda t: t[0][: t[1]] + t[2] + t[0][t[1] + len(t[2]) :]),  # a valid chain, mutated
))  # fmt: skip
def test_junk_chains_only_raise_invalid_transformation(junk: str) -> None:
    try:
        plan = parse_chain(junk, named=NAMED)
    except InvalidTransformation as e:
        assert e.status == 400 and e.public
        return
    assert parse_chain(canonical(plan)) == plan


@settings(max_examples=600)
@given(st.text(ALPHABET + "ABC.\\é", max_size=80))
def test_junk_urls_only_raise_4xx(junk: str) -> None:
    for path in (f"/demo/image/upload/{junk}", f"/{junk}", f"/demo/image/upload/{junk}/v1/x.jpg",
                 f"/demo/image/fetch/{junk}", f"/demo/image/fetch/{junk}/http://x/{junk}",
                 f"/demo/image/fetch/https://{junk}"):  # fmt: skip
        try:
            req = parse_url(path, named=NAMED)
        except CdnError as e:
            assert 400 <= e.status < 500 and e.public
            continue
        assert parse_chain(canonical(req.plan)) == req.plan
        assert req.delivery_type == "fetch" or ".." not in req.public_id.split("/")
