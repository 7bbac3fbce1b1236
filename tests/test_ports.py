"""tests/ports.py: ports for our servers never come from the kernel's ephemeral range."""

from __future__ import annotations

import socket

from tests.ports import ephemeral_range, free_port, free_ports


def test_ports_are_outside_the_ephemeral_range_and_bindable() -> None:
    low, high = ephemeral_range()
    for _ in range(20):
        base = free_ports((0, 1, 9))
        for port in (base, base + 1, base + 9):
            assert not low <= port <= high
            with socket.socket() as s:
                s.bind(("127.0.0.1", port))
    assert not low <= free_port() <= high


def test_a_port_in_use_is_never_handed_out() -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", free_port()))
        taken = held.getsockname()[1]
        assert all(free_port() != taken for _ in range(200))
