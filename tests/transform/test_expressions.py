"""Variables, arithmetic, conditions and client hints (`transform.expressions`, `.dynamic`):
hypothesis against a reference evaluation, canonical round trips, hints from headers."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alphacdn.transform import InvalidTransformation, canonical, parse_chain
from alphacdn.transform.cost import check_cost, estimate
from alphacdn.transform.dynamic import (
    AutoWidth,
    ClientHints,
    Conditional,
    Dynamic,
    client_hints,
    hints_read,
    resolve_dynamic,
)
from alphacdn.transform.expressions import Env, parse_condition, parse_expr
from alphacdn.transform.steps import Resize
from alphacdn.transform.values import CropMode

NAMES = {"w": "width", "h": "height", "iw": "initial_width", "ih": "initial_height",
         "ar": "aspect_ratio", "iar": "initial_aspect_ratio"}  # fmt: skip
PY = {"add": "+", "sub": "-", "mul": "*", "div": "/", "mod": "%", "pow": "**"}

numbers = st.one_of(st.integers(0, 5000).map(str), st.sampled_from(["0.5", "1.25", "2.0", ".5"]))
operands = st.one_of(numbers, st.sampled_from(sorted(NAMES)), st.just("$v"),
                     st.sampled_from(sorted(NAMES)).map(NAMES.get))  # fmt: skip


@st.composite
def expressions(draw: st.DrawFn) -> list[str]:
    """Operand (op operand)*, never two `pow` in a row (Python's `**` groups to the right)."""
    tokens = [draw(operands)]
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(sorted(PY)))
        if op == "pow" and "pow" in tokens[-2:]:
            op = "mul"
        tokens += [op, draw(operands) if op != "pow" else draw(st.sampled_from(["2", "0.5"]))]
    return tokens


def reference(tokens: list[str], env: Env, width: int, height: int) -> float:
    values = {"w": width, "h": height, "ar": width / height, "iw": env.initial_width,
              "ih": env.initial_height, "iar": env.initial_width / env.initial_height,
              "$v": env.variables["v"]}  # fmt: skip
    long = {v: k for k, v in NAMES.items()}
    text = " ".join(
        PY[t] if i % 2 else repr(float(values.get(long.get(t, t), t)))  # type: ignore[arg-type]
        for i, t in enumerate(tokens)
    )
    return float(eval(text))


sizes = st.tuples(st.integers(1, 4000), st.integers(1, 4000))


@settings(max_examples=300)
@given(expressions(), sizes, sizes, st.floats(0, 1000, allow_nan=False))
def test_expressions_evaluate_as_arithmetic(
    tokens: list[str], size: tuple[int, int], initial: tuple[int, int], v: float
) -> None:
    env = Env(*initial, variables={"v": v})
    expr = parse_expr("_".join(tokens), "w_x")
    assert parse_expr(expr.text(), "w_x") == expr  # the canonical text reads back the same
    try:
        want = reference(tokens, env, *size)
    except (ZeroDivisionError, OverflowError):
        with pytest.raises(InvalidTransformation):
            expr.evaluate(env, *size)
        return
    if not math.isfinite(want) or abs(want) > 1e9:
        with pytest.raises(InvalidTransformation):
            expr.evaluate(env, *size)
        return
    assert expr.evaluate(env, *size) == pytest.approx(want, rel=1e-9, abs=1e-9)


comparisons = st.tuples(expressions(), st.sampled_from(["eq", "ne", "lt", "gt", "lte", "gte"]),
                        expressions())  # fmt: skip
PY_CMP = {"eq": "==", "ne": "!=", "lt": "<", "gt": ">", "lte": "<=", "gte": ">="}


@settings(max_examples=200)
@given(st.lists(st.tuples(comparisons, st.sampled_from(["and", "or"])), min_size=1, max_size=3),
       sizes, sizes)  # fmt: skip
def test_conditions_hold_as_python_says(
    parts: list[tuple[tuple[list[str], str, list[str]], str]],
    size: tuple[int, int],
    initial: tuple[int, int],
) -> None:
    env = Env(*initial, variables={"v": 3.0})
    text, py = [], []
    for i, ((left, op, right), joiner) in enumerate(parts):
        text.append("_".join(left) + f"_{op}_" + "_".join(right))
        try:
            a, b = reference(left, env, *size), reference(right, env, *size)
        except (ZeroDivisionError, OverflowError):
            return
        if not all(math.isfinite(x) and abs(x) <= 1e9 for x in (a, b)):
            return
        py.append(f"({a!r} {PY_CMP[op]} {b!r})")
        if i < len(parts) - 1:
            text.append(joiner)
            py.append(joiner)
    condition = parse_condition("_".join(text), "if_x")
    assert parse_condition(condition.text(), "if_x") == condition
    assert condition.holds(env, *size) == eval(" ".join(py))


@st.composite
def dynamic_chains(draw: st.DrawFn) -> str:
    """Chains mixing assignments, expressions, w_auto/dpr_auto and if_ blocks."""
    expr = expressions().map(lambda t: "_".join(t).replace("$v", "$a"))
    comps = ["$a_" + draw(numbers)]
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["assign", "resize", "auto", "if", "if1", "plain"]))
        if kind == "assign":
            comps.append(f"${draw(st.sampled_from(['a', 'bb', 'c1']))}_{draw(expr)}")
        elif kind == "resize":
            code = draw(st.sampled_from(["w", "h", "x", "y"]))
            comps.append(f"c_{draw(st.sampled_from(['fill', 'pad', 'crop', 'auto']))},"
                         f"{code}_{draw(expr)}")  # fmt: skip
        elif kind == "auto":
            comps.append(
                draw(
                    st.sampled_from(
                        [
                            "c_scale,w_auto",
                            "w_auto:50",
                            "w_auto:100:300",
                            "dpr_auto",
                            "c_fill,h_200,w_auto:20,dpr_auto",
                        ]
                    )
                )
            )
        elif kind == "if":
            cond = "_".join(draw(comparisons)[0]) + "_gt_" + draw(numbers)
            body = ["c_scale,w_" + draw(numbers.filter(lambda n: n not in ("0", "0.5", ".5")))]
            if draw(st.booleans()):
                body += ["if_else", "e_grayscale"]
            comps += [f"if_{cond}", *body, "if_end"]
        elif kind == "if1":
            comps.append(f"if_w_lt_{draw(numbers)},e_blur:{draw(st.integers(1, 500))}")
        else:
            comps.append(
                draw(
                    st.sampled_from(
                        [
                            "e_sepia",
                            "c_fill,g_auto:subject,w_10,h_10",
                            "c_auto,g_auto:classic,ar_1.5,w_100",
                            "f_auto",
                            "l_logo/c_scale,w_iw_div_4/fl_layer_apply",
                            "l_logo/if_w_gt_10/h_$a/if_end/fl_layer_apply",
                        ]
                    )
                )
            )
    return "/".join(comps)


@settings(max_examples=200)
@given(dynamic_chains())
def test_dynamic_chains_round_trip(chain: str) -> None:
    try:
        plan = parse_chain(chain)
    except InvalidTransformation:
        return  # e.g. a relative length in a plain component: the grammar refuses it cleanly
    text = canonical(plan)
    again = parse_chain(text)
    assert again == plan
    assert canonical(again) == text


def test_the_sdk_predominant_colour_placeholder() -> None:
    plan = parse_chain(
        "ar_1.0,b_auto,c_pad,w_iw_div_2/c_crop,g_north_east,h_1,w_1/c_fill,h_ih,w_iw"
    )
    first = plan.components[0].steps[0]
    assert isinstance(first, Dynamic)
    env = Env(640, 480)
    (step,) = resolve_dynamic(first, env, 640, 480)
    assert step == Resize(320, crop=CropMode.PAD, aspect_ratio=1.0, background=step.background)
    last = plan.components[2].steps[0]
    assert isinstance(last, Dynamic)
    assert resolve_dynamic(last, env, 1, 1) == (Resize(640, 480, CropMode.FILL),)


def test_variables_are_read_after_they_are_set() -> None:
    plan = parse_chain("$cw_w,$ch_h_mul_2/c_scale,w_10/c_fill,h_$ch,w_$cw_add_1")
    env = Env(300, 200)
    steps = [c.steps[0] for c in plan.components]
    assert isinstance(steps[0], Dynamic) and isinstance(steps[2], Dynamic)
    assert resolve_dynamic(steps[0], env, 300, 200) == ()
    assert env.variables == {"cw": 300.0, "ch": 400.0}
    assert resolve_dynamic(steps[2], env, 10, 7) == (Resize(301, 400, CropMode.FILL),)
    with pytest.raises(InvalidTransformation, match="not set"):
        resolve_dynamic(steps[2], Env(300, 200), 10, 7)


def test_single_component_condition_and_blocks() -> None:
    one = parse_chain("if_w_gt_400,c_scale,w_400").components[0].steps[0]
    block = parse_chain("if_w_gt_400/c_scale,w_400/if_end").components[0].steps[0]
    assert isinstance(one, Conditional) and one == block
    nested = parse_chain("if_ar_gt_1/if_w_gt_100/w_50/if_end/if_else/h_50/if_end")
    outer = nested.components[0].steps[0]
    assert isinstance(outer, Conditional) and isinstance(outer.then[0].steps[0], Conditional)
    assert parse_chain("if_w_gt_1/if_end").components == ()


@pytest.mark.parametrize(
    ("headers", "reads", "want"),
    [
        ({}, (True, True), (None, None)),
        ({"sec-ch-width": "555"}, (True, False), (555, None)),
        ({"width": "555"}, (True, False), (555, None)),
        ({"sec-ch-width": "300", "width": "999"}, (True, False), (300, None)),
        ({"sec-ch-dpr": "2.625"}, (False, True), (None, 2.7)),
        ({"dpr": "0.5"}, (False, True), (None, 1.0)),
        ({"dpr": "9"}, (False, True), (None, 4.0)),
        ({"sec-ch-dpr": "2", "sec-ch-width": "800"}, (True, True), (800, 1.0)),
        ({"sec-ch-width": "junk", "sec-ch-dpr": "nan"}, (True, True), (None, None)),
        ({"sec-ch-width": "99999999"}, (True, False), (16384, None)),
        ({"sec-ch-width": "800"}, (False, False), (None, None)),
    ],
)
def test_client_hints_from_headers(
    headers: dict[str, str], reads: tuple[bool, bool], want: tuple[int | None, float | None]
) -> None:
    hints = client_hints(reads, headers)
    assert (hints.width, hints.dpr) == want
    assert bool(hints.key()) == any(reads)


def test_w_auto_rounds_up_to_its_step_and_falls_back() -> None:
    plan = parse_chain("c_scale,w_auto:100:400/dpr_auto")
    assert hints_read(plan.components) == (True, True)
    (first,) = plan.components[0].steps
    assert isinstance(first, Dynamic)
    assert first.params[1][1] == (AutoWidth(100, 400),)
    for hint, want in ((555, 600), (600, 600), (None, 400)):
        env = Env(1000, 500, hint_width=hint)
        (step,) = resolve_dynamic(first, env, 1000, 500)
        assert isinstance(step, Resize) and step.width == want
    (bare,) = parse_chain("c_scale,w_auto").components[0].steps
    assert isinstance(bare, Dynamic)
    assert resolve_dynamic(bare, Env(1000, 500), 1000, 500)[0] == Resize(1000)  # no hint: as is
    keys = {ClientHints(w, None, True, False).key() for w in (None, 600, 700)}
    assert len(keys) == 3  # resolved values are part of the key


def test_the_cost_estimate_decides_conditions_and_expressions_on_its_sizes() -> None:
    chain = parse_chain("if_w_gt_2000/e_blur:2000/if_end/c_scale,w_iw_mul_3")
    small, large = estimate(chain, 1000, 800), estimate(chain, 3000, 2000)
    assert small.largest == (3000, 2400)  # the expression resolved: three times the width
    assert large.units > 10 * small.units  # only the large image takes the blur branch
    with pytest.raises(InvalidTransformation, match="render budget"):
        check_cost(chain, 3000, 2000, budget=4000, max_canvas=10**9)
    check_cost(chain, 1000, 800, budget=4000, max_canvas=10**9)


def test_vectorize_is_priced_by_what_it_traces() -> None:
    cheap = estimate(parse_chain("e_vectorize/f_svg"), 1352, 900)
    dear = estimate(parse_chain("e_vectorize:30:1000:0/f_svg"), 1352, 900)
    assert dear.units - dear.baseline > 10 * (cheap.units - cheap.baseline)
    with pytest.raises(InvalidTransformation, match="e_vectorize"):
        check_cost(parse_chain("e_vectorize:30:1000:0/f_svg"), 1352, 900, budget=4000,
                   max_canvas=10**9)  # fmt: skip
