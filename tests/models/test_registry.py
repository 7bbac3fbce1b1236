"""Registry rows: sane, unique, consistent with the named sets."""

from __future__ import annotations

import re
from pathlib import Path

from alphacdn.models import DEFAULT_MODEL, DEFAULT_SET, FOR_TESTS, MODELS, ModelKind, user_model
from alphacdn.models.registry import SameFileAs, get_spec


def test_rows_are_sane() -> None:
    assert DEFAULT_MODEL in MODELS and MODELS[DEFAULT_MODEL].kind is ModelKind.MATTING
    assert set(FOR_TESTS) <= set(DEFAULT_SET) == set(MODELS)
    for name, spec in MODELS.items():
        assert spec.name == name
        assert spec.source is not None and spec.source.version[0].isdigit()
        assert spec.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", spec.sha256)
        assert spec.input_size % 32 == 0 and spec.nominal_seconds > 0
        assert spec.licence and spec.file_name.endswith(".onnx")
        assert len(spec.preprocess.mean) == len(spec.preprocess.std) == 3


def test_same_file_rows_share_their_base() -> None:
    for spec in MODELS.values():
        assert spec.source is not None
        if isinstance(spec.source.recipe, SameFileAs):
            base = MODELS[spec.source.recipe.model]
            assert (spec.file_name, spec.sha256) == (base.file_name, base.sha256)
            assert spec.input_size != base.input_size


def test_user_model_row(tmp_path: Path) -> None:
    path = tmp_path / "birefnet.onnx"
    spec = user_model(path, 1024, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    assert spec.file_path(Path("/elsewhere")) == path and spec.sha256 is None
    assert get_spec("user", spec) is spec
    try:
        get_spec("user")
    except KeyError as exc:
        assert "isnet" in str(exc)
    else:
        raise AssertionError("no user model configured")
