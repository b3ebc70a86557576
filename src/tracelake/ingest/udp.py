"""UDP listeners: one datagram, one message, handed to the sink in small batches.

Syslog (RFC 5426) and JSON (python-logstash ``UDPLogstashHandler``, logback's UDP
appender) put exactly one message in each datagram, so there is no framing. The
forward format uses UDP only for Fluentd's heartbeat, answered with one NUL byte.

UDP has no backpressure and no acknowledgement. Bursts wait in the socket's receive
buffer (``receive_buffer_bytes``) until the listener reads them; while its pending batch
is full the listener stops reading, so the burst waits there rather than being thrown
away. What the kernel drops when that buffer is full is its own counter
(``kernel_drops``), published beside the rejects; when the sink is ``Overloaded``
datagrams are dropped and counted (``rejected_by_reason["overloaded"]``). Nothing is
queued without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any, Literal, cast

from tracelake.errors import Overloaded
from tracelake.ingest.decoders.forward import heartbeat_reply
from tracelake.ingest.decoders.jsonlines import decode_json_datagram
from tracelake.ingest.decoders.syslog import SyslogDecoder
from tracelake.ingest.receive_buffer import kernel_drops, raise_receive_buffer, socket_inode
from tracelake.ingest.sink import LogSink
from tracelake.ingest.tcp import ListenerConfig, ListenerStats, log
from tracelake.model import LogObject

DatagramFormat = Literal["jsonlines", "syslog", "forward"]


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, listener: UdpListener) -> None:
        self._listener = listener
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self._listener._received(data, addr, self.transport)

    def error_received(self, exc: Exception) -> None:
        log.debug("%s: %r", self._listener.name, exc)


class UdpListener:
    """Serve one datagram format on one UDP port, handing batches to ``sink``."""

    def __init__(
        self,
        sink: LogSink,
        fmt: DatagramFormat,
        config: ListenerConfig | None = None,
        *,
        now: Callable[[], float] = time.time,
        name: str | None = None,
        receive_buffer_bytes: int = 0,
    ) -> None:
        """``receive_buffer_bytes``: the socket's receive buffer to ask for (0: the
        kernel's default)."""
        self.sink = sink
        self.format = fmt
        self.config = config or ListenerConfig()
        self.stats = ListenerStats()
        self.name = name or f"{fmt}/udp"
        self._syslog = SyslogDecoder(now)
        self._transport: asyncio.DatagramTransport | None = None
        self._pending: list[LogObject] = []
        self._flusher: asyncio.Task[None] | None = None
        self._max_pending = self.config.batch_size * 8
        self._want_buffer = receive_buffer_bytes
        #: The receive buffer the kernel reports, and whether it capped the request.
        self.receive_buffer = 0
        self.buffer_capped = False
        self._inode = 0
        self._paused: asyncio.DatagramTransport | None = None

    @property
    def port(self) -> int:
        if self._transport is None:
            raise RuntimeError("listener not started")
        return int(self._transport.get_extra_info("sockname")[1])

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(self), local_addr=(self.config.host, self.config.port)
        )
        self._transport = cast(asyncio.DatagramTransport, transport)
        sock = self._transport.get_extra_info("socket")
        self.receive_buffer, self.buffer_capped = raise_receive_buffer(sock, self._want_buffer)
        self._inode = socket_inode(sock)

    def kernel_drops(self) -> int | None:
        """Datagrams the kernel dropped before this listener read them (None: unknown)."""
        return kernel_drops(self._inode) if self._transport is not None else None

    async def stop(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        if self._flusher is not None:
            with contextlib.suppress(Exception):
                await self._flusher
        if self._pending:
            await self._flush()

    def _received(
        self, data: bytes, addr: tuple[str | Any, int], transport: asyncio.DatagramTransport | None
    ) -> None:
        stats = self.stats
        allow = self.config.allow
        if allow is not None and not allow(str(addr[0])):
            stats.reject("not_allowed", 1, f"{addr[0]} is not in the allowed networks", self.name)
            return
        stats.bytes += len(data)
        if self.format == "forward":
            if transport is not None and len(data) <= 1024:
                transport.sendto(heartbeat_reply(data), addr)
            return
        if len(data) > self.config.max_frame_bytes:
            stats.reject("oversize", 1, "datagram over max_frame_bytes", self.name)
            return
        if len(self._pending) >= self._max_pending:
            stats.reject("overloaded", 1, "pending batch full, datagram dropped", self.name)
            return
        if self.format == "syslog":
            if data.strip(b"\r\n\x00 "):
                self._pending.append(self._syslog.decode(data))
        else:
            self._pending.extend(decode_json_datagram(data))
        if len(self._pending) >= self._max_pending and transport is not None:
            self._pause(transport)
        if self._pending and self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush_soon())

    def _pause(self, transport: asyncio.DatagramTransport) -> None:
        """Stop reading until a flush makes room: the kernel's buffer holds the rest."""
        pause = getattr(transport, "pause_reading", None)
        if pause is not None:
            pause()
            self._paused = transport

    def _resume(self) -> None:
        paused, self._paused = self._paused, None
        if paused is not None and not paused.is_closing():
            paused.resume_reading()  # type: ignore[attr-defined]

    async def _flush_soon(self) -> None:
        try:
            await asyncio.sleep(self.config.batch_delay)
            while self._pending:
                await self._flush()
        finally:
            self._flusher = None

    async def _flush(self) -> None:
        batch = self._pending[: self.config.batch_size]
        del self._pending[: len(batch)]
        if self._paused is not None:
            self._resume()
        try:
            result = await self.sink(batch)
        except Overloaded:
            self.stats.reject("overloaded", len(batch), "sink overloaded, batch dropped", self.name)
            return
        except Exception as exc:
            self.stats.reject("internal_error", len(batch), repr(exc), self.name)
            return
        self.stats.received += len(batch)
        self.stats.accepted += result.accepted
        if result.rejected:
            self.stats.rejected_by_reason["sink"] = (
                self.stats.rejected_by_reason.get("sink", 0) + result.rejected
            )
