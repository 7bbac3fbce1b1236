"""Shared fixtures: paths, the models dir the test command fills, image comparison helpers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
SHARED_DATA = ROOT.parent / "shared" / "data"
#: where `alphacdn fetch-models --for-tests` (run by the test command) installs the weights
MODELS_DIR = Path(os.environ.get("ALPHACDN_TEST_MODELS_DIR", ROOT / "data" / "models"))


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def models_dir() -> Path:
    return MODELS_DIR
