"""Where the URLs the server writes point (upload responses, webhook bodies, task results).

Never the request's `Host` header: the client chooses it, so a reflected one lets anyone put
their own host into an upload's `secure_url` or a webhook body (cache poisoning, phishing
links). `ALPHACDN_PUBLIC_URL` when set; else the address the server is bound to, as the ASGI
server reports it (`scope["server"]`: the local end of the connection, not a header).
"""

from __future__ import annotations

import ipaddress

from starlette.requests import HTTPConnection

_DEFAULT_PORTS = {"http": 80, "https": 443}


def base_url(conn: HTTPConnection, public_url: str | None) -> str:
    """`public_url`, else `<scheme>://<bound address>[:<port>]` (no trailing slash)."""
    if public_url:
        return public_url
    scheme = str(conn.scope.get("scheme", "http"))
    server = conn.scope.get("server")
    if not server or server[1] is None:  # a unix socket: no address to name
        return f"{scheme}://localhost"
    host, port = str(server[0]), int(server[1])
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:
        pass  # a name (e.g. a test client's `testserver`)
    return (
        f"{scheme}://{host}" if _DEFAULT_PORTS.get(scheme) == port else f"{scheme}://{host}:{port}"
    )


__all__ = ["base_url"]
