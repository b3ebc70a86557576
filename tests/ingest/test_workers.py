"""Decode workers: the server's signals are the server's, and a worker that dies is
replaced, its request answered 503 (retry) instead of every request failing after it."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from tracelake.errors import Overloaded
from tracelake.ingest.workers import Workers


def test_a_worker_ignores_the_sigterm_its_process_group_gets() -> None:
    workers = Workers(1)
    try:
        pid = asyncio.run(workers.run(os.getpid))
        os.kill(pid, signal.SIGTERM)
        time.sleep(0.3)
        assert asyncio.run(workers.run(os.getpid)) == pid, "the same worker answers"
    finally:
        workers.close()


def test_a_killed_worker_costs_one_retry_and_is_replaced() -> None:
    workers = Workers(1)
    try:
        pid = asyncio.run(workers.run(os.getpid))

        async def after_the_kill() -> int:
            os.kill(pid, signal.SIGKILL)
            await asyncio.sleep(0.3)
            with pytest.raises(Overloaded, match="retry"):
                await workers.run(time.sleep, 0.1)
            return await workers.run(os.getpid)

        assert asyncio.run(after_the_kill()) != pid, "a fresh worker takes the next job"
    finally:
        workers.close()
