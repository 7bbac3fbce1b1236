"""Cache keys: documented canonical text, distinct for distinct inputs, tag format."""

from __future__ import annotations

import hashlib

from alphacdn.cache import asset_tag, derived_key, matte_key


def test_derived_key_is_the_sha256_of_the_documented_text() -> None:
    text = '["derived",1,"demo","shoes/red",1700000000,"c_fill,h_300,w_400","webp"]'
    expected = hashlib.sha256(text.encode()).hexdigest()
    assert derived_key("demo", "shoes/red", 1700000000, "c_fill,h_300,w_400", "webp") == expected


def test_keys_differ_whenever_an_input_differs() -> None:
    base = ("demo", "a", 1, "w_10", "png")
    variants = [
        ("other", "a", 1, "w_10", "png"),
        ("demo", "b", 1, "w_10", "png"),
        ("demo", "a", 2, "w_10", "png"),
        ("demo", "a", 1, "w_11", "png"),
        ("demo", "a", 1, "w_10", "jpg"),
        ("demo", "a", 1, "w_10,png", ""),  # no separator ambiguity
    ]
    keys = {derived_key(*base)} | {derived_key(*v) for v in variants}
    assert len(keys) == len(variants) + 1
    assert matte_key("demo", "a", 1, "isnet", "") != derived_key("demo", "a", 1, "isnet", "")
    assert matte_key("demo", "a", 1, "isnet", "fineedges_y") != matte_key(
        "demo", "a", 1, "isnet", ""
    )
    assert len(matte_key("demo", "ü", 1, "u2netp", "hints_(dog)")) == 64


def test_asset_tag() -> None:
    assert asset_tag("demo", "shoes/red") == "demo/shoes/red"
