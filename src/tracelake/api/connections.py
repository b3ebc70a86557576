"""Bounds on the HTTP listener's connections: how many, and how long before a request.

uvicorn closes a keep-alive connection that stays idle after a response, but a
connection that never completes its first request's headers — a slow-loris client
dribbling a header byte at a time, or a flood of sockets that connect and say nothing —
is held for ever, and each holds a file descriptor. ``bounded_protocol`` wraps the
HTTP protocol class uvicorn would use: a connection whose request headers are not
complete ``header_timeout_s`` after it opened is closed, and a connection beyond
``max_connections`` open ones is closed at once. Requests being served are never cut.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.auto import AutoHTTPProtocol

log = logging.getLogger("tracelake.api")


def bounded_protocol(
    header_timeout_s: float, max_connections: int, base: type[Any] = AutoHTTPProtocol
) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol (``base``) with a header deadline and a connection cap;
    pass it as ``uvicorn.Config(http=...)``."""

    class Bounded(base):
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            if len(self.connections) > max_connections:
                log.warning(
                    "http: %d connections open, over http_max_connections (%d): closing one",
                    len(self.connections),
                    max_connections,
                )
                transport.close()
                return
            self._deadline = self.loop.call_later(header_timeout_s, self._headers_overdue)

        def _headers_overdue(self) -> None:
            if self.cycle is None and not self.transport.is_closing():
                self.transport.close()  # no complete request yet: slow-loris or idle

        def connection_lost(self, exc: Exception | None) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            super().connection_lost(exc)

    return Bounded
