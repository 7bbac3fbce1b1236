"""Every step the URL language knows has exactly one pixel function."""

from __future__ import annotations

import alphacdn.engine  # noqa: F401  (imports every applier module)
from alphacdn.engine.registry import APPLIERS
from alphacdn.transform.registry import ACTIONS


def test_every_action_has_an_applier() -> None:
    missing = [code for code, cls in ACTIONS.items() if cls not in APPLIERS]
    assert not missing, f"steps without an engine applier: {missing}"


def test_every_applier_documents_its_url_syntax() -> None:
    for cls, fn in APPLIERS.items():
        doc = (fn.__doc__ or "").strip()
        assert doc and "`" in doc.splitlines()[0], (
            f"{cls.__name__}: {fn.__name__} needs a docstring"
        )
