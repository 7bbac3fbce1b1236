"""The one request-body reader: bounded before and while reading, on public starlette API only.

Every surface that reads a body (upload, admin, remove.bg, tasks) calls `read_bounded`; it raises
`BodyTooLarge`, which each surface maps to its own error (a Cloudinary-style 413 text, or the
remove.bg API's JSON 413). `replaying` gives a request over the same scope whose `receive`
replays the body, so `form()` parses it from memory.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import Message


class BodyTooLarge(Exception):
    """The body (declared or read so far) is larger than `limit` bytes."""

    def __init__(self, limit: int, declared: int | None) -> None:
        super().__init__(f"request body larger than {limit} bytes")
        self.limit = limit
        self.declared = declared


async def read_bounded(request: Request, limit: int) -> bytes:
    """The whole body, refusing more than `limit` bytes: the declared `Content-Length` first,
    then while reading (a chunked body declares nothing)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit, int(declared))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit, None)
        chunks.append(chunk)
    return b"".join(chunks)


def replaying(request: Request, body: bytes) -> Request:
    """A request over `request`'s scope whose body is `body` (read once already)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:  # the whole body went in one message; a further read means the client left
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(request.scope, receive)


__all__ = ["BodyTooLarge", "read_bounded", "replaying"]
