"""Who asked for a render: the client's address, whether they are still connected, and how
many cold renders each address may have at once.

- `Client`: the address per-client limits key on (the peer, or the last `X-Forwarded-For`
  entry when `ALPHACDN_TRUST_FORWARDED_FOR` says a proxy sets it) and the request's
  `receive`, read for `http.disconnect` only while a render is waited for (`until_gone`), so a
  cache hit pays nothing for it.
- `ClientSlots`: each address may run `per_client` cold renders at once; up to `queue` more
  wait in line for its own slots (FIFO), and beyond that the client gets 429 + Retry-After.
  Waiting rather than refusing keeps a browser loading one page of cold thumbnails whole;
  the bound keeps a client from parking unbounded work. Other clients never queue behind it:
  they take their own slots, then the shared render threads.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TypeVar

import anyio
from starlette.requests import Request
from starlette.types import Receive

from alphacdn.transform.errors import TooManyRequests

T = TypeVar("T")

#: seconds a refused client is told to wait
RETRY_AFTER = 2


@dataclass(frozen=True, slots=True)
class Client:
    """A delivery request's client: its address, and the ASGI `receive` to notice it leaving."""

    address: str
    receive: Receive | None = None


def client_of(request: Request, *, trust_forwarded_for: bool) -> Client:
    """The request's client. With `trust_forwarded_for`, the last `X-Forwarded-For` address
    (the one the trusted proxy appended; earlier entries are whatever the client sent)."""
    address = request.client.host if request.client else ""
    if trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for", "")
        last = forwarded.rsplit(",", 1)[-1].strip()
        if last:
            address = last
    return Client(address, request.receive)


async def until_gone(
    client: Client | None, work: Callable[[], Awaitable[T]], on_gone: Callable[[], None]
) -> T:
    """`await work()`, calling `on_gone()` if the client disconnects meanwhile."""
    receive = client.receive if client is not None else None
    if receive is None:
        return await work()

    async def watch() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass  # a GET's (empty) body; nothing else comes before the disconnect
        on_gone()

    result: list[T] = []
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(watch)
            result.append(await work())
            tg.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        raise _single(group) from None
    return result[0]


def _single(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The one error inside nested single-error groups (the work's own), else the group."""
    inner: BaseException = group
    while isinstance(inner, BaseExceptionGroup) and len(inner.exceptions) == 1:
        inner = inner.exceptions[0]
    return inner


class ClientBusy(TooManyRequests):
    """429: this address already has its renders running and its queue full."""

    def __init__(self, address: str) -> None:
        super().__init__(
            "Too many renders in progress for this client; retry later",
            headers={"Retry-After": str(RETRY_AFTER)},
        )
        self.address = address


@dataclass(slots=True)
class _Line:
    slots: anyio.Semaphore
    #: renders of this address running or waiting
    users: int = 0


@dataclass(slots=True)
class ClientSlots:
    """Per-address render slots (per process): `per_client` at once, `queue` more waiting."""

    per_client: int
    queue: int
    _lines: dict[str, _Line] = field(default_factory=dict)

    @asynccontextmanager
    async def slot(self, address: str) -> AsyncIterator[None]:
        """Hold one of `address`'s slots; 429 (`ClientBusy`) when its line is full."""
        line = self._lines.get(address)
        if line is None:
            line = self._lines[address] = _Line(anyio.Semaphore(self.per_client))
        if line.users >= self.per_client + self.queue:
            raise ClientBusy(address)
        line.users += 1
        try:
            async with line.slots:
                yield
        finally:
            line.users -= 1
            if line.users == 0:
                del self._lines[address]

    def busy(self) -> dict[str, int]:
        """Addresses with renders running or waiting, and how many (for /metrics and tests)."""
        return {address: line.users for address, line in self._lines.items()}


__all__ = ["RETRY_AFTER", "Client", "ClientBusy", "ClientSlots", "client_of", "until_gone"]
