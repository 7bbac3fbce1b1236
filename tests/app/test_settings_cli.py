"""Settings: every `ALPHACDN_*` variable is validated in the user's terms, settable from the TOML
file, documented in README and `--help`; unknown names are refused; the CLI's own surface."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from alphacdn.settings import (
    CACHE_SIZE,
    DEV_API_KEY,
    NOT_SETTINGS,
    PLACES,
    VARIABLES,
    Settings,
    SettingsError,
    Var,
    settings_markdown,
)
from tests.conftest import MODELS_DIR, ROOT

#: a valid, non-default value of every setting: (variable text, TOML value)
SAMPLES: dict[str, tuple[str | None, Any]] = {
    "host": ("0.0.0.0", "0.0.0.0"),
    "port": ("9000", 9000),
    "workers": ("3", 3),
    "clouds": ("shop,demo", ["shop", "demo"]),
    "api_keys": (None, {"111": "s1"}),
    "strict_transformations": ("yes", True),
    "max_upload_bytes": ("5MB", "5MB"),
    "allow_remote_upload": ("true", True),
    "allow_private_urls": ("on", True),
    "unversioned_max_age": ("60", 60),
    "removebg_keys": ("k1,k2", ["k1", "k2"]),
    "removebg_default_credits": ("12.5", 12.5),
    "allow_dev_keys": ("1", True),
    "trust_forwarded_for": ("true", True),
    "public_url": ("https://cdn.example.com/", "https://cdn.example.com"),
    "metrics_token": ("s3cret", "s3cret"),
    "fetch_domains": (
        "img.example.com,*.cdn.example.com",
        ["img.example.com", "*.cdn.example.com"],
    ),
    "fetch_ttl": ("60", 60),
    "fetch_stale_if_error": ("600", 600),
    "fetch_max_bytes": ("5MB", "5MB"),
    "fetch_timeout": ("2.5", 2.5),
    "cors_origins": (
        "http://localhost:5173,https://shop.example.com/",
        ["http://localhost:5173", "https://shop.example.com"],
    ),
    "upload_presets": (None, {"shop": {"unsigned": True, "folder": "products"}}),
    "log_format": ("JSON", "json"),
    "data_dir": ("/tmp/alphacdn-sample", "/tmp/alphacdn-sample"),
    "cache_size": ("500MiB", 500 * 1024**2),
    "max_source_pixels": ("12MP", "12MP"),
    "max_source_side": ("8000", 8000),
    "vips_concurrency": ("4", 4),
    "vips_cache_mb": ("0", 0),
    "render_threads": ("3", 3),
    "render_budget": ("8000", 8000),
    "max_canvas_pixels": ("40MP", "40MP"),
    "render_timeout": ("2.5", 2.5),
    "renders_per_client": ("2", 2),
    "render_client_queue": ("0", 0),
    "named_transformations": (None, {"thumb": "c_fill,w_10,h_10"}),
    "models_dir": ("/tmp/alphacdn-models", "/tmp/alphacdn-models"),
    "model": ("u2netp", "u2netp"),
    "person_model": ("none", "none"),
    "ort_threads": ("1", 1),
    "warm_up": ("true", True),
    "user_model_path": ("/tmp/m.onnx", "/tmp/m.onnx"),
    "user_model_size": ("512", 512),
    "user_model_mean": ("0.485,0.456,0.406", [0.485, 0.456, 0.406]),
    "user_model_std": ("0.2,0.2,0.2", [0.2, 0.2, 0.2]),
    "ort_providers": (
        "CUDAExecutionProvider, CPUExecutionProvider",
        ["CUDAExecutionProvider", "CPUExecutionProvider"],
    ),
    "queue_max": ("5", 5),
    "job_concurrency": ("2", 2),
    "job_lease_seconds": ("90", 90),
    "job_retry_seconds": ("5", 5),
    "matte_wait": ("20", 20),
    "matte_preview": ("u2netp", "u2netp"),
    "job_poll_seconds": ("1.5", 1.5),
    "task_retention_seconds": ("3600", 3600),
    "store_url": ("s3://media-bucket/site-a", "s3://media-bucket/site-a"),
    "s3_endpoint_url": ("http://127.0.0.1:7480/", "http://127.0.0.1:7480"),
    "redis_url": ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
    "role": ("Worker", "worker"),
}


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ALPHACDN_")}
    return subprocess.run(
        [sys.executable, "-m", "alphacdn.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**clean, **(env or {})},
        timeout=60,
    )


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f'"{k}" = {_toml(v)}' for k, v in value.items()) + " }"
    return str(value)


def test_every_variable_is_in_readme_and_help() -> None:
    readme = (ROOT / "README.md").read_text()
    help_text = _cli("serve", "--help").stdout
    for var in VARIABLES:
        assert f"`{var.name}`" in readme, var.name
        assert var.name in help_text, var.name
    # the README's table is the one the declarations print
    assert settings_markdown() in readme


def test_every_setting_is_settable_from_toml_and_env(tmp_path: Path) -> None:
    """Each setting, given in the file or as its variable, lands in the same field, away from
    its default (SAMPLES must grow with every new setting)."""
    assert sorted(SAMPLES) == sorted(var.key for _, _, var in PLACES)
    default = Settings()
    for part, attr, var in PLACES:
        text, toml_value = SAMPLES[var.key]
        cfg = tmp_path / f"{var.key}.toml"
        cfg.write_text(f"{var.key} = {_toml(toml_value)}\n")
        from_file = Settings.from_env({"ALPHACDN_CONFIG": str(cfg)})
        got = getattr(getattr(from_file, part), attr)
        assert got != getattr(getattr(default, part), attr), var.key
        if text is not None:
            assert var.env is not None
            from_env = Settings.from_env({var.env: text})
            assert getattr(getattr(from_env, part), attr) == got, var.key


def test_variables_win_over_the_file(tmp_path: Path) -> None:
    cfg = tmp_path / "alphacdn.toml"
    cfg.write_text('cache_size = "1GB"\nqueue_max = 7\n')
    s = Settings.from_env({"ALPHACDN_CONFIG": str(cfg), "ALPHACDN_CACHE_SIZE": "3GB"})
    assert s.cache.size_limit_bytes == 3 * 1024**3
    assert s.jobs.queue_max == 7


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "ALPHACDN_CACHE_SIZE",
            "2XB",
            "ALPHACDN_CACHE_SIZE: '2XB' is not a size (e.g. 2GB, 500MB)",
        ),
        ("ALPHACDN_CACHE_SIZE", "lots", "is not a size"),
        ("ALPHACDN_CACHE_SIZE", "0", "is not a size"),
        ("ALPHACDN_PORT", "eighty", "ALPHACDN_PORT: 'eighty' is not a port number (0-65535)"),
        ("ALPHACDN_PORT", "70000", "is not a port number"),
        ("ALPHACDN_WORKERS", "0", "ALPHACDN_WORKERS: '0' is not a whole number ≥ 1"),
        ("ALPHACDN_WORKERS", "1.5", "is not a whole number ≥ 1"),
        ("ALPHACDN_MAX_SOURCE_PIXELS", "-5", "is not a pixel count (e.g. 50MP, 12000000)"),
        ("ALPHACDN_STRICT_TRANSFORMATIONS", "maybe", "'maybe' is not true or false"),
        ("ALPHACDN_USER_MODEL_MEAN", "0.5,0.5", "is not three comma-separated numbers"),
        ("ALPHACDN_USER_MODEL_MEAN", "a,b,c", "is not three comma-separated numbers"),
        ("ALPHACDN_MATTE_WAIT", "-1", "is not a number of seconds from 0 to 120"),
        ("ALPHACDN_MATTE_WAIT", "600", "is not a number of seconds from 0 to 120"),
        ("ALPHACDN_JOB_POLL_SECONDS", "0", "is not a number of seconds from 0.01 to 60"),
        ("ALPHACDN_CLOUD_NAME", "a b", "is not a comma-separated list of cloud names"),
        ("ALPHACDN_REMOVEBG_DEFAULT_CREDITS", "nan", "is not a number of credits ≥ 0"),
        ("ALPHACDN_VIPS_CACHE_MB", "-1", "is not a whole number ≥ 0"),
        ("ALPHACDN_HOST", "  ", "is not a non-empty text"),
        ("ALPHACDN_HOST", "", None),  # empty = not set, as in shells: the default stands
    ],
)
def test_bad_values_say_what_was_expected(name: str, value: str, message: str | None) -> None:
    if message is None:
        assert Settings.from_env({name: value}) == Settings()
        return
    with pytest.raises(SettingsError) as info:
        Settings.from_env({name: value})
    text = str(info.value)
    assert text.startswith(f"{name}: {value!r} is not"), text
    assert message in text
    assert "invalid literal" not in text and "could not convert" not in text


def test_bad_toml_values_name_the_file_and_key(tmp_path: Path) -> None:
    cfg = tmp_path / "alphacdn.toml"
    cfg.write_text('cache_size = "2XB"\n')
    with pytest.raises(SettingsError, match=r"alphacdn.toml: cache_size = '2XB' is not a size"):
        Settings.from_env({"ALPHACDN_CONFIG": str(cfg)})
    cfg.write_text('[removebg_keys."k"]\ncredit = 5\n')
    with pytest.raises(SettingsError, match=r"removebg_keys = .* is not a list of keys or a table"):
        Settings.from_env({"ALPHACDN_CONFIG": str(cfg)})
    cfg.write_text("[api_keys]\n")
    with pytest.raises(SettingsError, match=r"api_keys = \{\} is not a non-empty table"):
        Settings.from_env({"ALPHACDN_CONFIG": str(cfg)})
    cfg.write_text("cache_size = \n")
    with pytest.raises(SettingsError, match=r"ALPHACDN_CONFIG=.*alphacdn\.toml"):
        Settings.from_env({"ALPHACDN_CONFIG": str(cfg)})


def test_unknown_names_are_refused_with_the_close_match(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"ALPHACDN_CACHE_SIZ": "2GB", "ALPHACDN_WARMUP": "1"})
    text = str(info.value)
    assert "ALPHACDN_CACHE_SIZ (did you mean ALPHACDN_CACHE_SIZE?)" in text
    assert "ALPHACDN_WARMUP (did you mean ALPHACDN_WARM_UP?)" in text
    with pytest.raises(SettingsError, match=r"unknown variable ALPHACDN_ZZZ;"):
        Settings.from_env({"ALPHACDN_ZZZ": "1"})
    cfg = tmp_path / "alphacdn.toml"
    cfg.write_text('cache_sise = "2GB"\n')
    with pytest.raises(
        SettingsError, match=r"unknown key cache_sise \(did you mean cache_size\?\)"
    ):
        Settings.from_env({"ALPHACDN_CONFIG": str(cfg)})
    # names that are not settings, and other programs' variables, pass
    Settings.from_env({**dict.fromkeys(NOT_SETTINGS, "1"), "PATH": "/bin", "ALPHACDNX": "1"})


def test_every_alphacdn_name_the_repository_uses_is_known() -> None:
    """The allow-list covers what tests, benches, the Makefile and docs set, and holds nothing
    they do not use."""
    used: set[str] = set()
    for path in [ROOT / "Makefile", ROOT / "README.md"] + [
        p
        for d in ("tests", "bench", "alphacdn", "docs", "scripts")
        for p in (ROOT / d).rglob("*")
        if p.suffix in {".py", ".sh", ".md"} and p.is_file() and p != Path(__file__)
    ]:
        used |= set(re.findall(r"\bALPHACDN_[A-Z0-9_]*[A-Z0-9]\b", path.read_text()))
    known = {v.name for v in VARIABLES} | {"ALPHACDN_API_KEY", "ALPHACDN_API_SECRET"}
    known |= {"ALPHACDN_CONFIG"}
    assert not used - known - set(NOT_SETTINGS)
    assert set(NOT_SETTINGS) <= used


def test_values_and_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "alphacdn.toml"
    cfg.write_text(
        'clouds = ["shop", "demo"]\n[api_keys]\n"111" = "s1"\n'
        '[named_transformations]\nthumb = "c_fill,w_10,h_10"\n'
        '[removebg_keys."rb-1"]\ncredits = 500\nfree_calls = 5\n'
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
    assert s.http.api_keys == {"111": "s1"}  # the dev pair is gone once keys are configured
    assert s.http.removebg_keys == {"rb-1": {"credits": 500.0, "free_calls": 5.0}}
    assert s.engine.named_transformations == {"thumb": "c_fill,w_10,h_10"}
    assert s.cache.size_limit_bytes == 500 * 1024**2
    assert s.engine.max_source_pixels == 12_000_000
    assert s.models.models_dir == tmp_path / "d" / "models"
    paired = Settings.from_env(
        {"ALPHACDN_CONFIG": str(cfg), "ALPHACDN_API_KEY": "k", "ALPHACDN_API_SECRET": "s"}
    )
    assert list(paired.http.api_keys.items()) == [("k", "s"), ("111", "s1")]
    with pytest.raises(SettingsError, match="must be set together"):
        Settings.from_env({"ALPHACDN_API_KEY": "k"})


def test_a_variable_knows_its_name() -> None:
    assert CACHE_SIZE.name == "ALPHACDN_CACHE_SIZE"
    assert CACHE_SIZE.key == "cache_size"
    assert isinstance(CACHE_SIZE, Var)
    assert Settings.from_env({CACHE_SIZE.name: "3GB"}).cache.size_limit_bytes == 3 * 1024**3


def test_shown_defaults_are_the_defaults() -> None:
    """What `--help` and the README show as a default parses back to the default."""
    default = Settings()
    for part, attr, var in PLACES:
        if var.shown_default is not None and var.env and "<" not in var.shown_default:
            assert var.read(var.shown_default) == getattr(getattr(default, part), attr)


# ── the CLI ──────────────────────────────────────────────────────────────────────────────────


def test_version() -> None:
    out = _cli("--version")
    assert out.returncode == 0
    assert re.fullmatch(r"alphacdn \d+\.\d+\.\d+\S*\n", out.stdout), out.stdout


def test_log_level_has_choices() -> None:
    out = _cli("serve", "--log-level", "loud")
    assert out.returncode == 2
    assert "invalid choice: 'loud'" in out.stderr and "warning" in out.stderr


def test_bad_setting_is_one_line_in_the_users_terms() -> None:
    out = _cli("models", env={"ALPHACDN_CACHE_SIZE": "2XB"})
    assert out.returncode == 1
    assert out.stderr.strip() == (
        "alphacdn: bad setting: ALPHACDN_CACHE_SIZE: '2XB' is not a size (e.g. 2GB, 500MB)"
    )


def test_models_command_lists_installed_models() -> None:
    out = _cli("models", "--models-dir", str(MODELS_DIR))
    assert out.returncode == 0, out.stderr
    assert "u2netp" in out.stdout and "isnet" in out.stdout and "AGPL" in out.stdout


def test_dev_key_refusal_names_what_is_still_dev() -> None:
    s = Settings.from_env({"ALPHACDN_HOST": "0.0.0.0"})
    refusal = s.dev_keys_refusal()
    assert refusal is not None
    for name in ("ALPHACDN_API_KEY", "ALPHACDN_REMOVEBG_KEYS", "ALPHACDN_ALLOW_DEV_KEYS"):
        assert name in refusal
    own_pair = {"ALPHACDN_API_KEY": "k", "ALPHACDN_API_SECRET": "s"}
    only_rb = Settings.from_env({"ALPHACDN_HOST": "::", **own_pair}).dev_keys_refusal()
    assert only_rb is not None and "ALPHACDN_REMOVEBG_KEYS" in only_rb
    assert "ALPHACDN_API_KEY" not in only_rb
    own = {**own_pair, "ALPHACDN_REMOVEBG_KEYS": "rb"}
    assert Settings.from_env({"ALPHACDN_HOST": "0.0.0.0", **own}).dev_keys_refusal() is None
    for loopback in ("127.0.0.1", "localhost", "::1", "127.0.0.2", "[::1]"):
        assert Settings.from_env({"ALPHACDN_HOST": loopback}).dev_keys_refusal() is None
    assert Settings.from_env({"ALPHACDN_HOST": "example.org"}).dev_keys_refusal() is not None
    allowed = {"ALPHACDN_HOST": "0.0.0.0", "ALPHACDN_ALLOW_DEV_KEYS": "true"}
    assert Settings.from_env(allowed).dev_keys_refusal() is None
    assert DEV_API_KEY in Settings().http.api_keys


def test_serve_refuses_dev_keys_on_a_public_address(tmp_path: Path) -> None:
    out = _cli("serve", "--host", "0.0.0.0", "--port", "1", "--data-dir", str(tmp_path))
    assert out.returncode == 1
    assert "refusing to serve the documented development keys on 0.0.0.0" in out.stderr
    for name in (
        "ALPHACDN_API_KEY",
        "ALPHACDN_API_SECRET",
        "ALPHACDN_REMOVEBG_KEYS",
        "ALPHACDN_ALLOW_DEV_KEYS",
    ):
        assert name in out.stderr
    assert not (tmp_path / "state").exists()  # refused before anything was opened


def test_scale_out_settings_name_what_they_expect() -> None:
    for name, bad, expected in [
        ("ALPHACDN_STORE_URL", "s3:/bucket", "s3://<bucket>"),
        ("ALPHACDN_STORE_URL", "file://relative/dir", "file:///<absolute folder>"),
        ("ALPHACDN_S3_ENDPOINT_URL", "127.0.0.1:7480", "an http(s) URL"),
        ("ALPHACDN_REDIS_URL", "localhost:6379", "redis://host"),
        ("ALPHACDN_ROLE", "both", "one of all, web, worker"),
        ("ALPHACDN_ORT_PROVIDERS", "CUDA Execution", "comma-separated list of names"),
    ]:
        with pytest.raises(SettingsError, match=re.escape(expected)) as info:
            Settings.from_env({name: bad})
        assert name in str(info.value)
    s = Settings.from_env({"ALPHACDN_STORE_URL": "file:///srv/media", "ALPHACDN_ROLE": "web"})
    assert s.fleet.store_url == "file:///srv/media" and not s.fleet.runs_jobs


def test_a_missing_execution_provider_stops_a_worker_with_the_available_ones() -> None:
    out = _cli("worker", env={"ALPHACDN_ORT_PROVIDERS": "NoSuchExecutionProvider"})
    assert out.returncode == 1
    assert "ALPHACDN_ORT_PROVIDERS: execution provider(s) NoSuchExecutionProvider" in out.stderr
    assert "CPUExecutionProvider" in out.stderr  # what is available here
