"""One settings object, read once from `ALPHACDN_*` variables and an optional TOML file.

`Settings.from_env(os.environ)` validates every field, names a bad or unknown variable (or TOML
key) and says what its value should have been. `create_app(settings)` is the only reader;
nothing else imports `os.environ`.

Each setting is one `Var`: its variable, TOML key, CLI flag, parser and help. The dataclass
field that holds the value carries its `Var` (`metadata`), so a variable knows where it lands
and code that needs a variable's name imports it (`CACHE_SIZE.name`) instead of searching.
The same declarations print `--help` and the README table.
"""

from __future__ import annotations

import difflib
import ipaddress
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Generic, TypeVar

from alphacdn import setting_values as v

T = TypeVar("T")

PREFIX = "ALPHACDN_"

#: The documented development key pair and remove.bg key: live on loopback only, unless
#: ALPHACDN_ALLOW_DEV_KEYS says otherwise (see `Settings.dev_keys_refusal`).
DEV_API_KEY = "123456789012345"
DEV_API_SECRET = "alphacdn-dev-secret"
DEV_REMOVEBG_KEY = "alphacdn-dev-removebg-key"

#: `ALPHACDN_*` names that are not server settings, so `from_env` lets them pass
NOT_SETTINGS: Mapping[str, str] = {
    "ALPHACDN_TEST_MODELS_DIR": "the test suite's models dir (tests/conftest.py)",
    "ALPHACDN_UPDATE_GOLDEN": "refresh the golden images (tests)",
    "ALPHACDN_REMOVEBG_API_KEY": "the key `alphacdn remove-bg` sends (a client setting)",
    "ALPHACDN_TEST_S3_ENDPOINT_URL": "run the S3 store tests against this server (tests)",
    "ALPHACDN_TEST_REDIS_URL": "run the Redis store tests against this server (tests)",
    "ALPHACDN_EDGE_URL": "the nginx in front that `scripts/services/nginx.sh start` reports",
}

_VAR = "alphacdn.var"


class SettingsError(ValueError):
    """A bad setting; the message names the `ALPHACDN_*` variable or TOML key."""


@dataclass(frozen=True, slots=True, eq=False)
class Var(Generic[T]):
    """One setting: its `ALPHACDN_*` variable (None: TOML only), TOML key, parser, help."""

    env: str | None
    parse: Callable[[str], T]
    help: str
    flag: str | None = None
    #: the TOML key; default: the variable without its prefix, lower-case
    toml: str = ""
    #: a TOML value → T (default: the value as text, through `parse`)
    parse_toml: Callable[[object], T] | None = None
    #: how the default is shown in --help and the README (default: the value itself)
    shown_default: str | None = None

    @property
    def key(self) -> str:
        """The TOML key."""
        return self.toml or (self.env or "").removeprefix(PREFIX).lower()

    @property
    def name(self) -> str:
        """How messages name this setting: `ALPHACDN_CACHE_SIZE`, or the TOML key."""
        return self.env or f"{self.key} (ALPHACDN_CONFIG)"

    @property
    def meta(self) -> Mapping[str, Any]:
        """`field(metadata=...)` of the dataclass field that holds this setting."""
        return {_VAR: self}

    def read(self, raw: str) -> T:
        """The value of this variable; SettingsError in the user's terms."""
        try:
            return self.parse(raw)
        except ValueError as exc:
            raise SettingsError(f"{self.name}: {raw!r} is not {exc}") from None

    def read_toml(self, value: object, source: Path) -> T:
        """The value of this TOML key; SettingsError naming the file and key."""
        try:
            if self.parse_toml is not None:
                return self.parse_toml(value)
            return self.parse(v.scalar_text(value))
        except ValueError as exc:
            raise SettingsError(f"{source}: {self.key} = {value!r} is not {exc}") from None


# ---- the settings, by part -------------------------------------------------------------

HOST = Var("ALPHACDN_HOST", v.text, "address to bind", "--host")
PORT = Var("ALPHACDN_PORT", v.port, "port to bind", "--port")
WORKERS = Var("ALPHACDN_WORKERS", v.count, "worker processes", "--workers")
CLOUD_NAME = Var(
    "ALPHACDN_CLOUD_NAME",
    v.clouds,
    "cloud name(s) served, comma-separated; the first is the default",
    toml="clouds",
)
API_KEYS = Var(
    None,
    v.string_table("a non-empty table of api_key = api_secret", nonempty=True),
    "upload/admin key pairs: a table of api_key = api_secret",
    toml="api_keys",
    parse_toml=v.string_table("a non-empty table of api_key = api_secret", nonempty=True),
)
STRICT_TRANSFORMATIONS = Var(
    "ALPHACDN_STRICT_TRANSFORMATIONS",
    v.boolean,
    "only signed, named or eager transformations are served (others: 401)",
)
MAX_UPLOAD_BYTES = Var(
    "ALPHACDN_MAX_UPLOAD_BYTES",
    v.size,
    "largest accepted upload body (e.g. 100MB)",
    shown_default="100MB",
)
ALLOW_REMOTE_UPLOAD = Var(
    "ALPHACDN_ALLOW_REMOTE_UPLOAD",
    v.boolean,
    "accept `file=https://…` uploads (fetched by the server)",
)
ALLOW_PRIVATE_URLS = Var(
    "ALPHACDN_ALLOW_PRIVATE_URLS",
    v.boolean,
    "let remote fetches and webhooks reach loopback / private / link-local addresses",
)
UNVERSIONED_MAX_AGE = Var(
    "ALPHACDN_UNVERSIONED_MAX_AGE",
    v.natural,
    "Cache-Control max-age (s) for URLs without a version",
)
REMOVEBG_KEYS = Var(
    "ALPHACDN_REMOVEBG_KEYS",
    v.removebg_keys,
    "remove.bg API keys (X-Api-Key), comma-separated; in TOML a table with each key's "
    "credits, free_calls, rate_limit. Never the upload api_key",
    parse_toml=v.removebg_keys_table,
    shown_default=DEV_REMOVEBG_KEY,
)
REMOVEBG_DEFAULT_CREDITS = Var(
    "ALPHACDN_REMOVEBG_DEFAULT_CREDITS",
    v.credits,
    "credits of a remove.bg key whose allowance does not say",
)
TRUST_FORWARDED_FOR = Var(
    "ALPHACDN_TRUST_FORWARDED_FOR",
    v.boolean,
    "take the client address for per-client limits from the last `X-Forwarded-For` entry "
    "(only behind a proxy that sets it; else clients could pick their own)",
)
ALLOW_DEV_KEYS = Var(
    "ALPHACDN_ALLOW_DEV_KEYS",
    v.boolean,
    "serve the documented development keys on a non-loopback address anyway",
)
PUBLIC_URL = Var(
    "ALPHACDN_PUBLIC_URL",
    v.public_url,
    "the server's public base URL for the URLs it writes (upload responses, webhooks), e.g. "
    "https://cdn.example.com; unset: the address the server is bound to (never the Host header)",
)
CORS_ORIGINS = Var(
    "ALPHACDN_CORS_ORIGINS",
    v.origins,
    "browser origins allowed to call the upload API, the remove.bg API and delivery "
    "cross-origin (CORS, preflight included): comma-separated, or `*`; unset: no CORS headers",
)
UPLOAD_PRESETS = Var(
    None,
    v.upload_presets,
    "upload presets: a table per preset name with `unsigned`, `folder`, `tags`, `eager`, "
    "`eager_async`, `background_removal`, `allowed_formats`, `notification_url`, "
    "`disallow_public_id` (the admin API adds more)",
    toml="upload_presets",
    parse_toml=v.upload_presets,
)
METRICS_TOKEN = Var(
    "ALPHACDN_METRICS_TOKEN",
    v.text,
    "a bearer token that lets any client read /metrics (unset: loopback clients only; "
    "others get 404)",
)
LOG_FORMAT = Var(
    "ALPHACDN_LOG_FORMAT",
    v.log_format,
    "`text` or `json` (one object per line, with the request's `X-Request-Id`)",
)

FETCH_DOMAINS = Var(
    "ALPHACDN_FETCH_DOMAINS",
    v.domains,
    "hosts the `fetch` delivery type and `l_fetch:` layers may fetch from, comma-separated "
    "(`*.example.com`: its subdomains; `*`: any public host); empty: fetch is off (403). A "
    "private address is fetched only from an IP address listed here, and only with "
    "ALPHACDN_ALLOW_PRIVATE_URLS",
)
FETCH_TTL = Var(
    "ALPHACDN_FETCH_TTL",
    v.natural,
    "seconds a fetched source is used before it is revalidated with its server (ETag / "
    "Last-Modified); a changed source gets new derived files",
)
FETCH_STALE_IF_ERROR = Var(
    "ALPHACDN_FETCH_STALE_IF_ERROR",
    v.natural,
    "seconds past its TTL a fetched source we hold is still served when its server fails "
    "(timeout, 5xx, unreachable; never after a 404 or 410), with a short Cache-Control and "
    "`X-Alphacdn-Fetch: stale`; 0: the failure is answered (502 / 504)",
)
FETCH_MAX_BYTES = Var(
    "ALPHACDN_FETCH_MAX_BYTES",
    v.size,
    "largest remote file fetched (e.g. 20MB); beyond: 400, the download stopped",
    shown_default="20MB",
)
FETCH_TIMEOUT = Var(
    "ALPHACDN_FETCH_TIMEOUT",
    v.fetch_seconds,
    "seconds a remote fetch may take in all (connect, answer, body); beyond: 504",
)

DATA_DIR = Var(
    "ALPHACDN_DATA_DIR",
    v.path,
    "data dir: originals/, derived/ cache, state/ (and models/ by default)",
    "--data-dir",
)
CACHE_SIZE = Var(
    "ALPHACDN_CACHE_SIZE",
    v.size,
    "size bound of the derived + matte cache (e.g. 2GB); originals are never evicted",
    shown_default="2GB",
)

MAX_SOURCE_PIXELS = Var(
    "ALPHACDN_MAX_SOURCE_PIXELS",
    v.pixels,
    "largest source image accepted, checked from the header (e.g. 50MP; animations: all frames)",
    shown_default="50MP",
)
MAX_SOURCE_SIDE = Var(
    "ALPHACDN_MAX_SOURCE_SIDE",
    v.count,
    "longest side (px) of a source image accepted, checked from the header",
)
VIPS_CONCURRENCY = Var("ALPHACDN_VIPS_CONCURRENCY", v.count, "libvips threads per operation")
VIPS_CACHE_MB = Var("ALPHACDN_VIPS_CACHE_MB", v.natural, "libvips operation cache (MB, 0 = off)")
RENDER_THREADS = Var(
    "ALPHACDN_RENDER_THREADS", v.count, "renders running at once per worker process"
)
RENDER_BUDGET = Var(
    "ALPHACDN_RENDER_BUDGET",
    v.count,
    "render units (≈ CPU-ms, estimated from the URL before any decode) a transformation may "
    "add to decoding and encoding its source; beyond: 400 naming the component",
)
MAX_CANVAS_PIXELS = Var(
    "ALPHACDN_MAX_CANVAS_PIXELS",
    v.pixels,
    "largest image any step of a render may make (upscales, layers, borders, shadows), or "
    "the source's own size if larger; beyond: 400",
    shown_default="25MP",
)
RENDER_TIMEOUT = Var(
    "ALPHACDN_RENDER_TIMEOUT",
    v.render_seconds,
    "seconds a render may run before it is stopped (503 + Retry-After)",
)
RENDERS_PER_CLIENT = Var(
    "ALPHACDN_RENDERS_PER_CLIENT",
    v.count,
    "cold renders one client address may have running at once per worker process",
)
RENDER_CLIENT_QUEUE = Var(
    "ALPHACDN_RENDER_CLIENT_QUEUE",
    v.natural,
    "further cold renders of one client that may wait for its turn; beyond: 429 + Retry-After",
)
NAMED_TRANSFORMATIONS = Var(
    None,
    v.string_table("a table of name = transformation"),
    "named transformations (`t_<name>`): a table of name = transformation",
    toml="named_transformations",
    parse_toml=v.string_table("a table of name = transformation"),
)

MODELS_DIR = Var(
    "ALPHACDN_MODELS_DIR",
    v.path,
    "where `alphacdn fetch-models` puts model weights",
    shown_default="<data dir>/models",
)
MODEL = Var("ALPHACDN_MODEL", v.text, "background-removal model (see `alphacdn models`)")
PERSON_MODEL = Var(
    "ALPHACDN_PERSON_MODEL",
    v.text,
    "matting network for people: cut-outs whose subject is a detected person are routed to it "
    "(`none`: every cut-out from ALPHACDN_MODEL; see `alphacdn models` for its licence)",
)
ORT_THREADS = Var("ALPHACDN_ORT_THREADS", v.count, "onnxruntime intra-op threads per session")
WARM_UP = Var(
    "ALPHACDN_WARM_UP",
    v.boolean,
    "load the model and run one inference at startup, so the first matte does not pay it "
    "(isnet: ~0.5 GB more resident from the start)",
)
USER_MODEL_PATH = Var(
    "ALPHACDN_USER_MODEL_PATH",
    v.path,
    "your own ONNX matting model (registered as model `user`)",
)
USER_MODEL_SIZE = Var("ALPHACDN_USER_MODEL_SIZE", v.count, "input size (square) of the user model")
USER_MODEL_MEAN = Var(
    "ALPHACDN_USER_MODEL_MEAN",
    v.floats3,
    "per-channel mean of the user model on 0..1 input, e.g. 0.485,0.456,0.406",
)
USER_MODEL_STD = Var(
    "ALPHACDN_USER_MODEL_STD", v.floats3, "per-channel std of the user model on 0..1 input"
)

QUEUE_MAX = Var(
    "ALPHACDN_QUEUE_MAX",
    v.count,
    "max queued + running matte jobs (beyond: 503 + Retry-After)",
)
JOB_CONCURRENCY = Var("ALPHACDN_JOB_CONCURRENCY", v.count, "matte jobs running at once per process")
JOB_LEASE_SECONDS = Var(
    "ALPHACDN_JOB_LEASE_SECONDS",
    v.count,
    "a running job not heard from for this long is re-queued",
)
JOB_RETRY_SECONDS = Var(
    "ALPHACDN_JOB_RETRY_SECONDS",
    v.count,
    "a matte job whose workers died (deploys, OOM) runs again on a request this long after, "
    "doubling per round up to an hour (503 + Retry-After meanwhile); a job that failed on its "
    "own input stays failed",
)
MATTE_WAIT = Var(
    "ALPHACDN_MATTE_WAIT",
    v.wait_seconds,
    "seconds a delivery request for a matte in progress may wait for it before answering "
    "423 (0 = at once, as Cloudinary does; e.g. 20 lets an <img> get the cut-out)",
)
MATTE_PREVIEW = Var(
    "ALPHACDN_MATTE_PREVIEW",
    v.optional_text,
    "storefront setting: a small model (u2netp) whose instant preview cut-out answers a "
    "background-removal URL whose matte would not be ready within ALPHACDN_MATTE_WAIT, "
    "instead of the 423 (marked `X-Alphacdn-Preview`, `Cache-Control: no-store`); off = 423",
    shown_default="off",
)

JOB_POLL_SECONDS = Var(
    "ALPHACDN_JOB_POLL_SECONDS",
    v.poll_seconds,
    "how often an idle job runner looks for jobs queued by other worker processes",
)
TASK_RETENTION_SECONDS = Var(
    "ALPHACDN_TASK_RETENTION_SECONDS",
    v.count,
    "finished /v2/tasks tasks and their files are deleted this long after they finish",
)

ORT_PROVIDERS = Var(
    "ALPHACDN_ORT_PROVIDERS",
    v.names,
    "onnxruntime execution providers in order of preference, comma-separated (e.g. "
    "CUDAExecutionProvider,CPUExecutionProvider); each must be available in this install",
)

STORE_URL = Var(
    "ALPHACDN_STORE_URL",
    v.store_url,
    "where originals, derived files and mattes live: file:///<folder> or "
    "s3://<bucket>[/<prefix>] (docs/scale-out.md)",
    shown_default="file://<data dir>",
)
S3_ENDPOINT_URL = Var(
    "ALPHACDN_S3_ENDPOINT_URL",
    v.endpoint_url,
    "S3-compatible endpoint for an s3:// store (radosgw, MinIO, R2 …; unset: AWS); credentials "
    "and region from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION",
)
REDIS_URL = Var(
    "ALPHACDN_REDIS_URL",
    v.redis_url,
    "redis://… for the shared state of a fleet (job queue, claims, limits and credits, tasks, "
    "named transformations, upload presets, eager allow-list); unset: diskcache under the data dir",
)
ROLE = Var(
    "ALPHACDN_ROLE",
    v.role,
    "all (HTTP + jobs), web (HTTP, queues jobs, never loads a model) or worker (jobs only; "
    "`alphacdn worker`)",
    "--role",
)


@dataclass(frozen=True, slots=True)
class HttpSettings:
    host: str = field(default="127.0.0.1", metadata=HOST.meta)
    port: int = field(default=8000, metadata=PORT.meta)
    workers: int = field(default=1, metadata=WORKERS.meta)
    #: cloud names served by this instance; the first is the default
    clouds: tuple[str, ...] = field(default=("demo",), metadata=CLOUD_NAME.meta)
    #: api_key -> api_secret (ALPHACDN_API_KEY / _API_SECRET put a pair first)
    api_keys: Mapping[str, str] = field(
        default_factory=lambda: {DEV_API_KEY: DEV_API_SECRET}, metadata=API_KEYS.meta
    )
    strict_transformations: bool = field(default=False, metadata=STRICT_TRANSFORMATIONS.meta)
    max_upload_bytes: int = field(default=100 * 1024**2, metadata=MAX_UPLOAD_BYTES.meta)
    allow_remote_upload: bool = field(default=False, metadata=ALLOW_REMOTE_UPLOAD.meta)
    #: allow fetching upload/remote URLs that resolve to loopback/private networks
    allow_private_urls: bool = field(default=False, metadata=ALLOW_PRIVATE_URLS.meta)
    #: Cache-Control max-age for unversioned URLs
    unversioned_max_age: int = field(default=3600, metadata=UNVERSIONED_MAX_AGE.meta)
    #: remove.bg-style API keys (X-Api-Key) -> allowance (credits, free_calls, rate_limit);
    #: their own keys, never the upload api_key (which browsers see)
    removebg_keys: Mapping[str, Mapping[str, float]] = field(
        default_factory=lambda: {DEV_REMOVEBG_KEY: {}}, metadata=REMOVEBG_KEYS.meta
    )
    removebg_default_credits: float = field(
        default=10_000.0, metadata=REMOVEBG_DEFAULT_CREDITS.meta
    )
    #: per-client limits key on the last `X-Forwarded-For` address instead of the peer's
    trust_forwarded_for: bool = field(default=False, metadata=TRUST_FORWARDED_FOR.meta)
    #: serve the documented development keys on a non-loopback address anyway
    allow_dev_keys: bool = field(default=False, metadata=ALLOW_DEV_KEYS.meta)
    #: base of the URLs the server writes (None: its bound address; never the Host header)
    public_url: str | None = field(default=None, metadata=PUBLIC_URL.meta)
    #: origins answered with CORS headers (("*",): any; (): none)
    cors_origins: tuple[str, ...] = field(default=(), metadata=CORS_ORIGINS.meta)
    #: configured upload presets: name -> {"unsigned": bool, "settings": {...}}
    upload_presets: Mapping[str, Mapping[str, Any]] = field(
        default_factory=dict, metadata=UPLOAD_PRESETS.meta
    )
    #: `Authorization: Bearer <token>` reads /metrics from any address (loopback always can)
    metrics_token: str | None = field(default=None, metadata=METRICS_TOKEN.meta)
    #: server log lines: `text` or `json`
    log_format: str = field(default="text", metadata=LOG_FORMAT.meta)

    @property
    def api_secret(self) -> str:
        return next(iter(self.api_keys.values()))

    @property
    def api_key(self) -> str:
        return next(iter(self.api_keys.keys()))


@dataclass(frozen=True, slots=True)
class FetchSettings:
    #: hosts fetched from (`*.example.com`, IP addresses, `*`); empty: fetch is off
    domains: tuple[str, ...] = field(default=(), metadata=FETCH_DOMAINS.meta)
    #: seconds before a fetched source is revalidated
    ttl_seconds: int = field(default=3600, metadata=FETCH_TTL.meta)
    #: seconds past the TTL a held source stands in for a failing server
    stale_if_error: int = field(default=86400, metadata=FETCH_STALE_IF_ERROR.meta)
    max_bytes: int = field(default=20 * 1024**2, metadata=FETCH_MAX_BYTES.meta)
    timeout: float = field(default=10.0, metadata=FETCH_TIMEOUT.meta)

    @property
    def enabled(self) -> bool:
        return bool(self.domains)

    def allows(self, host: str) -> bool:
        """Whether `host` (lower-case, as a URL writes it) is on the allow-list."""
        host = host.lower().strip("[]").rstrip(".")
        for entry in self.domains:
            if entry == "*" or entry == host:
                return True
            if entry.startswith("*.") and host.endswith(entry[1:]):
                return True
        return False

    def allows_private(self, host: str) -> bool:
        """Whether `host` may be a private address: only an IP address listed as such (a name
        is never trusted to resolve to one: DNS can change under an allow-list)."""
        host = host.lower().strip("[]")
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return False
        return host in self.domains


@dataclass(frozen=True, slots=True)
class CacheSettings:
    root: Path = field(default=Path("./data"), metadata=DATA_DIR.meta)
    #: size bound of the derived + matte cache (originals are never evicted)
    size_limit_bytes: int = field(default=2 * 1024**3, metadata=CACHE_SIZE.meta)

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
    max_source_pixels: int = field(default=50_000_000, metadata=MAX_SOURCE_PIXELS.meta)
    #: longest side of a source in pixels (a 1 × 49,000,000 PNG is under 50 MP)
    max_source_side: int = field(default=16384, metadata=MAX_SOURCE_SIDE.meta)
    #: libvips worker threads per operation
    vips_concurrency: int = field(default=2, metadata=VIPS_CONCURRENCY.meta)
    #: libvips operation cache size in MB (0 disables it)
    vips_cache_mb: int = field(default=100, metadata=VIPS_CACHE_MB.meta)
    #: how many renders run at once per process (pixel work runs in threads)
    render_threads: int = field(default=2, metadata=RENDER_THREADS.meta)
    #: render units (≈ CPU-ms, see `transform.cost`) a plan may add to its source's own cost
    render_budget: int = field(default=4000, metadata=RENDER_BUDGET.meta)
    #: largest intermediate canvas (or the source's size, if larger)
    max_canvas_pixels: int = field(default=25_000_000, metadata=MAX_CANVAS_PIXELS.meta)
    #: wall-clock seconds before a running render is stopped
    render_timeout: float = field(default=20.0, metadata=RENDER_TIMEOUT.meta)
    #: cold renders one client may run at once (per process), and how many more may wait
    renders_per_client: int = field(default=1, metadata=RENDERS_PER_CLIENT.meta)
    render_client_queue: int = field(default=32, metadata=RENDER_CLIENT_QUEUE.meta)
    #: named transformations from the config file: name -> chain
    named_transformations: Mapping[str, str] = field(
        default_factory=dict, metadata=NAMED_TRANSFORMATIONS.meta
    )


@dataclass(frozen=True, slots=True)
class ModelSettings:
    models_dir: Path = field(default=Path("./data/models"), metadata=MODELS_DIR.meta)
    default_model: str = field(default="isnet", metadata=MODEL.meta)
    #: the person matting model cut-outs of people are routed to ("none": off)
    person_model: str = field(default="rvm", metadata=PERSON_MODEL.meta)
    #: onnxruntime intra-op threads per session
    ort_threads: int = field(default=2, metadata=ORT_THREADS.meta)
    #: create the default model's session and run one inference at startup (in the background)
    warm_up: bool = field(default=False, metadata=WARM_UP.meta)
    #: optional user model: path to an ONNX file, with its input size and normalisation
    user_model_path: Path | None = field(default=None, metadata=USER_MODEL_PATH.meta)
    user_model_size: int = field(default=1024, metadata=USER_MODEL_SIZE.meta)
    user_model_mean: tuple[float, float, float] = field(
        default=(0.5, 0.5, 0.5), metadata=USER_MODEL_MEAN.meta
    )
    user_model_std: tuple[float, float, float] = field(
        default=(1.0, 1.0, 1.0), metadata=USER_MODEL_STD.meta
    )
    #: onnxruntime execution providers, in order of preference
    ort_providers: tuple[str, ...] = field(
        default=("CPUExecutionProvider",), metadata=ORT_PROVIDERS.meta
    )


@dataclass(frozen=True, slots=True)
class JobSettings:
    #: maximum queued + running matte jobs; beyond that requests get 503
    queue_max: int = field(default=64, metadata=QUEUE_MAX.meta)
    #: matte jobs run at once per process (one inference at a time is the design)
    concurrency: int = field(default=1, metadata=JOB_CONCURRENCY.meta)
    #: a running job's lease; renewed every third of it, so only a dead process lets it lapse
    lease_seconds: int = field(default=30, metadata=JOB_LEASE_SECONDS.meta)
    #: back-off before a job abandoned by dying workers runs again (doubles per round, ≤ 1 h)
    retry_seconds: int = field(default=60, metadata=JOB_RETRY_SECONDS.meta)
    #: how long a delivery request for a matte in progress may wait for it before answering
    #: 423 (0 = at once, as Cloudinary does)
    matte_wait_seconds: float = field(default=0.0, metadata=MATTE_WAIT.meta)
    #: the small model of preview cut-outs answered instead of a 423 ("" = off)
    matte_preview: str = field(default="", metadata=MATTE_PREVIEW.meta)
    #: how often an idle job runner looks for jobs submitted by other worker processes
    poll_seconds: float = field(default=0.25, metadata=JOB_POLL_SECONDS.meta)
    #: finished `/v2/tasks` tasks (record, input and result files) are removed after this long
    task_retention_seconds: int = field(default=7 * 24 * 3600, metadata=TASK_RETENTION_SECONDS.meta)


@dataclass(frozen=True, slots=True)
class FleetSettings:
    """Where shared state lives, and what this process does (docs/scale-out.md)."""

    #: None: the data dir (file://); else file:///<folder> or s3://<bucket>[/<prefix>]
    store_url: str | None = field(default=None, metadata=STORE_URL.meta)
    s3_endpoint_url: str | None = field(default=None, metadata=S3_ENDPOINT_URL.meta)
    #: None: the embedded diskcache stores under the data dir's state/
    redis_url: str | None = field(default=None, metadata=REDIS_URL.meta)
    #: "all", "web" or "worker"
    role: str = field(default="all", metadata=ROLE.meta)

    @property
    def runs_jobs(self) -> bool:
        """Whether this process runs the job loops (and so loads models)."""
        return self.role != "web"

    @property
    def serves_http(self) -> bool:
        """Whether this process serves the CDN and API routes."""
        return self.role != "worker"


@dataclass(frozen=True, slots=True)
class Settings:
    http: HttpSettings = field(default_factory=HttpSettings)
    fetch: FetchSettings = field(default_factory=FetchSettings)
    cache: CacheSettings = field(default_factory=CacheSettings)
    engine: EngineSettings = field(default_factory=EngineSettings)
    models: ModelSettings = field(default_factory=ModelSettings)
    jobs: JobSettings = field(default_factory=JobSettings)
    fleet: FleetSettings = field(default_factory=FleetSettings)

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
        """Build settings from `ALPHACDN_*` variables and the TOML file `ALPHACDN_CONFIG` names
        (variables win); raise SettingsError naming a bad or unknown one."""
        _check_names(env)
        given: dict[Var[Any], Any] = {}
        config_path = env.get("ALPHACDN_CONFIG")
        if config_path:
            given.update(_read_config(Path(config_path)))
        for var in VARIABLES:
            raw = env.get(var.env or "")
            if raw:  # an empty variable means "not set", as in shells
                given[var] = var.read(raw)
        if env.get("ALPHACDN_API_KEY") and env.get("ALPHACDN_API_SECRET"):
            keys = {k: s for k, s in given.get(API_KEYS, {}).items() if k != DEV_API_KEY}
            given[API_KEYS] = {env["ALPHACDN_API_KEY"]: env["ALPHACDN_API_SECRET"], **keys}
        elif env.get("ALPHACDN_API_KEY") or env.get("ALPHACDN_API_SECRET"):
            raise SettingsError("ALPHACDN_API_KEY and ALPHACDN_API_SECRET must be set together")
        if DATA_DIR in given and MODELS_DIR not in given:
            given[MODELS_DIR] = given[DATA_DIR] / "models"
        return _build(given)

    def dev_keys_refusal(self) -> str | None:
        """Why these settings must not be served, if the documented development keys would be
        live on a non-loopback address (None when they may)."""
        if self.http.allow_dev_keys or _is_loopback(self.http.host):
            return None
        to_set = []
        if DEV_API_KEY in self.http.api_keys:
            to_set.append("ALPHACDN_API_KEY and ALPHACDN_API_SECRET")
        if DEV_REMOVEBG_KEY in self.http.removebg_keys:
            to_set.append(REMOVEBG_KEYS.name)
        if not to_set:
            return None
        return (
            f"refusing to serve the documented development keys on {self.http.host}: "
            f"set {', '.join(to_set)} (or api_keys / removebg_keys in ALPHACDN_CONFIG), "
            f"bind a loopback address, or set {ALLOW_DEV_KEYS.name}=true to serve them anyway"
        )


def _places() -> tuple[tuple[str, str, Var[Any]], ...]:
    """(part, attribute, Var) of every setting, read off the dataclass fields."""
    found = []
    defaults = Settings()
    for part in fields(Settings):
        for f in fields(getattr(defaults, part.name)):
            var = f.metadata.get(_VAR)
            if var is None:  # every field is a setting; declare its Var
                raise TypeError(f"Settings.{part.name}.{f.name} has no Var")
            found.append((part.name, f.name, var))
    return tuple(found)


#: (part, attribute, Var) of every setting, in declaration order
PLACES = _places()
#: every setting that has an `ALPHACDN_*` variable
VARIABLES: tuple[Var[Any], ...] = tuple(var for _, _, var in PLACES if var.env)
#: every variable `from_env` reads (the key pair and the config file are not fields)
KNOWN_NAMES = frozenset(
    {var.env for var in VARIABLES if var.env}
    | {"ALPHACDN_API_KEY", "ALPHACDN_API_SECRET", "ALPHACDN_CONFIG"}
)
_BY_KEY: Mapping[str, Var[Any]] = {var.key: var for _, _, var in PLACES}


def _build(given: Mapping[Var[Any], Any]) -> Settings:
    s = Settings()
    changes: dict[str, dict[str, Any]] = {}
    for part, attr, var in PLACES:
        if var in given:
            changes.setdefault(part, {})[attr] = given[var]
    return replace(s, **{p: replace(getattr(s, p), **c) for p, c in changes.items()})


def _unknown(name: str, known: list[str]) -> str:
    """`name`, with the known name it is probably a typo of."""
    # compared without the shared prefix, which would make every pair look alike
    bare = {k.removeprefix(PREFIX): k for k in known}
    close = difflib.get_close_matches(name.removeprefix(PREFIX), list(bare), n=1)
    return f"{name} (did you mean {bare[close[0]]}?)" if close else name


def _check_names(env: Mapping[str, str]) -> None:
    """Refuse `ALPHACDN_*` variables that are neither settings nor known non-settings."""
    known = sorted(KNOWN_NAMES | NOT_SETTINGS.keys())
    unknown = sorted(n for n in env if n.startswith(PREFIX) and n not in known)
    if unknown:
        names = ", ".join(_unknown(n, known) for n in unknown)
        raise SettingsError(f"unknown variable {names}; `alphacdn serve --help` lists the settings")


def _read_config(path: Path) -> dict[Var[Any], Any]:
    """The settings of a TOML file: every key is a setting (see README)."""
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"ALPHACDN_CONFIG={path}: {exc}") from None
    unknown = sorted(k for k in data if k not in _BY_KEY)
    if unknown:
        names = ", ".join(_unknown(k, sorted(_BY_KEY)) for k in unknown)
        raise SettingsError(f"{path}: unknown key {names}; the README lists the settings")
    return {_BY_KEY[k]: _BY_KEY[k].read_toml(value, path) for k, value in data.items()}


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


def _shown(part: str, attr: str, var: Var[Any]) -> str:
    if var.shown_default is not None:
        return var.shown_default
    value = getattr(getattr(Settings(), part), attr)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, tuple):
        return ",".join(str(x) for x in value)
    if isinstance(value, Mapping):
        return ""
    return str(value)


def settings_help() -> str:
    """Every variable with its default, for `--help`."""
    lines = []
    for part, attr, var in PLACES:
        if var.env:
            lines.append(f"  {var.env:<34} {var.help} (default: {_shown(part, attr, var)})")
    lines.append(
        f"  {'ALPHACDN_API_KEY / _API_SECRET':<34} upload/admin key pair "
        f"(default dev pair: {DEV_API_KEY} / {DEV_API_SECRET})"
    )
    lines.append(f"  {'ALPHACDN_CONFIG':<34} TOML file; its keys are in the README (variables win)")
    for _, _, var in PLACES:
        if not var.env:
            lines.append(f"  {var.key + ' (TOML only)':<34} {var.help}")
    return "\n".join(lines)


def settings_markdown() -> str:
    """The README's settings table (a test keeps the README equal to it)."""
    rows = [
        "| variable | TOML key | CLI flag | default | what |",
        "|---|---|---|---|---|",
    ]
    for part, attr, var in PLACES:
        env = f"`{var.env}`" if var.env else ""
        flag = f"`{var.flag}`" if var.flag else ""
        default = _shown(part, attr, var)
        default = f"`{default}`" if default else ""
        rows.append(f"| {env} | `{var.key}` | {flag} | {default} | {var.help} |")
    rows.append(
        f"| `ALPHACDN_API_KEY` / `ALPHACDN_API_SECRET` | | | `{DEV_API_KEY}` / "
        f"`{DEV_API_SECRET}` | the upload/admin key pair (a documented **development** pair: "
        "change it) |"
    )
    rows.append("| `ALPHACDN_CONFIG` | | | | TOML file: any key of this table |")
    return "\n".join(rows)


__all__ = [
    "CACHE_SIZE",
    "DEV_API_KEY",
    "DEV_API_SECRET",
    "DEV_REMOVEBG_KEY",
    "NOT_SETTINGS",
    "VARIABLES",
    "CacheSettings",
    "EngineSettings",
    "FetchSettings",
    "FleetSettings",
    "HttpSettings",
    "JobSettings",
    "ModelSettings",
    "Settings",
    "SettingsError",
    "Var",
    "settings_help",
    "settings_markdown",
]
