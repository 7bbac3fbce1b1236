"""A real origin server on 127.0.0.1 for fetch tests: files with ETag / Last-Modified and
conditional GETs, plus the misbehaving endpoints a remote server can be (slow, trickling,
huge, 404, 500, not an image, redirects to a private address). Every endpoint is bounded: the
slow ones give up after `HANG` seconds or when the client has gone."""

from __future__ import annotations

import hashlib
import http.server
import threading
import time
from collections import Counter
from email.utils import formatdate
from typing import Any

#: the longest any endpoint keeps a connection open
HANG = 8.0


class Origin:
    """`files` (path → bytes) served with validators; `hits` counts GETs per path and
    `not_modified` the 304s; `port` is the listening port."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.hits: Counter[str] = Counter()
        self.not_modified: Counter[str] = Counter()
        self.modified_at: dict[str, float] = {}
        #: validators sent: "etag" (default), "last-modified", or "none"
        self.validators: dict[str, str] = {}
        #: paths answered with this status instead of their file (an outage, a removal)
        self.failing: dict[str, int] = {}
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                path = self.path.split("?")[0]  # the misbehaving endpoints ignore the query
                outer.hits[self.path] += 1
                port = outer.port
                if path == "/slow.png":  # headers never come (the fetch must time out)
                    self._sleep(HANG)
                    return self._send(200, b"late", "image/png")
                if path == "/trickle.png":  # headers at once, then a byte a second
                    self.send_response(200)
                    self.send_header("Content-Type", "image/png")
                    self.send_header("Content-Length", "100000")
                    self.end_headers()
                    deadline = time.monotonic() + HANG
                    while time.monotonic() < deadline:
                        try:
                            self.wfile.write(b"x")
                            self.wfile.flush()
                        except OSError:
                            return
                        time.sleep(1)
                    return
                if path == "/huge-declared.png":  # says 10 GB up front
                    self.send_response(200)
                    self.send_header("Content-Type", "image/png")
                    self.send_header("Content-Length", str(10 * 1024**3))
                    self.end_headers()
                    return
                if path == "/huge-chunked.png":  # no length: streams until the client stops
                    self.send_response(200)
                    self.send_header("Content-Type", "image/png")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    chunk = b"\0" * 65536
                    deadline = time.monotonic() + HANG
                    try:
                        while time.monotonic() < deadline:
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    except OSError:
                        return
                    return
                if path == "/error.png":
                    return self._send(500, b"oops", "text/plain")
                if path == "/forbidden.png":
                    return self._send(403, b"no", "text/plain")
                if path == "/page.html":
                    return self._send(200, b"<html><body>hello</body></html>", "text/html")
                if path.startswith("/redirect-to/"):  # /redirect-to/<path>: same origin
                    return self._redirect(path.removeprefix("/redirect-to"))
                if path.startswith("/redirect-name/"):  # to a name that resolves to loopback
                    return self._redirect(
                        f"http://localhost:{port}{path.removeprefix('/redirect-name')}"
                    )
                if path == "/redirect-metadata.png":  # the classic SSRF target
                    return self._redirect("http://169.254.169.254/latest/meta-data/")
                path = self.path  # files: by path and query
                if path in outer.failing:
                    return self._send(outer.failing[path], b"failing", "text/plain")
                body = outer.files.get(path)
                if body is None:
                    return self._send(404, b"not found", "text/plain")
                etag = '"' + hashlib.md5(body).hexdigest() + '"'
                modified = formatdate(outer.modified_at.get(path, 1_700_000_000), usegmt=True)
                kind = outer.validators.get(path, "etag")
                headers = {"ETag": etag} if kind == "etag" else {}
                if kind == "last-modified":
                    headers["Last-Modified"] = modified
                if (kind == "etag" and self.headers.get("If-None-Match") == etag) or (
                    kind == "last-modified" and self.headers.get("If-Modified-Since") == modified
                ):
                    outer.not_modified[path] += 1
                    return self._send(304, b"", None, headers)
                return self._send(200, body, "image/png", headers)

            def _sleep(self, seconds: float) -> None:
                deadline = time.monotonic() + seconds
                while time.monotonic() < deadline:
                    time.sleep(0.1)

            def _redirect(self, location: str) -> None:
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _send(
                self,
                status: int,
                body: bytes,
                content_type: str | None,
                headers: dict[str, str] | None = None,
            ) -> None:
                try:
                    self.send_response(status)
                    if content_type:
                        self.send_header("Content-Type", content_type)
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    if status != 304:
                        self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    if status != 304:
                        self.wfile.write(body)
                except OSError:
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


__all__ = ["HANG", "Origin"]
