"""`GET /<cloud>/image/upload/[s--SIG--/]<chain>/[v<ver>/]<public_id>[.<ext>]`: the delivery URL.

parse → Plan → derived hit? → original? → (matte ready? else 423) → render once → store → serve.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from alphacdn.engine import negotiate_format
from alphacdn.responses import safe_text
from alphacdn.services import Services
from alphacdn.transform import DeliveryRequest, Plan, canonical, parse_url, verify_url_signature
from alphacdn.transform.errors import NotFound, Unauthorized
from alphacdn.transform.values import Flag, Format


def accept_class(accept: str) -> str:
    """The part of `Accept` that f_auto depends on: one cache entry per class, not per header.

    Read by the engine's own negotiation (which honours `q=0`), and the render is given the
    class's normalised header (`normalised_accept`), so the key and the bytes always agree."""
    best = negotiate_format(accept, has_alpha=False)
    return {Format.AVIF: "avif", Format.WEBP: "webp"}.get(best, "plain")


def normalised_accept(accept: str) -> str:
    """The one `Accept` value that stands for this header's class."""
    return {"avif": "image/avif", "webp": "image/webp"}.get(accept_class(accept), "")


def _requested_format(req: DeliveryRequest, plan: Plan, accept: str) -> tuple[Format | None, str]:
    """(default format from the extension, the format part of the cache key)."""
    ext_format = Format(req.extension) if req.extension else None
    fmt = plan.output.format or ext_format
    if fmt is Format.AUTO:
        return ext_format, "auto:" + accept_class(accept)
    return ext_format, fmt.value if fmt else "source"


def _check_access(services: Services, req: DeliveryRequest) -> None:
    """Signed URLs are verified; strict mode serves only signed, named or eager transformations."""
    secret_ok = False
    if req.signature is not None:
        secret_ok = any(
            verify_url_signature(req.signature, req.signed_text, secret)
            for secret in services.settings.http.api_keys.values()
        )
        if not secret_ok:
            raise Unauthorized(f"Invalid signature {req.signature} for {req.signed_text}")
    if services.settings.http.strict_transformations and req.plan.components and not secret_ok:
        only_named = req.plan.named and services.named_only(req)
        if not only_named and not services.is_eager(req):
            raise Unauthorized(
                "Transformation not allowed: strict transformations are on "
                "(use a signed URL, a named transformation or an eager transformation)"
            )


def _cache_control(services: Services, req: DeliveryRequest) -> str:
    if req.version is not None:
        return "public, max-age=31536000, immutable"
    return f"public, max-age={services.settings.http.unversioned_max_age}"


async def deliver(request: Request) -> Response:
    """Serve one delivery URL."""
    services: Services = request.app.state.services
    # scope["path"] is the decoded path in full: request.url would re-split a `%3F` in a public_id
    req = parse_url(request.scope["path"], named=services.named.table())
    if req.cloud not in services.settings.http.clouds:
        raise NotFound(f"Unknown cloud name: {req.cloud}")
    accept = normalised_accept(request.headers.get("accept", ""))
    default_format, fmt_key = _requested_format(req, req.plan, accept)
    canon = canonical(req.plan)
    asset, entry = await services.lookup(req.cloud, req.public_id, req.plan, canon, fmt_key)
    if asset is None:
        raise NotFound(f"Resource not found - {req.public_id}")
    _check_access(services, req)  # before anything is served, cached or not
    if entry is None:
        entry = await services.rendered(
            asset=asset,
            plan=req.plan,
            canonical_text=canon,
            fmt_key=fmt_key,
            accept=accept,
            default_format=default_format,
            checked=True,
        )
    headers = {
        "ETag": entry.etag,
        "Cache-Control": _cache_control(services, req),
        "Content-Type": entry.content_type,
        "X-Alphacdn-Cache": entry.cache_status,
    }
    headers.update(entry.extra_headers)
    if entry.negotiated:
        headers["Vary"] = "Accept"
    if Flag.ATTACHMENT in req.plan.output.flags:
        name = req.public_id.rsplit("/", 1)[-1] + "." + entry.extension
        headers["Content-Disposition"] = f'attachment; filename="{safe_text(name)}"'
    if _etag_matches(request.headers.get("if-none-match"), entry.etag):
        return Response(
            status_code=304, headers={k: v for k, v in headers.items() if k != "Content-Type"}
        )
    body = b"" if request.method == "HEAD" else entry.body
    resp = Response(body, headers=headers)
    if request.method == "HEAD":
        resp.headers["Content-Length"] = str(len(entry.body))
    return resp


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return etag in tags


__all__ = ["accept_class", "deliver", "normalised_accept"]
