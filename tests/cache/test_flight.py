"""Claims and single-flight: one producer per key, in one process and across processes.

Every test runs against each `Claims` implementation in `cache_workers.CLAIMS` (the diskcache
one and `RedisClaims`)."""

from __future__ import annotations

import multiprocessing
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import anyio
import pytest

from alphacdn.cache import Claims, SingleFlight
from tests.cache import cache_workers

SPAWN = multiprocessing.get_context("spawn")

#: opens the claims at a location (a tmp path) with the implementation under test
OpenClaims = Callable[[Path], Claims]


@pytest.fixture(params=sorted(cache_workers.CLAIMS))
def impl(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name in cache_workers.NEEDS:
        request.getfixturevalue(cache_workers.NEEDS[name])  # its server (or a skip)
    return name


@pytest.fixture
def open_claims(impl: str) -> OpenClaims:
    return lambda where: cache_workers.CLAIMS[impl](str(where))


def test_claims_are_exclusive_and_released_by_token(
    open_claims: OpenClaims, tmp_path: Path
) -> None:
    claims = open_claims(tmp_path)
    token = claims.try_claim("k", ttl=10)
    assert token is not None and claims.held("k")
    assert claims.try_claim("k", ttl=10) is None
    assert not claims.release("k", "not-mine")
    assert claims.renew("k", token, ttl=10)
    assert claims.release("k", token)
    assert not claims.held("k")
    with claims.claim("k", ttl=10) as won:
        assert won
        with claims.claim("k", ttl=10) as won_again:
            assert not won_again
        assert claims.held("k")
    assert not claims.held("k")


def test_an_expired_claim_can_be_taken_and_not_released_by_its_old_holder(
    open_claims: OpenClaims, tmp_path: Path
) -> None:
    claims = open_claims(tmp_path)
    old = claims.try_claim("k", ttl=0.05)
    assert old is not None
    time.sleep(0.1)  # the holder "crashed"
    assert not claims.held("k")
    new = claims.try_claim("k", ttl=10)
    assert new is not None
    assert not claims.release("k", old)
    assert not claims.renew("k", old, ttl=10)
    assert claims.held("k")


def _flight(open_claims: OpenClaims, tmp_path: Path, **kw: float) -> SingleFlight:
    return SingleFlight(open_claims(tmp_path / "claims"), **kw)


def test_concurrent_callers_in_one_process_share_one_produce(
    open_claims: OpenClaims, tmp_path: Path
) -> None:
    flight = _flight(open_claims, tmp_path)
    store: dict[str, str] = {}
    calls: list[int] = []
    results: list[str] = []

    async def produce() -> str:
        calls.append(1)
        await anyio.sleep(0.1)
        store["k"] = "value"
        return "value"

    async def caller() -> None:
        results.append(await flight.run("k", produce, lambda: store.get("k")))

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(caller)

    anyio.run(main)
    assert calls == [1] and results == ["value"] * 20
    anyio.run(main)  # now a hit for everyone
    assert calls == [1]


def test_an_error_reaches_every_waiter_and_the_next_call_retries(
    open_claims: OpenClaims, tmp_path: Path
) -> None:
    flight = _flight(open_claims, tmp_path)
    calls: list[int] = []
    errors: list[BaseException] = []

    async def failing() -> str:
        calls.append(1)
        await anyio.sleep(0.05)
        raise RuntimeError("corrupt image")

    async def caller() -> None:
        try:
            await flight.run("k", failing, lambda: None)
        except RuntimeError as exc:
            errors.append(exc)

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            for _ in range(5):
                tg.start_soon(caller)

    anyio.run(main)
    assert len(calls) == 1 and len(errors) == 5
    ok = anyio.run(partial(flight.run, "k", _const("fine"), lambda: None))
    assert ok == "fine" and len(calls) == 1


def _const(value: str) -> Callable[[], Awaitable[str]]:
    async def produce() -> str:
        return value

    return produce


def test_a_crashed_holder_in_another_process_delays_at_most_ttl(
    open_claims: OpenClaims, tmp_path: Path
) -> None:
    claims = open_claims(tmp_path / "claims")
    assert claims.try_claim("k", ttl=0.3) is not None  # never released: its process died
    flight = SingleFlight(claims, poll_interval=0.02)
    started = time.monotonic()
    assert anyio.run(partial(flight.run, "k", _const("mine"), lambda: None)) == "mine"
    assert 0.2 < time.monotonic() - started < 3


def test_one_producer_across_processes(impl: str, tmp_path: Path) -> None:
    n = 3
    log = tmp_path / "produced.log"
    barrier = SPAWN.Barrier(n)
    with ProcessPoolExecutor(
        n, mp_context=SPAWN, initializer=cache_workers.init, initargs=(barrier,)
    ) as pool:
        futures = [
            pool.submit(
                cache_workers.single_flight_once,
                impl,
                str(tmp_path / "claims"),
                str(tmp_path / "derived"),
                str(log),
            )
            for _ in range(n)
        ]
        bodies = [f.result(timeout=60) for f in futures]
    assert bodies == [b"rendered"] * n
    assert len(log.read_text().splitlines()) == 1


def test_losers_see_the_result_without_producing(open_claims: OpenClaims, tmp_path: Path) -> None:
    claims = open_claims(tmp_path / "claims")
    token = claims.try_claim("k", ttl=10)  # another process is producing
    assert token is not None
    flight = SingleFlight(claims, poll_interval=0.01)
    store: dict[str, str] = {}

    async def other_process_finishes() -> None:
        await anyio.sleep(0.1)
        store["k"] = "theirs"
        claims.release("k", token)

    async def main() -> str:
        async with anyio.create_task_group() as tg:
            tg.start_soon(other_process_finishes)
            return await flight.run("k", _const("mine"), lambda: store.get("k"))

    assert anyio.run(main) == "theirs"


def test_a_cancelled_leader_hands_over_to_a_waiter(open_claims: OpenClaims, tmp_path: Path) -> None:
    flight = _flight(open_claims, tmp_path)
    calls: list[int] = []
    results: list[str] = []

    async def produce() -> str:
        calls.append(1)
        if len(calls) == 1:
            await anyio.sleep(30)  # the first leader's client goes away meanwhile
        return "value"

    async def main() -> None:
        scope = anyio.CancelScope()

        async def leader() -> None:
            with scope:
                await flight.run("k", produce, lambda: None)

        async def follower() -> None:
            results.append(await flight.run("k", produce, lambda: None))

        async with anyio.create_task_group() as tg:
            tg.start_soon(leader)
            await anyio.sleep(0.05)
            tg.start_soon(follower)
            await anyio.sleep(0.05)
            scope.cancel()

    started = time.monotonic()
    anyio.run(main)
    assert results == ["value"] and len(calls) == 2
    assert time.monotonic() - started < 5  # the claim was released, not left to expire


def test_a_claim_whose_holder_was_killed_is_taken_over_at_once(
    impl: str, open_claims: OpenClaims, tmp_path: Path
) -> None:
    """kill -9 mid-render, restart: the next request does not wait out the lease (issue 15)."""
    directory = tmp_path / "claims"
    open_claims(directory).close()  # create the store before the child opens it
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from tests.cache.cache_workers import CLAIMS;"
            "assert CLAIMS[sys.argv[2]](sys.argv[1]).try_claim('k', ttl=120) is not None;"
            "print('claimed', flush=True); time.sleep(60)",
            str(directory),
            impl,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "claimed"
        claims = open_claims(directory)
        assert claims.held("k") and claims.try_claim("k", ttl=120) is None  # holder alive
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        flight = SingleFlight(claims, poll_interval=0.02)
        started = time.monotonic()
        assert anyio.run(partial(flight.run, "k", _const("mine"), lambda: None)) == "mine"
        assert time.monotonic() - started < 1.0
    finally:
        child.kill()
        child.wait(timeout=10)


def test_the_leader_renews_its_short_claim_while_producing(
    open_claims: OpenClaims, tmp_path: Path
) -> None:
    claims = open_claims(tmp_path / "claims")
    flight = SingleFlight(claims, ttl=0.3, poll_interval=0.02)
    seen: list[str | None] = []

    async def produce() -> str:
        await anyio.sleep(1.0)  # several leases long
        seen.append(await anyio.to_thread.run_sync(claims.try_claim, "k", 0.3))
        return "done"

    assert anyio.run(partial(flight.run, "k", produce, lambda: None)) == "done"
    assert seen == [None]  # still held after 1 s: renewed, not lapsed
    assert not claims.held("k")  # released at the end


def test_a_producer_longer_than_the_ttl_keeps_its_claim(
    open_claims: OpenClaims, tmp_path: Path
) -> None:
    """The claim is renewed while `produce` runs: another process (here, another SingleFlight
    on the same claims) never sees it lapse, and it is released at the end."""
    claims = open_claims(tmp_path / "claims")
    flight = SingleFlight(claims, ttl=0.3)
    held: list[bool] = []

    async def produce() -> str:
        for _ in range(6):  # 0.9 s: three times the ttl
            await anyio.sleep(0.15)
            held.append(claims.held("k"))
        return "value"

    assert anyio.run(partial(flight.run, "k", produce, lambda: None)) == "value"
    assert held == [True] * 6
    assert not claims.held("k")


def test_a_producer_error_is_raised_as_itself(open_claims: OpenClaims, tmp_path: Path) -> None:
    """The renewal runs beside `produce` in a task group; its error still reaches the caller
    unwrapped (not as an ExceptionGroup)."""
    flight = _flight(open_claims, tmp_path)

    async def produce() -> str:
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        anyio.run(partial(flight.run, "k", produce, lambda: None))
