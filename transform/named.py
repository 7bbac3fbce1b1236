"""Named transformations' spelling (`t_<name>`): the only place outside the parser that knows it."""

from __future__ import annotations

_PREFIX = "t_"


def named_reference(name: str) -> str:
    """`shop_card` → `t_shop_card`, as the Admin API shows a named transformation."""
    return _PREFIX + name


def named_name(text: str) -> str:
    """`t_shop_card` or `shop_card` → `shop_card` (the Admin API accepts both)."""
    return text.removeprefix(_PREFIX)


def is_named_only(transformation: str) -> bool:
    """True when every component of a URL's transformation text is one named transformation
    (`t_a/t_b`, not `t_a,w_100`): strict mode serves those unsigned."""
    return all(
        seg.startswith(_PREFIX) and "," not in seg for seg in transformation.split("/") if seg
    )


__all__ = ["is_named_only", "named_name", "named_reference"]
