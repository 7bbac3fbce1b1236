"""One S3 bucket (and key prefix) as the S3 stores use it: a thin layer over a boto3 client.

The stores (`s3_originals.py`, `s3_derived.py`) share this: object get/put with the conditional
writes they rely on, listing by prefix, batched deletes, the bucket's lifecycle rules. Every call
is synchronous and thread-safe (a boto3 client is; the wiring calls the stores through
`anyio.to_thread` as it does the local ones).

Conditional writes: `If-None-Match: *` (create only if absent) and `If-Match: <etag>` (replace
only the version we read) are both honoured by AWS S3 and by Ceph radosgw 16.2. radosgw compares
`If-Match` against the bare hex ETag and answers 412 to the quoted form that HTTP prescribes (as
DigitalOcean Spaces, also radosgw, does), so `put` always sends it unquoted, which the other
servers accept too.

Outages: every way the server can be unreachable (refused, reset, timed out, a 5xx or a
throttling answer after boto3's one retry) raises `BackendUnavailable("s3", …)` within a bounded
time (`make_client`'s timeouts and retry count), so the wiring answers 503 instead of 500 or a
hang. The same client works again as soon as the server does.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar
from urllib.parse import urlsplit

import boto3
import botocore.exceptions as bx
from botocore.config import Config
from botocore.exceptions import ClientError

from .backend import BackendUnavailable

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = [
    "Conflict",
    "ObjectInfo",
    "S3Bucket",
    "StoredObject",
    "make_client",
    "parse_store_url",
]

#: S3's longest key, in UTF-8 bytes (AWS and radosgw alike)
MAX_KEY_BYTES = 1024
#: DeleteObjects takes at most this many keys per request
_DELETE_BATCH = 1000
_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})
#: 412 = the condition did not hold; 409 = AWS saw a concurrent conditional write (retry)
_CONFLICT = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict", "409"})


P = ParamSpec("P")
R = TypeVar("R")

#: what "the S3 server is not there right now" looks like through botocore
_UNREACHABLE: tuple[type[Exception], ...] = (
    bx.ConnectionError,  # refused, connect timeout, proxy, DNS
    bx.HTTPClientError,  # reset or closed mid-request, read timeout, a short body
    bx.IncompleteReadError,
)
#: error codes of an S3 server that is overloaded or failing rather than refusing the request
_UNAVAILABLE_CODES = frozenset(
    {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "503", "500"}
)
#: seconds a client is told to wait before trying again
RETRY_AFTER = 5.0


def _unavailable(exc: Exception) -> BackendUnavailable | None:
    """The BackendUnavailable this botocore error stands for, or None (a real refusal)."""
    if isinstance(exc, _UNREACHABLE):
        return BackendUnavailable("s3", f"{type(exc).__name__}: {exc}", retry_after=RETRY_AFTER)
    if isinstance(exc, ClientError):
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if status >= 500 or _code(exc) in _UNAVAILABLE_CODES:
            return BackendUnavailable(
                "s3", f"{_code(exc) or status}: {exc}", retry_after=RETRY_AFTER
            )
    return None


def guarded(fn: Callable[P, R]) -> Callable[P, R]:
    """Raise `BackendUnavailable` (from the botocore error) when S3 cannot serve the call."""

    @functools.wraps(fn)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except (bx.BotoCoreError, ClientError) as exc:
            mapped = _unavailable(exc)
            if mapped is None:
                raise
            raise mapped from exc

    return call


class Conflict(Exception):
    """A conditional put lost: the object exists (If-None-Match) or changed (If-Match)."""


@dataclass(frozen=True, slots=True)
class StoredObject:
    """The body of one object, its ETag (bare hex), content type and user metadata."""

    body: bytes
    etag: str
    content_type: str
    metadata: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """One listed object: key (without the bucket prefix), size, last modification."""

    key: str
    size: int
    last_modified: datetime


def parse_store_url(url: str) -> tuple[str, str]:
    """`s3://bucket[/prefix]` → (bucket, prefix); raise ValueError for anything else."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"not an s3://bucket[/prefix] URL: {url!r}")
    return parts.netloc, parts.path.strip("/")


def make_client(
    endpoint_url: str | None = None,
    *,
    credentials: tuple[str, str] | None = None,
    region: str | None = None,
    max_connections: int = 32,
) -> S3Client:
    """A boto3 S3 client; credentials (access key, secret) and region, unless given, come from
    the standard AWS_* variables and files.

    A custom endpoint (radosgw, MinIO, R2 …) gets path-style addressing, which needs no DNS
    name per bucket. Timeouts are short and bounded so a stopped server fails a request within
    seconds instead of hanging it: a connection gets 1 s, a silent socket 4 s (per read, not per
    transfer), and a call makes at most 2 attempts, so a server that accepts connections and
    never answers costs a call about 8 s, and a refused connection well under a second.
    """
    config = Config(
        s3={"addressing_style": "path" if endpoint_url else "auto"},
        connect_timeout=1,
        read_timeout=4,
        # total_max_attempts counts the first try (botocore's max_attempts counts retries only)
        retries={"mode": "standard", "total_max_attempts": 2},
        # the wiring runs store calls on up to 40 threads (anyio's default limiter)
        max_pool_connections=max_connections,
    )
    access, secret = credentials or (None, None)
    client: S3Client = boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id=access,
        aws_secret_access_key=secret,
        region_name=region,
        config=config,
    )
    return client


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class S3Bucket:
    """A bucket and a key prefix inside it; every key given to a method is relative to it."""

    def __init__(self, client: S3Client, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""

    def full_key(self, key: str) -> str:
        """`key` under the prefix; raise ValueError if S3 would refuse it as too long."""
        full = self.prefix + key
        if len(full.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
            raise ValueError(f"object key longer than {MAX_KEY_BYTES} bytes")
        return full

    @guarded
    def ensure(self) -> None:
        """Create the bucket if it does not exist yet."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if _code(exc) not in _MISSING and _code(exc) != "NoSuchBucket":
                raise
            self.client.create_bucket(Bucket=self.bucket)

    @guarded
    def get(self, key: str) -> StoredObject | None:
        """The object, or None if there is none."""
        try:
            resp = self.client.get_object(Bucket=self.bucket, Key=self.full_key(key))
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            raise
        # botocore checks the body against Content-Length: a short read raises, never returns
        body = resp["Body"].read()
        return StoredObject(
            body=body,
            etag=resp.get("ETag", "").strip('"'),
            content_type=resp.get("ContentType", ""),
            metadata=dict(resp.get("Metadata", {})),
        )

    @guarded
    def put(
        self,
        key: str,
        body: bytes,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        if_absent: bool = False,
        if_etag: str | None = None,
    ) -> str:
        """Write one object atomically (S3 shows the old or the new one whole); return its ETag.

        `if_absent`: only if no object has this key; `if_etag`: only if the current one still
        has this ETag. Raise Conflict when the condition does not hold.
        """
        args: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": self.full_key(key),
            "Body": body,
            # the server checks the bytes it received against this (a torn upload is refused)
            "ContentMD5": _b64_md5(body),
        }
        if content_type:
            args["ContentType"] = content_type
        if metadata:
            args["Metadata"] = dict(metadata)
        if if_absent:
            args["IfNoneMatch"] = "*"
        if if_etag is not None:
            args["IfMatch"] = if_etag.strip('"')  # radosgw only matches the bare form
        try:
            resp = self.client.put_object(**args)
        except ClientError as exc:
            if _code(exc) in _CONFLICT:
                raise Conflict(key) from None
            raise
        return str(resp.get("ETag", "")).strip('"')

    def objects(self, prefix: str, *, start_after: str | None = None) -> Iterator[ObjectInfo]:
        """Objects whose key starts with `prefix`, in key order (UTF-8 bytes), lazily paged."""
        args: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.full_key(prefix)}
        if start_after is not None:
            args["StartAfter"] = self.full_key(start_after)
        cut = len(self.prefix)
        pages = iter(self.client.get_paginator("list_objects_v2").paginate(**args))
        while (page := _next_page(pages)) is not None:
            for obj in page.get("Contents", []):
                yield ObjectInfo(obj["Key"][cut:], obj["Size"], obj["LastModified"])

    def delete(self, keys: Iterable[str]) -> None:
        """Delete these objects (missing ones are no error), a thousand per request."""
        batch: list[str] = []
        for key in keys:
            batch.append(self.full_key(key))
            if len(batch) == _DELETE_BATCH:
                self._delete_batch(batch)
                batch = []
        if batch:
            self._delete_batch(batch)

    @guarded
    def _delete_batch(self, keys: list[str]) -> None:
        resp = self.client.delete_objects(
            Bucket=self.bucket,
            Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True},
        )
        errors = resp.get("Errors", [])
        if errors:
            raise RuntimeError(f"S3 could not delete {len(errors)} objects: {errors[0]}")

    @guarded
    def expire(self, rules: Mapping[str, int]) -> None:
        """Set the bucket's lifecycle: objects under each prefix expire after so many days.

        Replaces the whole lifecycle configuration of the bucket (S3 has no per-rule update).
        """
        self.client.put_bucket_lifecycle_configuration(
            Bucket=self.bucket,
            LifecycleConfiguration={
                "Rules": [
                    {
                        "ID": f"alphacdn-expire-{prefix.strip('/').replace('/', '-')}",
                        "Filter": {"Prefix": self.full_key(prefix)},
                        "Status": "Enabled",
                        "Expiration": {"Days": days},
                        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                    }
                    for prefix, days in rules.items()
                ]
            },
        )

    @guarded
    def expiry(self) -> dict[str, int]:
        """The lifecycle rules as `expire` sets them: {prefix: days}; {} when there are none."""
        try:
            resp = self.client.get_bucket_lifecycle_configuration(Bucket=self.bucket)
        except ClientError as exc:
            if _code(exc) == "NoSuchLifecycleConfiguration":
                return {}
            raise
        cut = len(self.prefix)
        out: dict[str, int] = {}
        for rule in resp.get("Rules", []):
            prefix = rule.get("Filter", {}).get("Prefix", rule.get("Prefix", ""))
            days = rule.get("Expiration", {}).get("Days")
            if rule.get("Status") == "Enabled" and days is not None:
                out[prefix[cut:]] = int(days)
        return out


@guarded
def _next_page(pages: Iterator[Any]) -> Any:
    """The next page of a listing (each page is one request), or None after the last."""
    return next(pages, None)


def _b64_md5(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode("ascii")
