"""The pieces of the demo's start and stop that need no processes."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from tracelake.demo.runner import DemoLoop, local_url, what_to_look_at


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:7700"),
        ("0.0.0.0", "http://127.0.0.1:7700"),
        ("::", "http://[::1]:7700"),
        ("::1", "http://[::1]:7700"),
        ("example.internal", "http://example.internal:7700"),
    ],
)
def test_local_url_reaches_a_server_bound_to_any_address(host: str, url: str) -> None:
    assert local_url(host, 7700) == url


def test_signal_handlers_added_while_holding_wait_for_release() -> None:
    seen: list[str] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, DemoLoop)
        got = asyncio.Event()
        loop.add_signal_handler(signal.SIGUSR1, lambda: (seen.append("demo"), got.set()))
        loop.holding = True
        loop.add_signal_handler(signal.SIGUSR1, seen.append, "server")
        loop.holding = False
        os.kill(os.getpid(), signal.SIGUSR1)
        await asyncio.wait_for(got.wait(), 5)
        assert seen == ["demo"]
        loop.release(signal.SIGUSR1)
        loop.release(signal.SIGUSR2)  # nothing held: nothing happens
        loop.remove_signal_handler(signal.SIGUSR1)

    with asyncio.Runner(loop_factory=DemoLoop) as runner:
        runner.run(main())
    assert seen == ["demo", "server"]


def test_the_tour_names_each_page_with_what_to_look_for() -> None:
    tour = "\n".join(what_to_look_at("http://127.0.0.1:7700", "http://127.0.0.1:9000"))
    assert "level:error service:payments" in tour
    assert "#/logs?q=level%3Aerror%20service%3Apayments" in tour
    assert "cluster orders" in tour
    assert "a slow trace" in tour
    assert "orders per minute" in tour and "#/lake?sql=SELECT" in tour
