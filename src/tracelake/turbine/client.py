"""Reading one instance's ``/hystrix.stream``: an SSE parser and a reconnecting follower.

Why its own module: the parser is sans-IO (bytes in, parsed events out) so it is tested
without sockets; the follower is the only code that touches the network, and it owns
the reconnect policy — an instance that drops is retried with a growing pause (Turbine
retries every second; backing off spares a host that is down for a while), and its
contribution is removed from the cluster while it is away.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from tracelake.turbine.sources import Instance

log = logging.getLogger("tracelake.turbine")

Event = dict[str, Any]
#: Longest silence from an instance before its connection counts as dead (it ticks at 2 Hz).
READ_TIMEOUT_S = 10.0


class SSEParser:
    """Server-sent events to JSON objects: ``data:`` lines joined per event, the rest
    (``ping:``, comments, ``event:``, ``id:``) ignored, bad JSON skipped."""

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[bytes] = []

    def feed(self, chunk: bytes) -> list[Event]:
        """Parse what arrived; returns the complete events in it."""
        buffer = self._buffer + chunk
        lines = buffer.split(b"\n")
        self._buffer = lines.pop()
        out: list[Event] = []
        for raw in lines:
            line = raw[:-1] if raw.endswith(b"\r") else raw
            if not line:
                if self._data:
                    self._emit(out)
            elif line.startswith(b"data:"):
                value = line[5:]
                self._data.append(value[1:] if value.startswith(b" ") else value)
        return out

    def _emit(self, out: list[Event]) -> None:
        payload = b"\n".join(self._data)
        self._data.clear()
        try:
            event = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return
        if isinstance(event, dict):
            out.append(event)


@dataclass(slots=True)
class Backoff:
    """Pause before the next reconnect: ``initial_s``, doubled per failure up to ``max_s``."""

    initial_s: float = 0.5
    max_s: float = 10.0
    _next: float = 0.0

    def reset(self) -> None:
        self._next = 0.0

    def next(self) -> float:
        self._next = self.initial_s if self._next == 0.0 else min(self._next * 2, self.max_s)
        return self._next


async def read_stream(client: httpx.AsyncClient, url: str) -> AsyncIterator[list[Event]]:
    """Batches of events from one stream, as they arrive, until it ends or fails."""
    parser = SSEParser()
    async with client.stream("GET", url, headers={"Accept": "text/event-stream"}) as response:
        response.raise_for_status()
        async for chunk in response.aiter_raw():
            events = parser.feed(chunk)
            if events:
                yield events


async def follow(
    client: httpx.AsyncClient,
    instance: Instance,
    on_events: Callable[[Instance, list[Event]], None],
    on_lost: Callable[[Instance], None],
    backoff: Backoff | None = None,
) -> None:
    """Follow one instance until cancelled: hand over its events, report each loss,
    reconnect after a backoff pause."""
    backoff = backoff or Backoff()
    while True:
        connected = False
        try:
            async for events in read_stream(client, instance.url):
                if not connected:
                    connected = True
                    backoff.reset()
                on_events(instance, events)
            reason = "stream ended"
        except httpx.HTTPError as e:
            reason = f"{type(e).__name__}: {e}"
        if connected:
            on_lost(instance)
        pause = backoff.next()
        log.info("turbine: %s lost (%s); retrying in %.1f s", instance.url, reason, pause)
        await asyncio.sleep(pause)
