"""A delivery URL path → `DeliveryRequest`.

`/<cloud>/image/upload/[s--SIG--/]<component>/…/[v<version>/]<public_id>[.<ext>]`, as the server
sees it: percent-decoded (starlette's `scope["path"]`). Which leading segments are the chain: with a
`v<digits>` segment, everything before it; without, leading segments while every `,`-separated
token is shaped like a param (a param-shaped but unknown token is a 400). The last segment is
always part of the public_id. `%2F` arrives decoded, so it is a folder separator, as the SDK
(which never escapes `/`) means it.

`/<cloud>/image/fetch/[s--SIG--/]<component>/…/<remote URL>`: the remote URL starts at the first
segment that is `http:` or `https:`; it arrives decoded once (the SDK percent-escapes it), so it is
the URL the SDK was given. A proxy that merges `//` into `/` is undone (`https:/host` →
`https://host`), and a plain URL's own query string (`?a=1`, not escaped) is handed in as `query`
(without the SDKs' analytics parameter `_a=`).
The remote URL is the request's `public_id`; there is no extension (the format is `f_`'s, else the
source's) and no version.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from .component import looks_like_param
from .errors import InvalidRequest, InvalidTransformation, NotFound
from .parse import NO_NAMES, parse_chain
from .plan import Plan
from .remote import check_remote_url
from .values import Format

#: extension → delivered format name (`Format` value)
EXTENSIONS: dict[str, str] = {"jpg": "jpg", "jpeg": "jpg", "jpe": "jpg", "png": "png",
                              "webp": "webp", "avif": "avif", "gif": "gif",
                              "svg": "svg"}  # fmt: skip
#: image extensions Cloudinary knows and we do not deliver: a 400 rather than a silent original
UNSUPPORTED_EXTENSIONS = frozenset(
    {"tif", "tiff", "bmp", "heic", "heif", "ico", "jp2", "jxl", "jxr", "wdp", "psd",
     "pdf", "eps", "ai", "tga", "arw", "cr2", "dng", "nef", "flif", "bw", "djvu", "ps"}
)  # fmt: skip
#: delivery types served from stored originals (`private` and `authenticated` only signed:
#: the wiring's `alphacdn.access` checks that)
STORED_TYPES = frozenset({"upload", "private", "authenticated"})
#: Cloudinary delivery types we know but do not serve (400); other unknown types are a 404
_OTHER_TYPES = frozenset({"list", "multi", "sprite", "text",
                          "facebook", "twitter", "gravatar", "youtube", "vimeo"})  # fmt: skip
_SIGNATURE = re.compile(r"s--([A-Za-z0-9_-]{1,64})--")
_VERSION = re.compile(r"v(\d{1,20})")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\\]")
_UNSAFE = re.compile(rb"[^a-zA-Z0-9_.\-/:]+")
#: where a fetch URL's remote URL starts: the first `http:` / `https:` segment
_REMOTE = re.compile(r"(?:^|/)(https?):/+", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class DeliveryRequest:
    """Everything a delivery URL says."""

    cloud: str
    resource_type: str
    delivery_type: str
    #: the `s--…--` signature's inner text (8 or 32 chars), if the URL is signed
    signature: str | None
    #: exactly what Cloudinary signs: `<transformation>/<escaped public_id>[.<ext>]`, no version
    signed_text: str
    #: the transformation chain as written in the URL ("" if none)
    transformation: str
    plan: Plan
    version: int | None
    public_id: str
    #: normalised delivery extension (`jpg png webp avif gif`), None without one
    extension: str | None

    @property
    def format(self) -> Format | None:
        """The extension's format, if any."""
        return Format(self.extension) if self.extension else None


def smart_escape(text: str) -> str:
    """Percent-escape as the Cloudinary SDKs do (keeps `a-zA-Z0-9_.-/:`), for signing."""
    return _UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group()).encode(),
                       text.encode()).decode()  # fmt: skip


def _split_chain(rest: list[str]) -> tuple[list[str], int | None, list[str]]:
    """(chain segments, version, public_id segments)."""
    for i, seg in enumerate(rest[:-1]):
        if m := _VERSION.fullmatch(seg):
            return rest[:i], int(m.group(1)), rest[i + 1 :]
    i = 0
    while i < len(rest) - 1 and all(looks_like_param(t) for t in rest[i].split(",") if t):
        i += 1
    return rest[:i], None, rest[i:]


def _public_id(segments: list[str]) -> tuple[str, str | None, str]:
    """(public_id, normalised extension, the extension as written)."""
    *folders, last = segments
    stem, dot, ext = last.rpartition(".")
    lower = ext.lower()
    if dot and stem and lower in EXTENSIONS:
        segments = [*folders, stem]
        extension: str | None = EXTENSIONS[lower]
    elif dot and stem and lower in UNSUPPORTED_EXTENSIONS:
        raise InvalidTransformation(f"Invalid transformation component: .{ext} (unsupported "
                                    "format; use jpg, png, webp, avif, gif or svg)")  # fmt: skip
    else:
        extension, ext = None, ""
    if any(s in (".", "..") or _CONTROL.search(s) for s in segments):
        raise InvalidRequest("Invalid public_id: " + "/".join(segments))
    return "/".join(segments), extension, ext


def _parse_fetch(cloud: str, rest: str, named: Mapping[str, str], query: str) -> DeliveryRequest:
    """`[s--SIG--/]<chain>/[v<n>/]<remote URL>` of a fetch URL (everything after `fetch/`)."""
    m = _REMOTE.search(rest)
    if m is None:
        if other := re.search(r"(?:^|/)([A-Za-z][A-Za-z0-9+.-]*):/", rest):
            raise InvalidRequest(f"Invalid fetch URL: only http and https URLs can be fetched, "
                                 f"not {other.group(1)!r}")  # fmt: skip
        raise InvalidRequest(
            "Invalid fetch URL: expected /<cloud>/image/fetch/[<transformations>/]<http(s) URL>"
        )
    url = f"{m.group(1).lower()}://{rest[m.end() :]}"
    # the SDKs' own analytics parameter (`_a=`) is for the CDN, not for the remote server
    query = "&".join(q for q in query.split("&") if q and not q.startswith("_a="))
    if query:
        url += "?" + query
    segs = [s for s in rest[: m.start()].split("/") if s]
    signature = None
    if segs and (sig := _SIGNATURE.fullmatch(segs[0])):
        signature, segs = sig.group(1), segs[1:]
    if segs and _VERSION.fullmatch(segs[-1]):
        segs = segs[:-1]  # a version means nothing to a remote URL
    transformation = "/".join(segs)
    plan = parse_chain(transformation, named=named)
    check_remote_url(url)
    source = smart_escape(url)
    signed_text = f"{transformation}/{source}" if transformation else source
    return DeliveryRequest(cloud, "image", "fetch", signature, signed_text, transformation, plan,
                           None, url, None)  # fmt: skip


def parse_url(
    path: str, *, named: Mapping[str, str] = NO_NAMES, query: str = ""
) -> DeliveryRequest:
    """Parse a (percent-decoded) delivery URL path; raises a 4xx `CdnError` on anything bad.
    `query`: the request's own query string, part of a fetch URL's remote URL (else ignored)."""
    parts = path.lstrip("/").split("/", 3)
    if len(parts) == 4 and parts[1] == "image" and parts[2] == "fetch" and parts[0]:
        return _parse_fetch(parts[0], parts[3], named, query)
    segs = [s for s in path.split("/") if s]
    if len(segs) >= 3 and segs[1] == "iu":  # the SDK's `shorten=True` form of image/upload
        segs = [segs[0], "image", "upload", *segs[2:]]
    if len(segs) < 4:
        raise NotFound("Not a delivery URL: expected /<cloud>/image/upload/…/<public_id>")
    cloud, resource_type, delivery_type, *rest = segs
    if resource_type != "image":
        raise NotFound(f"Resource type {resource_type!r} is not supported (only image)")
    if delivery_type not in STORED_TYPES:
        if delivery_type in _OTHER_TYPES:
            raise InvalidRequest(f"Delivery type {delivery_type!r} is not supported (upload, "
                                 "private and authenticated are)")  # fmt: skip
        raise NotFound(f"Unknown delivery type {delivery_type!r}")
    signature = None
    if m := _SIGNATURE.fullmatch(rest[0]):
        signature, rest = m.group(1), rest[1:]
        if not rest:
            raise NotFound("Not a delivery URL: no public_id after the signature")
    chain_segs, version, pid_segs = _split_chain(rest)
    if not pid_segs:
        raise NotFound("Not a delivery URL: no public_id after the version")
    transformation = "/".join(chain_segs)
    plan = parse_chain(transformation, named=named)
    public_id, extension, raw_ext = _public_id(pid_segs)
    source = smart_escape(public_id) + ("." + raw_ext if raw_ext else "")
    signed_text = f"{transformation}/{source}" if transformation else source
    return DeliveryRequest(cloud, resource_type, delivery_type, signature, signed_text,
                           transformation, plan, version, public_id, extension)  # fmt: skip


__all__ = [
    "EXTENSIONS",
    "STORED_TYPES",
    "UNSUPPORTED_EXTENSIONS",
    "DeliveryRequest",
    "parse_url",
    "smart_escape",
]
