"""`GET /<cloud>/image/upload/[s--SIG--/]<chain>/[v<ver>/]<public_id>[.<ext>]`: the delivery URL
(and `/<cloud>/image/fetch/[s--SIG--/]<chain>/<remote URL>`).

The route is HTTP only: it hands the path, `Accept` and the client (its address, and its
connection for noticing a disconnect) to `Delivery.serve` once and turns the `Served` it gets
back into a response (ETag / 304, Vary, Accept-CH, HEAD, attachment).
"""

from __future__ import annotations

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from alphacdn.clients import client_of
from alphacdn.delivery import Delivery, Served
from alphacdn.metrics import count_delivery
from alphacdn.responses import safe_text
from alphacdn.transform.dynamic import ACCEPT_CH


def respond(served: Served, method: str, if_none_match: str | None) -> Response:
    """The HTTP answer for `served`: 200, or 304 when the client's ETag matches."""
    headers = {
        "ETag": served.etag,
        "Cache-Control": served.cache_control,
        "Content-Type": served.content_type,
        "X-Alphacdn-Cache": served.cache_status,
    }
    headers.update(served.extra_headers)
    # browsers send the hints `w_auto`/`dpr_auto` read once asked to (on a page, or delegated)
    headers["Accept-CH"] = ACCEPT_CH
    vary = (("Accept",) if served.negotiated else ()) + served.vary
    if vary:
        headers["Vary"] = ", ".join(vary)
    if served.download_name is not None:
        headers["Content-Disposition"] = f'attachment; filename="{safe_text(served.download_name)}"'
    if _etag_matches(if_none_match, served.etag):
        del headers["Content-Type"]
        return Response(status_code=304, headers=headers)
    if method == "HEAD":
        resp = Response(b"", headers=headers)
        resp.headers["Content-Length"] = str(len(served.body))
        return resp
    return Response(served.body, headers=headers)


def route(delivery: Delivery) -> BaseRoute:
    """The catch-all delivery route, bound to `delivery` (mount it after every API route)."""

    async def deliver(request: Request) -> Response:
        # scope["path"] is the decoded path in full: request.url would re-split a `%3F`
        headers = request.headers
        client = client_of(request, trust_forwarded_for=delivery.trust_forwarded_for)
        query = request.scope.get("query_string", b"").decode("latin-1")
        served = await delivery.serve(
            request.scope["path"], headers.get("accept", ""), client, headers=headers, query=query
        )
        count_delivery(served.cache_status)
        response = respond(served, request.method, headers.get("if-none-match"))
        if served.after is not None:  # a preview's follow-up render, once the answer is sent
            response.background = BackgroundTask(served.after)
        return response

    return Route("/{cloud}/image/{rest:path}", deliver, methods=["GET", "HEAD"])


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return etag in tags


__all__ = ["respond", "route"]
