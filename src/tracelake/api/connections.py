"""Bounds on the HTTP listener's connections: how many, how long, how large a request head.

uvicorn closes a keep-alive connection that stays idle after a response, but on its own
it holds for ever a connection that never completes its first request's headers (a
slow-loris client dribbling a header byte at a time, a flood of silent sockets), one
that dribbles a body a byte every few seconds, and one that was answered before its
body arrived (a 401 or a 413 sent on the headers alone) while the client keeps sending.
Neither of its parsers bounds the request head either: httptools keeps every header, so
many small headers cost the server several times the bytes sent. Each such connection
holds a file descriptor and a slot under the cap, and enough of them lock every other
client out, probes included.

``bounded_protocol`` wraps the HTTP protocol class uvicorn would use (httptools when
installed, else h11); what it does holds for either, as it works on the raw bytes and on
the request cycle both keep:

- a connection beyond ``max_connections`` open ones is closed at once;
- a connection whose first request's headers are not complete ``header_timeout_s``
  after it opened, or the next request's ``header_timeout_s`` after the last answer
  (uvicorn's keep-alive timeout stops at the first byte), is closed;
- a request head over ``max_header_bytes`` or ``max_headers`` lines is answered 431
  before the parser sees those bytes, and the connection closed;
- a request body not complete ``body_timeout_s`` after its headers is answered 408 (the
  application sees the client disconnect), and the connection closed — the nginx
  ``client_body_timeout`` idea, as a total so that a byte every few seconds cannot
  stretch it; time the server itself stops reading (the application is not ready for
  more) does not count;
- a request answered before its body arrived is not read further: the connection is
  closed after the answer.

"Closed" after an answer is a lingering close, as nginx does it: the answer is sent, the
write side shut, and what the client still sends read and dropped for at most
``LINGER_S`` — closing at once with unread bytes would make the kernel reset the
connection and the client might never see the answer. A lingering connection no longer
counts under the cap; at most ``max_connections`` linger at once, more are closed at once.
Requests being served within their limits are never cut.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from uvicorn.protocols.http.auto import AutoHTTPProtocol

log = logging.getLogger("tracelake.api")

#: Longest time an answered connection's remaining bytes are read and dropped.
LINGER_S = 2.0
#: How often the body deadline looks again while the server, not the client, is slow.
_RECHECK_S = 1.0
_END_OF_HEAD = (b"\r\n\r\n", b"\n\n")
_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


def bounded_protocol(
    header_timeout_s: float,
    max_connections: int,
    *,
    body_timeout_s: float = 60.0,
    max_header_bytes: int = 64 * 1024,
    max_headers: int = 100,
    base: type[Any] = AutoHTTPProtocol,
) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol (``base``) with the bounds of this module; pass it as
    ``uvicorn.Config(http=...)``. One call per server: the lingering connections of the
    class it returns are counted together."""
    lingering: set[asyncio.Protocol] = set()

    class Bounded(base):
        _deadline: asyncio.TimerHandle | None = None
        _body_deadline: asyncio.TimerHandle | None = None
        _linger_end: asyncio.TimerHandle | None = None
        _lingering = False
        _head_bytes = 0
        _head_lines = 0
        _head_tail = b""

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

        def data_received(self, data: bytes) -> None:
            if self._lingering:
                return  # answered and on its way out: the rest is dropped unparsed
            cycle = self.cycle
            if (cycle is None or not cycle.more_body) and not self._head_fits(data):
                return
            super().data_received(data)
            if self.cycle is not cycle and self.cycle is not None and self.cycle.more_body:
                self._arm_body_deadline(self.cycle, body_timeout_s)

        def _head_fits(self, data: bytes) -> bool:
            """Count the bytes and lines of the request head being received, before the
            parser sees them; refuse the request with 431 once it is over a limit."""
            seen = self._head_tail + data
            limit = max_header_bytes + 8  # a body in the same chunk is not searched
            ends = [i + len(e) for e in _END_OF_HEAD if (i := seen.find(e, 0, limit)) >= 0]
            part = data if not ends else data[: max(0, min(ends) - len(self._head_tail))]
            self._head_bytes += len(part)
            self._head_lines += part.count(b"\n")
            if self._head_bytes > max_header_bytes or self._head_lines > max_headers + 2:
                log.warning(
                    "http: request head over http_max_header_bytes (%d) or http_max_headers"
                    " (%d): answering 431",
                    max_header_bytes,
                    max_headers,
                )
                self._refuse(
                    431,
                    f"the request headers are over {max_header_bytes} bytes or {max_headers}"
                    " fields (http_max_header_bytes, http_max_headers): send fewer or smaller"
                    " headers",
                )
                return False
            if ends:  # this head is complete: the next request's starts from zero
                self._head_bytes = self._head_lines = 0
                self._head_tail = b""
            else:
                self._head_tail = seen[-3:]
            return True

        def _arm_body_deadline(self, cycle: Any, delay: float) -> None:
            if self._body_deadline is not None:
                self._body_deadline.cancel()
            self._body_deadline = self.loop.call_later(delay, self._body_overdue, cycle)

        def _body_overdue(self, cycle: Any) -> None:
            self._body_deadline = None
            if (
                cycle is not self.cycle
                or not cycle.more_body
                or cycle.response_complete
                or self._lingering
                or self.transport.is_closing()
            ):
                return
            if self.flow.read_paused:  # the application is behind, not the client
                self._arm_body_deadline(cycle, _RECHECK_S)
                return
            log.warning(
                "http: request body not complete within http_body_timeout_s (%s s): answering 408",
                body_timeout_s,
            )
            started = cycle.response_started
            cycle.disconnected = True  # the application reads a disconnect; its answer is dropped
            cycle.message_event.set()
            if started:
                self.transport.close()  # half an answer is out: nothing else can follow it
                return
            self._refuse(
                408,
                f"the request body did not arrive within {body_timeout_s:g} s"
                " (http_body_timeout_s): send it faster, or in smaller requests",
            )

        def on_response_complete(self) -> None:
            cycle = self.cycle
            if (
                cycle is not None
                and cycle.more_body
                and not getattr(self, "pipeline", None)
                and not self.transport.is_closing()
            ):
                # answered on the headers alone (401, 403, 413 ...): the body is not read
                self.server_state.total_requests += 1
                self._linger()
                return
            super().on_response_complete()
            if not self.transport.is_closing() and not getattr(self, "pipeline", None):
                # the next request's headers have the same time as the first one's
                if self._deadline is not None:
                    self._deadline.cancel()
                self._deadline = self.loop.call_later(
                    header_timeout_s, self._next_headers_overdue, cycle
                )

        def _next_headers_overdue(self, answered: Any) -> None:
            if self.cycle is answered and not self.transport.is_closing():
                self.transport.close()  # no new request since the last answer

        def _refuse(self, status: int, message: str) -> None:
            """Answer ``status`` outside the application, then close the connection."""
            cycle = self.cycle
            if cycle is not None and not cycle.response_complete and not cycle.disconnected:
                self.transport.close()  # an answer of the application is still to come
                return
            body = orjson.dumps({"error": message})
            head = [b"HTTP/1.1 %d %s\r\n" % (status, _REASONS[status])]
            head += [
                name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers
            ]
            head.append(
                b"content-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
                % len(body)
            )
            self.transport.write(b"".join(head) + body)
            self._linger()

        def _linger(self) -> None:
            """Shut the write side, drop what the client still sends, close soon."""
            self._lingering = True
            self.connections.discard(self)  # its slot is free: nothing more is served on it
            transport = self.transport
            if transport.is_closing():
                return
            if len(lingering) >= max_connections or not transport.can_write_eof():
                transport.close()
                return
            lingering.add(self)
            self.flow.resume_reading()
            transport.write_eof()
            self._linger_end = self.loop.call_later(LINGER_S, transport.close)

        def eof_received(self) -> bool | None:
            if self._lingering:
                self.transport.close()
                return None
            return super().eof_received()

        def connection_lost(self, exc: Exception | None) -> None:
            for handle in (self._deadline, self._body_deadline, self._linger_end):
                if handle is not None:
                    handle.cancel()
            lingering.discard(self)
            super().connection_lost(exc)

    return Bounded
