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
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

from tracelake.errors import Overloaded
from tracelake.ingest.decoders.forward import (
    REJECT_DETAILS,
    ForwardDecoder,
    ForwardProtocolError,
)
from tracelake.ingest.decoders.framing import LineFramer, SyslogFramer
from tracelake.ingest.decoders.syslog import SyslogDecoder
from tracelake.ingest.jobs import Decoded
from tracelake.ingest.sink import LogSink
from tracelake.ingest.tables.logs import FrameFormat, decode_frames
from tracelake.model import IngestResult, LogObject
from tracelake.pipeline.multiline import MultilineJoiner

log = logging.getLogger("tracelake.ingest")

StreamFormat = Literal["jsonlines", "syslog", "forward"]
T = TypeVar("T")


class FrameSink(Protocol):
    """Where JSON-lines and syslog listeners hand complete frames (``Ingest`` via
    ``Listeners``): decoded off the event loop, then stored as a second, retryable step.
    Without one, a listener decodes in-process and hands log objects to its ``LogSink``.
    """

    def joiner(self) -> MultilineJoiner | None:
        """A fresh multiline joiner for a new connection, if multiline is configured."""
        ...

    async def decode(
        self, fmt: FrameFormat, frames: list[bytes], joiner: MultilineJoiner | None, final: bool
    ) -> Decoded:
        """``answer`` is the joiner to hand with the connection's next chunk."""
        ...

    async def store(self, decoded: Decoded) -> IngestResult:
        """Durable once it returns; raises ``Overloaded`` when the store is full."""
        ...


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
    #: Which peer addresses may connect or send (None: any). See security/networks.py.
    allow: Callable[[str], bool] | None = None
    #: TLS on the TCP port (None: plaintext). UDP ignores it.
    tls: ssl.SSLContext | None = None


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
    sink: LogSink,
    objects: list[LogObject],
    stats: ListenerStats,
    max_backoff: float,
    ids: list[str | None] | None = None,
) -> None:
    """Await the sink until it takes ``objects``; back off while it is ``Overloaded``.

    Each try gets fresh copies: the sink consumes the objects it is given (the field
    mapping pops keys), so a retry of the same dicts would store records stripped of
    their message and service. ``ids`` name the records (a forward chunk's).
    """

    def call() -> Awaitable[IngestResult]:
        copies = [dict(o) for o in objects]
        return sink(copies) if ids is None else sink(copies, ids)

    result = await _retrying(call, stats, max_backoff)
    _counted(stats, len(objects), result.accepted, {"sink": result.rejected})


async def _retrying(
    call: Callable[[], Awaitable[T]], stats: ListenerStats, max_backoff: float
) -> T:
    """Await ``call()`` until it does not raise ``Overloaded``, backing off (capped)."""
    delay = 0.01
    while True:
        try:
            return await call()
        except Overloaded as exc:
            stats.overloaded_retries += 1
            await asyncio.sleep(max(0.005, min(delay, float(exc.retry_after), max_backoff)))
            delay *= 2


def _counted(stats: ListenerStats, received: int, accepted: int, reasons: dict[str, int]) -> None:
    stats.received += received
    stats.accepted += accepted
    for reason, count in reasons.items():
        if count:
            stats.rejected_by_reason[reason] = stats.rejected_by_reason.get(reason, 0) + count


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
        #: The record id of each of ``objects``, once a message named its records.
        self.ids: list[str | None] | None = None

    def greeting(self) -> bytes | None:
        return None

    def pending(self) -> bool:
        """Whether anything waits to be delivered or acknowledged."""
        return bool(self.objects or self.acks)

    def feed(self, data: bytes, stats: ListenerStats, name: str) -> bytes | None:
        raise NotImplementedError

    def finish(self, stats: ListenerStats, name: str) -> None:
        """The client closed: decode what is left of a last, unterminated frame."""


class _FramedSession(_Session):
    """JSON lines or syslog: the shell only frames; decoding happens at flush."""

    def __init__(self, fmt: FrameFormat, joiner: MultilineJoiner | None) -> None:
        super().__init__()
        self.format: FrameFormat = fmt
        self.frames: list[bytes] = []
        self.joiner = joiner

    def pending(self) -> bool:
        return bool(self.frames) or super().pending()


class _JsonLinesSession(_FramedSession):
    def __init__(self, cfg: ListenerConfig, joiner: MultilineJoiner | None) -> None:
        super().__init__("jsonlines", joiner)
        self._framer = LineFramer(cfg.max_frame_bytes)

    def feed(self, data: bytes, stats: ListenerStats, name: str) -> bytes | None:
        framer = self._framer
        before = framer.oversize
        self.frames += framer.feed(data)
        if framer.oversize != before:
            stats.reject("oversize", framer.oversize - before, "line over max_frame_bytes", name)
        return None

    def finish(self, stats: ListenerStats, name: str) -> None:
        tail = self._framer.flush()
        if tail:
            self.frames.append(tail)


class _SyslogSession(_FramedSession):
    def __init__(self, cfg: ListenerConfig, joiner: MultilineJoiner | None) -> None:
        super().__init__("syslog", joiner)
        self._framer = SyslogFramer(cfg.max_frame_bytes)

    def feed(self, data: bytes, stats: ListenerStats, name: str) -> bytes | None:
        framer = self._framer
        before = framer.oversize
        self.frames += framer.feed(data)
        if framer.oversize != before:
            stats.reject("oversize", framer.oversize - before, "frame over max_frame_bytes", name)
        return None

    def finish(self, stats: ListenerStats, name: str) -> None:
        framer = self._framer
        before = framer.truncated
        self.frames += framer.flush()
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
            for reason, count in m.rejects.items():
                stats.reject(reason, count, REJECT_DETAILS.get(reason, ""), name)
            if m.reply is not None:
                replies.append(m.reply)
            if m.close:
                raise _CloseAfter(b"".join(replies))
            if m.ids is not None and self.ids is None:
                self.ids = [None] * len(self.objects)
            if self.ids is not None:
                self.ids += m.ids if m.ids is not None else [None] * len(m.objects)
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
        frames: FrameSink | None = None,
    ) -> None:
        self.sink = sink
        #: JSON lines and syslog: decode in worker processes through this, when given.
        self.frames = frames if fmt != "forward" else None
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
            self._handle,
            self.config.host,
            self.config.port,
            limit=1 << 16,
            ssl=self.config.tls,
            ssl_handshake_timeout=10.0 if self.config.tls is not None else None,
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
        if self.format == "forward":
            return _ForwardSession(self.config, self._now)
        joiner = self.frames.joiner() if self.frames is not None else None
        if self.format == "jsonlines":
            return _JsonLinesSession(self.config, joiner)
        return _SyslogSession(self.config, joiner)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        stats = self.stats
        stats.connections_total += 1
        if len(self._writers) >= self.config.max_connections:
            stats.reject("max_connections", 1, "", self.name)
            writer.close()
            return
        allow = self.config.allow
        if allow is not None:
            peer = writer.get_extra_info("peername")
            if not peer or not allow(str(peer[0])):
                detail = f"{peer and peer[0]} is not in the allowed networks"
                stats.reject("not_allowed", 1, detail, self.name)
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
            joiner_due: float | None = None
            timeout = cfg.idle_timeout
            if session.pending():
                timeout = max(0.0, first_pending + cfg.batch_delay - loop.time())
            elif isinstance(session, _FramedSession) and session.joiner is not None:
                # an event held by the multiline joiner ends when its timeout passes
                joiner_due = session.joiner.deadline
                if joiner_due is not None:
                    timeout = min(timeout, max(0.0, joiner_due - self._now()) + 0.005)
            try:
                async with asyncio.timeout(timeout):
                    data = await reader.read(1 << 16)
            except TimeoutError:
                if session.pending() or joiner_due is not None:
                    await self._flush(session, writer)
                    continue
                return  # idle connection
            except (ConnectionError, ssl.SSLError):
                # a reset, or TLS closed without close_notify: keep what was read
                data = b""
            if not data:
                session.finish(stats, self.name)
                break
            stats.bytes += len(data)
            had_pending = session.pending()
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
            if len(session.objects) >= cfg.batch_size or (
                isinstance(session, _FramedSession) and len(session.frames) >= cfg.batch_size
            ):
                await self._flush(session, writer)
            elif not had_pending and session.pending():
                first_pending = loop.time()
        await self._flush(session, writer, final=True)

    async def _flush(
        self, session: _Session, writer: asyncio.StreamWriter, final: bool = False
    ) -> None:
        if isinstance(session, _FramedSession):
            await self._flush_frames(session, final)
        objects, acks, ids = session.objects, session.acks, session.ids
        session.objects, session.acks, session.ids = [], [], None
        size = self.config.batch_size
        for i in range(0, len(objects), size):
            await deliver(
                self.sink,
                objects[i : i + size],
                self.stats,
                self.config.max_backoff,
                None if ids is None else ids[i : i + size],
            )
        if acks and not writer.is_closing():
            writer.write(b"".join(acks))
            await writer.drain()

    async def _flush_frames(self, session: _FramedSession, final: bool) -> None:
        """Decode the frames read so far (in a worker when there is a frame sink), store."""
        frames, session.frames = session.frames, []
        joiner = session.joiner
        if not frames and (joiner is None or not joiner.pending):
            return
        if self.frames is None:  # a plain LogSink: decode here, deliver objects below
            session.objects += decode_frames(
                session.format,
                frames,
                syslog=self._syslog,
                joiner=joiner,
                now=self._now(),
                final=final,
            )
            return
        sink = self.frames
        decoded = await sink.decode(session.format, frames, joiner, final)
        session.joiner = decoded.answer
        result = await _retrying(lambda: sink.store(decoded), self.stats, self.config.max_backoff)
        received = result.accepted + result.rejected
        _counted(self.stats, received, result.accepted, {"sink": result.rejected})
