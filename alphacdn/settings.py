"""One settings object, read once from `ALPHACDN_*` variables (and an optional TOML file).

`Settings.from_env(os.environ)` validates every field and names the bad variable.
`create_app(settings)` is the only reader; nothing else imports `os.environ`.

The table below is the single source of the CLI `--help` text and the README table.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

#: The documented development key pair. Change it (ALPHACDN_API_KEY / ALPHACDN_API_SECRET)
#: before exposing the server anywhere.
DEV_API_KEY = "123456789012345"
DEV_API_SECRET = "alphacdn-dev-secret"


#: the longest ALPHACDN_MATTE_WAIT accepted: a held request keeps its connection open
MAX_MATTE_WAIT = 120.0


class SettingsError(ValueError):
    """A bad setting; the message names the `ALPHACDN_*` variable."""


@dataclass(frozen=True, slots=True)
class HttpSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    #: cloud names served by this instance; the first is the default
    clouds: tuple[str, ...] = ("demo",)
    #: api_key -> api_secret
    api_keys: Mapping[str, str] = field(default_factory=lambda: {DEV_API_KEY: DEV_API_SECRET})
    strict_transformations: bool = False
    max_upload_bytes: int = 100 * 1024 * 1024
    allow_remote_upload: bool = False
    #: allow fetching upload/remote URLs that resolve to loopback/private networks
    allow_private_urls: bool = False
    #: Cache-Control max-age for unversioned URLs
    unversioned_max_age: int = 3600
    #: remove.bg-style API allowances per X-Api-Key (credits, free_calls, rate_limit); every
    #: upload api_key is also a removebg key with the defaults below unless listed here
    removebg_keys: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    removebg_default_credits: float = 10_000.0

    @property
    def api_secret(self) -> str:
        return next(iter(self.api_keys.values()))

    @property
    def api_key(self) -> str:
        return next(iter(self.api_keys.keys()))


@dataclass(frozen=True, slots=True)
class CacheSettings:
    root: Path = Path("./data")
    #: size bound of the derived + matte cache (originals are never evicted)
    size_limit_bytes: int = 2 * 1024**3

    @property
    def originals_dir(self) -> Path:
        return self.root / "originals"

    @property
    def derived_dir(self) -> Path:
        return self.root / "derived"

    @property
    def state_dir(self) -> Path:
        return self.root / "state"


@dataclass(frozen=True, slots=True)
class EngineSettings:
    max_source_pixels: int = 50_000_000
    #: libvips worker threads per operation
    vips_concurrency: int = 2
    #: libvips operation cache size in MB (0 disables it)
    vips_cache_mb: int = 100
    #: how many renders run at once per process (pixel work runs in threads)
    render_threads: int = 2
    #: named transformations from the config file: name -> chain
    named_transformations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ModelSettings:
    models_dir: Path = Path("./data/models")
    default_model: str = "isnet"
    #: onnxruntime intra-op threads per session
    ort_threads: int = 2
    #: create the default model's session and run one inference at startup (in the background)
    warm_up: bool = False
    #: optional user model: path to an ONNX file, with its input size and normalisation
    user_model_path: Path | None = None
    user_model_size: int = 1024
    user_model_mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    user_model_std: tuple[float, float, float] = (1.0, 1.0, 1.0)


@dataclass(frozen=True, slots=True)
class JobSettings:
    #: maximum queued + running matte jobs; beyond that requests get 503
    queue_max: int = 64
    #: matte jobs run at once per process (one inference at a time is the design)
    concurrency: int = 1
    #: a running job's lease; renewed every third of it, so only a dead process lets it lapse
    lease_seconds: int = 30
    #: how long a delivery request for a matte in progress may wait for it before answering
    #: 423 (0 = at once, as Cloudinary does)
    matte_wait_seconds: float = 0.0
    #: how often an idle job runner looks for jobs submitted by other worker processes
    poll_seconds: float = 0.25
    #: finished `/v2/tasks` tasks (record, input and result files) are removed after this long
    task_retention_seconds: int = 7 * 24 * 3600


@dataclass(frozen=True, slots=True)
class Settings:
    http: HttpSettings = field(default_factory=HttpSettings)
    cache: CacheSettings = field(default_factory=CacheSettings)
    engine: EngineSettings = field(default_factory=EngineSettings)
    models: ModelSettings = field(default_factory=ModelSettings)
    jobs: JobSettings = field(default_factory=JobSettings)

    @property
    def cloud_name(self) -> str:
        return self.http.clouds[0]

    @classmethod
    def for_data_dir(cls, root: Path) -> Settings:
        """Defaults with every path under one data dir (what tests and `serve --data-dir` use)."""
        s = cls()
        return replace(
            s,
            cache=replace(s.cache, root=root),
            models=replace(s.models, models_dir=root / "models"),
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Build settings from `ALPHACDN_*` variables; raise SettingsError naming a bad one."""
        s = cls()
        config_path = env.get("ALPHACDN_CONFIG")
        if config_path:
            s = _apply_config_file(s, Path(config_path))
        data_dir = env.get("ALPHACDN_DATA_DIR")
        if data_dir:
            base = cls.for_data_dir(Path(data_dir))
            s = replace(s, cache=replace(s.cache, root=base.cache.root))
            if "ALPHACDN_MODELS_DIR" not in env:
                s = replace(s, models=replace(s.models, models_dir=base.models.models_dir))
        for var in VARIABLES:
            raw = env.get(var.name)
            if raw is None or raw == "":
                continue
            try:
                value = var.parse(raw)
            except (ValueError, TypeError) as exc:
                raise SettingsError(f"{var.name}={raw!r}: {exc}") from None
            s = var.apply(s, value)
        if env.get("ALPHACDN_API_KEY") and env.get("ALPHACDN_API_SECRET"):
            keys = dict(s.http.api_keys)
            keys.pop(DEV_API_KEY, None)
            keys = {env["ALPHACDN_API_KEY"]: env["ALPHACDN_API_SECRET"], **keys}
            s = replace(s, http=replace(s.http, api_keys=keys))
        elif env.get("ALPHACDN_API_KEY") or env.get("ALPHACDN_API_SECRET"):
            raise SettingsError("ALPHACDN_API_KEY and ALPHACDN_API_SECRET must be set together")
        return s


def _bool(raw: str) -> bool:
    v = raw.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true/false")


def _positive_int(raw: str) -> int:
    v = int(raw)
    if v < 1:
        raise ValueError("must be ≥ 1")
    return v


def _size(raw: str) -> int:
    """`1024`, `500MB`, `2GB`, `10MiB`."""
    t = raw.strip().upper().replace("IB", "B")
    for suffix, mul in (("KB", 1024), ("MB", 1024**2), ("GB", 1024**3), ("TB", 1024**4)):
        if t.endswith(suffix):
            return int(float(t[: -len(suffix)]) * mul)
    if t.endswith("B"):
        t = t[:-1]
    return _positive_int(t)


def _wait_seconds(raw: str) -> float:
    v = float(raw)
    if not 0 <= v <= MAX_MATTE_WAIT:
        raise ValueError(f"seconds in 0..{MAX_MATTE_WAIT:g}")
    return v


def _poll_seconds(raw: str) -> float:
    v = float(raw)
    if not 0.01 <= v <= 60:
        raise ValueError("seconds in 0.01..60")
    return v


def _pixels(raw: str) -> int:
    """`50000000` or `50MP`."""
    t = raw.strip().upper()
    if t.endswith("MP"):
        return int(float(t[:-2]) * 1_000_000)
    return _positive_int(t)


def _clouds(raw: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in raw.split(",") if n.strip())
    if not names or not all(n.replace("-", "").replace("_", "").isalnum() for n in names):
        raise ValueError("comma-separated cloud names of letters, digits, - and _")
    return names


def _floats3(raw: str) -> tuple[float, float, float]:
    parts = [float(p) for p in raw.split(",")]
    if len(parts) != 3:
        raise ValueError("expected three comma-separated numbers")
    return (parts[0], parts[1], parts[2])


@dataclass(frozen=True, slots=True)
class Variable:
    """One `ALPHACDN_*` variable: its CLI flag, help text and where it lands in Settings."""

    name: str
    part: str
    attr: str
    parse: Callable[[str], Any]
    help: str
    flag: str | None = None

    def apply(self, s: Settings, value: Any) -> Settings:
        part = getattr(s, self.part)
        return replace(s, **{self.part: replace(part, **{self.attr: value})})

    def default(self) -> Any:
        return getattr(getattr(Settings(), self.part), self.attr)


VARIABLES: tuple[Variable, ...] = (
    Variable("ALPHACDN_HOST", "http", "host", str, "address to bind", "--host"),
    Variable("ALPHACDN_PORT", "http", "port", int, "port to bind", "--port"),
    Variable("ALPHACDN_WORKERS", "http", "workers", _positive_int, "worker processes", "--workers"),
    Variable(
        "ALPHACDN_CLOUD_NAME",
        "http",
        "clouds",
        _clouds,
        "cloud name(s) served, comma-separated; the first is the default",
    ),
    Variable(
        "ALPHACDN_STRICT_TRANSFORMATIONS",
        "http",
        "strict_transformations",
        _bool,
        "only signed, named or eager transformations are served (others: 401)",
    ),
    Variable(
        "ALPHACDN_MAX_UPLOAD_BYTES",
        "http",
        "max_upload_bytes",
        _size,
        "largest accepted upload body (e.g. 100MB)",
    ),
    Variable(
        "ALPHACDN_ALLOW_REMOTE_UPLOAD",
        "http",
        "allow_remote_upload",
        _bool,
        "accept `file=https://…` uploads (fetched by the server)",
    ),
    Variable(
        "ALPHACDN_ALLOW_PRIVATE_URLS",
        "http",
        "allow_private_urls",
        _bool,
        "let remote fetches and webhooks reach loopback / private / link-local addresses",
    ),
    Variable(
        "ALPHACDN_UNVERSIONED_MAX_AGE",
        "http",
        "unversioned_max_age",
        int,
        "Cache-Control max-age (s) for URLs without a version",
    ),
    Variable(
        "ALPHACDN_DATA_DIR",
        "cache",
        "root",
        Path,
        "data dir: originals/, derived/ cache, state/ (and models/ by default)",
        "--data-dir",
    ),
    Variable(
        "ALPHACDN_CACHE_SIZE",
        "cache",
        "size_limit_bytes",
        _size,
        "size bound of the derived + matte cache (e.g. 2GB); originals are never evicted",
    ),
    Variable(
        "ALPHACDN_MAX_SOURCE_PIXELS",
        "engine",
        "max_source_pixels",
        _pixels,
        "largest source image accepted, checked from the header (e.g. 50MP)",
    ),
    Variable(
        "ALPHACDN_VIPS_CONCURRENCY",
        "engine",
        "vips_concurrency",
        _positive_int,
        "libvips threads per operation",
    ),
    Variable(
        "ALPHACDN_VIPS_CACHE_MB",
        "engine",
        "vips_cache_mb",
        int,
        "libvips operation cache (MB, 0 = off)",
    ),
    Variable(
        "ALPHACDN_RENDER_THREADS",
        "engine",
        "render_threads",
        _positive_int,
        "renders running at once per worker process",
    ),
    Variable(
        "ALPHACDN_MODELS_DIR",
        "models",
        "models_dir",
        Path,
        "where `alphacdn fetch-models` puts model weights",
    ),
    Variable(
        "ALPHACDN_MODEL",
        "models",
        "default_model",
        str,
        "background-removal model (see `alphacdn models`)",
    ),
    Variable(
        "ALPHACDN_ORT_THREADS",
        "models",
        "ort_threads",
        _positive_int,
        "onnxruntime intra-op threads per session",
    ),
    Variable(
        "ALPHACDN_WARM_UP",
        "models",
        "warm_up",
        _bool,
        "load the model and run one inference at startup, so the first matte does not pay it "
        "(isnet: ~0.5 GB more resident from the start)",
    ),
    Variable(
        "ALPHACDN_USER_MODEL_PATH",
        "models",
        "user_model_path",
        Path,
        "your own ONNX matting model (registered as model `user`)",
    ),
    Variable(
        "ALPHACDN_USER_MODEL_SIZE",
        "models",
        "user_model_size",
        _positive_int,
        "input size (square) of the user model",
    ),
    Variable(
        "ALPHACDN_USER_MODEL_MEAN",
        "models",
        "user_model_mean",
        _floats3,
        "per-channel mean of the user model on 0..1 input, e.g. 0.485,0.456,0.406",
    ),
    Variable(
        "ALPHACDN_USER_MODEL_STD",
        "models",
        "user_model_std",
        _floats3,
        "per-channel std of the user model on 0..1 input",
    ),
    Variable(
        "ALPHACDN_QUEUE_MAX",
        "jobs",
        "queue_max",
        _positive_int,
        "max queued + running matte jobs (beyond: 503 + Retry-After)",
    ),
    Variable(
        "ALPHACDN_JOB_CONCURRENCY",
        "jobs",
        "concurrency",
        _positive_int,
        "matte jobs running at once per process",
    ),
    Variable(
        "ALPHACDN_MATTE_WAIT",
        "jobs",
        "matte_wait_seconds",
        _wait_seconds,
        "seconds a delivery request for a matte in progress may wait for it before answering "
        "423 (0 = at once, as Cloudinary does; e.g. 20 lets an <img> get the cut-out)",
    ),
    Variable(
        "ALPHACDN_JOB_LEASE_SECONDS",
        "jobs",
        "lease_seconds",
        _positive_int,
        "a running job not heard from for this long is re-queued",
    ),
    Variable(
        "ALPHACDN_JOB_POLL_SECONDS",
        "jobs",
        "poll_seconds",
        _poll_seconds,
        "how often an idle job runner looks for jobs queued by other worker processes",
    ),
    Variable(
        "ALPHACDN_TASK_RETENTION_SECONDS",
        "jobs",
        "task_retention_seconds",
        _positive_int,
        "finished /v2/tasks tasks and their files are deleted this long after they finish",
    ),
)


def _apply_config_file(s: Settings, path: Path) -> Settings:
    """Read the TOML config file: more clouds, key pairs and named transformations.

    ```toml
    clouds = ["demo", "shop"]
    [api_keys]
    "111111111111111" = "secret-one"
    [named_transformations]
    thumb = "c_fill,w_200,h_200/f_auto"
    [removebg_keys."my-api-key"]
    credits = 500
    free_calls = 50
    rate_limit = 500   # megapixel-weighted images per minute
    ```
    """
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"ALPHACDN_CONFIG={path}: {exc}") from None
    http = s.http
    if "clouds" in data:
        clouds = data["clouds"]
        if not isinstance(clouds, list) or not clouds:
            raise SettingsError(f"ALPHACDN_CONFIG={path}: clouds must be a non-empty list")
        http = replace(http, clouds=tuple(str(c) for c in clouds))
    if "api_keys" in data:
        keys = {str(k): str(v) for k, v in dict(data["api_keys"]).items()}
        http = replace(
            http,
            api_keys={**keys, **{k: v for k, v in http.api_keys.items() if k != DEV_API_KEY}}
            or keys,
        )
    if "removebg_keys" in data:
        rb = {
            str(k): {str(f): float(v) for f, v in dict(t).items()}
            for k, t in dict(data["removebg_keys"]).items()
        }
        http = replace(http, removebg_keys=rb)
    engine = s.engine
    if "named_transformations" in data:
        named = {str(k): str(v) for k, v in dict(data["named_transformations"]).items()}
        engine = replace(engine, named_transformations=named)
    return replace(s, http=http, engine=engine)


def settings_help() -> str:
    """A table of every variable with its default, for `--help` and README."""
    lines = []
    for var in VARIABLES:
        default = var.default()
        if isinstance(default, tuple):
            default = ",".join(str(x) for x in default)
        lines.append(f"  {var.name:<34} {var.help} (default: {default})")
    lines.append(
        f"  {'ALPHACDN_API_KEY / _API_SECRET':<34} upload/admin key pair "
        f"(default dev pair: {DEV_API_KEY} / {DEV_API_SECRET})"
    )
    lines.append(
        f"  {'ALPHACDN_CONFIG':<34} TOML file: more clouds, key pairs, named transformations"
    )
    return "\n".join(lines)


__all__ = [
    "DEV_API_KEY",
    "DEV_API_SECRET",
    "VARIABLES",
    "CacheSettings",
    "EngineSettings",
    "HttpSettings",
    "JobSettings",
    "ModelSettings",
    "Settings",
    "SettingsError",
    "settings_help",
]
