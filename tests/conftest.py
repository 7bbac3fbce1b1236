"""Shared fixtures: paths, the models dir the test command fills, image comparison helpers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

#: the real S3 (radosgw) and Redis servers, started once per session by the tests that ask
pytest_plugins = ["tests.services"]

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


# Property tests: deterministic by default so CI is repeatable; explore new random examples
# with HYPOTHESIS_PROFILE=explore (failures found that way become regression tests).
settings.register_profile("default", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
