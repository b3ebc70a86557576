"""What the TCP and UDP listener tests share: an in-memory sink and a listener runner."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from tracelake.errors import Overloaded
from tracelake.ingest.tcp import ListenerConfig
from tracelake.model import IngestResult, LogObject

L = TypeVar("L")


class MemorySink:
    """A ``LogSink`` that keeps objects; can be told to be overloaded or slow first."""

    def __init__(self, overloaded: int = 0, delay: float = 0.0) -> None:
        self.objects: list[LogObject] = []
        self.batches = 0
        self.overloaded = overloaded
        self.delay = delay
        self.returned_at: list[float] = []

    async def __call__(
        self, objects: Sequence[LogObject], ids: Sequence[str | None] | None = None
    ) -> IngestResult:
        if self.overloaded:
            self.overloaded -= 1
            raise Overloaded("store full", retry_after=0)
        if self.delay:
            await asyncio.sleep(self.delay)
        self.objects.extend(objects)
        self.batches += 1
        self.returned_at.append(time.monotonic())
        return IngestResult(accepted=len(objects))


async def wait_until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def run_listener(
    kind: Callable[..., L],
    fmt: str,
    body: Callable[[L, MemorySink], Awaitable[None]],
    sink: MemorySink | None = None,
    **cfg: Any,
) -> L:
    """Start a ``kind`` listener on a free port, run ``body`` against it, stop it."""

    async def main() -> L:
        s = sink or MemorySink()
        listener: Any = kind(s, fmt, ListenerConfig(**cfg))
        await listener.start()
        try:
            await body(listener, s)
        finally:
            await listener.stop()
        return listener  # type: ignore[no-any-return]

    return asyncio.run(main())


def make_logger(name: str, handler: logging.Handler) -> logging.Logger:
    """A logger that sends only to ``handler``."""
    logger = logging.getLogger(name)
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    return logger
