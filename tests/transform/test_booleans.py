"""The one boolean parser: every spelling Cloudinary and remove.bg document, nothing silent."""

from __future__ import annotations

import pytest

from alphacdn.transform.booleans import FALSE_WORDS, SPELLINGS, TRUE_WORDS, bool_param, parse_bool
from alphacdn.transform.errors import InvalidRequest


@pytest.mark.parametrize("raw", ["true", "TRUE", " True ", "1", "yes", "Yes", "on", True])
def test_true(raw: object) -> None:
    assert parse_bool(raw) is True


@pytest.mark.parametrize("raw", ["false", "FALSE", " False", "0", "no", "off", False])
def test_false(raw: object) -> None:
    assert parse_bool(raw) is False


@pytest.mark.parametrize("raw", ["", "maybe", "y", "n", "2", "-1", "truee", "t", None])
def test_anything_else_is_an_error_naming_the_spellings(raw: object) -> None:
    with pytest.raises(ValueError, match="true or false"):
        parse_bool(raw)
    with pytest.raises(InvalidRequest) as info:
        bool_param("overwrite", raw)
    assert info.value.status == 400
    assert info.value.public == f"Invalid value for overwrite: expected {SPELLINGS}"


def test_the_tables_do_not_overlap() -> None:
    assert not TRUE_WORDS & FALSE_WORDS
    assert {"true", "false", "1", "0"} <= TRUE_WORDS | FALSE_WORDS  # Cloudinary's SDK spellings
