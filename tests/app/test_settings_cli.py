"""Settings: every `ALPHACDN_*` variable is validated, documented in README and `--help`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from alphacdn.settings import VARIABLES, Settings, SettingsError
from tests.conftest import MODELS_DIR, ROOT


def test_every_variable_is_in_readme_and_help() -> None:
    readme = (ROOT / "README.md").read_text()
    help_text = subprocess.run(
        [sys.executable, "-m", "alphacdn.cli", "serve", "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    for var in VARIABLES:
        assert f"`{var.name}`" in readme, var.name
        assert var.name in help_text, var.name


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ALPHACDN_PORT", "eighty"),
        ("ALPHACDN_WORKERS", "0"),
        ("ALPHACDN_CACHE_SIZE", "lots"),
        ("ALPHACDN_MAX_SOURCE_PIXELS", "-5"),
        ("ALPHACDN_STRICT_TRANSFORMATIONS", "maybe"),
        ("ALPHACDN_USER_MODEL_MEAN", "0.5,0.5"),
        ("ALPHACDN_MATTE_WAIT", "-1"),
        ("ALPHACDN_MATTE_WAIT", "600"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_values_and_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "alphacdn.toml"
    cfg.write_text(
        'clouds = ["shop", "demo"]\n[api_keys]\n"111" = "s1"\n'
        '[named_transformations]\nthumb = "c_fill,w_10,h_10"\n'
    )
    s = Settings.from_env(
        {
            "ALPHACDN_CONFIG": str(cfg),
            "ALPHACDN_CACHE_SIZE": "500MB",
            "ALPHACDN_MAX_SOURCE_PIXELS": "12MP",
            "ALPHACDN_DATA_DIR": str(tmp_path / "d"),
        }
    )
    assert s.http.clouds == ("shop", "demo")
    assert s.http.api_keys["111"] == "s1"
    assert s.engine.named_transformations == {"thumb": "c_fill,w_10,h_10"}
    assert s.cache.size_limit_bytes == 500 * 1024**2
    assert s.engine.max_source_pixels == 12_000_000
    assert s.models.models_dir == tmp_path / "d" / "models"


def test_models_command_lists_installed_models() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "alphacdn.cli", "models", "--models-dir", str(MODELS_DIR)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "u2netp" in out and "isnet" in out and "AGPL" in out
