"""TCP listeners: a thin asyncio shell around the stream decoders.

One ``TcpListener`` serves one port in one format (``"jsonlines"``, ``"syslog"`` or
``"forward"``). Per connection it reads, frames and decodes, gathers a batch (up to
``batch_size`` objects or ``batch_delay`` seconds) and awaits the sink. Everything
protocol-shaped lives in ``decoders/``; this module only owns sockets, batching,
backpressure and counters:

* Backpressure: while the sink raises ``Overloaded`` the connection stops reading
  and retries with a capped backoff, so the kernel's TCP window pushes back on the
  client. Nothing is dropped and a forward ``ack`` is sent only after the sink's
  await returned.
* Bad input never stops the listener: rejects are counted per reason in
  ``ListenerStats`` (published on ``/metrics``), logged (first one, then every
  1000th), and only a connection whose stream cannot be resynchronised is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from tracelake.errors import Overloaded
from tracelake.ingest.decoders.forward import ForwardDecoder, ForwardProtocolError
from tracelake.ingest.decoders.framing import LineFramer, SyslogFramer
from tracelake.ingest.decoders.jsonlines import decode_json_lines
from tracelake.ingest.decoders.syslog import SyslogDecoder
from tracelake.model import LogObject
from tracelake.typing import LogSink

log = logging.getLogger("tracelake.ingest")

StreamFormat = Literal["jsonlines", "syslog", "forward"]


@dataclass(slots=True)
class ListenerConfig:
    """What a stream or datagram listener needs to know."""

    host: str = "127.0.0.1"
    port: int = 0
    max_frame_bytes: int = 1 << 20
    max_connections: int = 1024
    idle_timeout: float = 600.0
    batch_size: int = 2000
    batch_delay: float = 0.005
    #: Longest pause between retries while the sink is overloaded.
    max_backoff: float = 1.0
    #: Fluentd forward: decompressed PackedForward limit and optional shared key.
    max_decompressed_bytes: int = 64 << 20
    shared_key: str | None = None


@dataclass(slots=True)
class ListenerStats:
    """Counters of one listener, for ``/metrics``."""

    received: int = 0  # log objects decoded and handed to the sink
    accepted: int = 0  # of those, what the sink reported stored
    bytes: int = 0
    connections: int = 0  # open now (TCP)
    connections_total: int = 0
    overloaded_retries: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)

    def reject(self, reason: str, count: int = 1, detail: str = "", name: str = "") -> None:
        """Count ``count`` rejects; log the first and every 1000th of each reason."""
        total = self.rejected_by_reason.get(reason, 0) + count
        self.rejected_by_reason[reason] = total
        if total == count or total // 1000 != (total - count) // 1000:
            log.warning("%s: rejected %d (%s, %d so far) %s", name, count, reason, total, detail)

    def as_dict(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "accepted": self.accepted,
            "bytes": self.bytes,
            "connections": self.connections,
            "connections_total": self.connections_total,
            "overloaded_retries": self.overloaded_retries,
            "rejected_by_reason": dict(self.rejected_by_reason),
        }


async def deliver(
    sink: LogSink, objects: list[LogObject], stats: ListenerStats, max_backoff: float
) -> None:
    """Await the sink until it takes ``objects``; back off while it is ``Overloaded``."""
    delay = 0.01
    while True:
        try:
            result = await sink(objects)
        except Overloaded as exc:
            stats.overloaded_retries += 1
            await asyncio.sleep(max(0.005, min(delay, float(exc.retry_after), max_backoff)))
            delay *= 2
            continue
        stats.received += len(objects)
        stats.accepted += result.accepted
        if result.rejected:
            stats.rejected_by_reason["sink"] = (
                stats.rejected_by_reason.get("sink", 0) + result.rejected
            )
        return


class _Close(Exception):
    """The connection cannot go on (unframeable stream, failed handshake)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class _Session:
    """Per-connection decoder state; ``feed`` appends to ``objects``/``acks``."""

    def __init__(self) -> None:
        self.objects: list[LogObject] = []
        self.acks: list[bytes] = []

    def greeting(self) -> bytes | None:
        return None

    def feed(self, data: bytes, stats: ListenerStats, name: str) -> bytes | None:
        raise NotImplementedError

    def finish(self, stats: ListenerStats, name: str) -> None:
        """The client closed: decode what is left of a last, unterminated frame."""


class _JsonLinesSession(_Session):
    def __init__(self, cfg: ListenerConfig) -> None:
        super().__init__()
        self._framer = LineFramer(cfg.max_frame_bytes)

    def feed(self, data: bytes, stats: ListenerStats, name: str) -> bytes | None:
        framer = self._framer
        before = framer.oversize
        self.objects += decode_json_lines(framer.feed(data))
        if framer.oversize != before:
            stats.reject("oversize", framer.oversize - before, "line over max_frame_bytes", name)
        return None

    def finish(self, stats: ListenerStats, name: str) -> None:
        tail = self._framer.flush()
        if tail:
            self.objects += decode_json_lines((tail,))


class _SyslogSession(_Session):
    def __init__(self, cfg: ListenerConfig, decoder: SyslogDecoder) -> None:
        super().__init__()
        self._framer = SyslogFramer(cfg.max_frame_bytes)
        self._decode = decoder.decode

    def feed(self, data: bytes, stats: ListenerStats, name: str) -> bytes | None:
        framer = self._framer
        before = framer.oversize
        decode = self._decode
        self.objects += [decode(f) for f in framer.feed(data)]
        if framer.oversize != before:
            stats.reject("oversize", framer.oversize - before, "frame over max_frame_bytes", name)
        return None

    def finish(self, stats: ListenerStats, name: str) -> None:
        framer = self._framer
        before = framer.truncated
        self.objects += [self._decode(f) for f in framer.flush()]
        if framer.truncated != before:
            stats.reject("truncated", 1, "octet-counted frame cut short", name)


class _ForwardSession(_Session):
    def __init__(self, cfg: ListenerConfig, now: Callable[[], float]) -> None:
        super().__init__()
        self._decoder = ForwardDecoder(
            max_message_bytes=cfg.max_frame_bytes,
            max_decompressed_bytes=cfg.max_decompressed_bytes,
            now=now,
            shared_key=cfg.shared_key,
        )

    def greeting(self) -> bytes | None:
        return self._decoder.greeting()

    def feed(self, data: bytes, stats: ListenerStats, name: str) -> bytes | None:
        try:
            messages = self._decoder.feed(data)
        except ForwardProtocolError as exc:
            raise _Close("bad_stream", str(exc)) from None
        replies: list[bytes] = []
        for m in messages:
            if m.rejected:
                stats.reject(m.reason or "bad_message", m.rejected, "", name)
            if m.reply is not None:
                replies.append(m.reply)
            if m.close:
                raise _CloseAfter(b"".join(replies))
            self.objects += m.objects
            if m.ack is not None:
                self.acks.append(m.ack)
        return b"".join(replies) if replies else None


class _CloseAfter(_Close):
    def __init__(self, reply: bytes) -> None:
        super().__init__("auth", "shared key mismatch")
        self.reply = reply


class TcpListener:
    """Serve one stream format on one TCP port, handing batches to ``sink``."""

    def __init__(
        self,
        sink: LogSink,
        fmt: StreamFormat,
        config: ListenerConfig | None = None,
        *,
        now: Callable[[], float] = time.time,
        name: str | None = None,
    ) -> None:
        self.sink = sink
        self.format = fmt
        self.config = config or ListenerConfig()
        self.stats = ListenerStats()
        self.name = name or f"{fmt}/tcp"
        self._now = now
        self._syslog = SyslogDecoder(now)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        """The bound port (useful with ``port=0``)."""
        if self._server is None:
            raise RuntimeError("listener not started")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, self.config.host, self.config.port, limit=1 << 16
        )

    async def stop(self, grace: float = 2.0) -> None:
        """Stop accepting, let open connections flush what they read, then close."""
        if self._server is None:
            return
        self._server.close()
        for w in list(self._writers):
            with contextlib.suppress(Exception):
                w.close()
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            for t in pending:
                t.cancel()
        await self._server.wait_closed()
        self._server = None

    def _session(self) -> _Session:
        if self.format == "jsonlines":
            return _JsonLinesSession(self.config)
        if self.format == "syslog":
            return _SyslogSession(self.config, self._syslog)
        return _ForwardSession(self.config, self._now)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        stats = self.stats
        stats.connections_total += 1
        if len(self._writers) >= self.config.max_connections:
            stats.reject("max_connections", 1, "", self.name)
            writer.close()
            return
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._writers.add(writer)
        stats.connections += 1
        try:
            await self._serve(reader, writer)
        except (ConnectionError, OSError):
            pass  # client went away; what it sent before was delivered
        except Exception as exc:  # a sink bug must not take the listener down
            stats.reject("internal_error", 1, f"closing connection: {exc!r}", self.name)
        finally:
            stats.connections -= 1
            self._writers.discard(writer)
            if task is not None:
                self._tasks.discard(task)
            with contextlib.suppress(Exception):
                writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        cfg = self.config
        stats = self.stats
        session = self._session()
        hello = session.greeting()
        if hello:
            writer.write(hello)
        loop = asyncio.get_running_loop()
        first_pending = 0.0
        while True:
            timeout = cfg.idle_timeout
            if session.objects or session.acks:
                timeout = max(0.0, first_pending + cfg.batch_delay - loop.time())
            try:
                async with asyncio.timeout(timeout):
                    data = await reader.read(1 << 16)
            except TimeoutError:
                if session.objects or session.acks:
                    await self._flush(session, writer)
                    continue
                return  # idle connection
            if not data:
                session.finish(stats, self.name)
                break
            stats.bytes += len(data)
            had_pending = bool(session.objects or session.acks)
            try:
                reply = session.feed(data, stats, self.name)
            except _Close as exc:
                stats.reject(exc.reason, 1, f"closing connection: {exc}", self.name)
                await self._flush(session, writer)
                if isinstance(exc, _CloseAfter):
                    writer.write(exc.reply)
                    await writer.drain()
                return
            if reply:
                writer.write(reply)
            if len(session.objects) >= cfg.batch_size:
                await self._flush(session, writer)
            elif not had_pending and (session.objects or session.acks):
                first_pending = loop.time()
        await self._flush(session, writer)

    async def _flush(self, session: _Session, writer: asyncio.StreamWriter) -> None:
        objects, acks = session.objects, session.acks
        session.objects, session.acks = [], []
        size = self.config.batch_size
        for i in range(0, len(objects), size):
            await deliver(self.sink, objects[i : i + size], self.stats, self.config.max_backoff)
        if acks and not writer.is_closing():
            writer.write(b"".join(acks))
            await writer.drain()
