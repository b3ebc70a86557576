"""Timeouts of coroutines: a bare ``loop.call_at`` that cancels the task.

Why not ``asyncio.timeout``: it costs twice as much per call, and a breaker timeout is
armed on every call. ``ABANDONED`` keeps coroutines left running after a timeout with
``interrupt_on_timeout=False`` alive until they finish.
"""

from __future__ import annotations

import asyncio
from typing import Any

#: Coroutines left running after a timeout with ``interrupt_on_timeout=False``.
ABANDONED: set[asyncio.Future[Any]] = set()


class Deadline:
    """Cancels the current task at a loop time: ``asyncio.timeout`` minus its bookkeeping.
    ``expired`` tells our cancel from anyone else's."""

    __slots__ = ("expired", "handle", "task")

    def __init__(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task(loop)
        if task is None:
            raise RuntimeError("a breaker timeout needs to run inside an asyncio task")
        self.task = task
        self.expired = False
        self.handle = loop.call_at(loop.time() + timeout, self._fire)

    def _fire(self) -> None:
        self.expired = True
        self.task.cancel()

    def done(self) -> bool:
        """Disarm; True if the deadline fired (its cancellation is then withdrawn)."""
        self.handle.cancel()
        if self.expired:
            self.task.uncancel()
        return self.expired
