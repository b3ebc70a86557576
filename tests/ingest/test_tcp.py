"""TCP listeners driven by real clients: python-logstash, SysLogHandler, logger, fluent-logger.

Each test starts a listener on a free port in this process with a sink that keeps the
objects in memory, drives it from a client in a worker thread or subprocess, and checks
what reached the sink, what was sent back, and the listener's counters.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import logging.handlers
import shutil
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgpack
import pytest

from tests.ingest.kit import MemorySink, make_logger, run_listener, wait_until
from tracelake.errors import Overloaded
from tracelake.ingest.tcp import ListenerConfig, TcpListener
from tracelake.model import IngestResult, LogObject


def run(
    fmt: str,
    body: Callable[[TcpListener, MemorySink], Awaitable[None]],
    sink: MemorySink | None = None,
    **cfg: Any,
) -> TcpListener:
    return run_listener(TcpListener, fmt, body, sink, **cfg)


# -- JSON lines ---------------------------------------------------------------------------


@pytest.mark.parametrize("version", [0, 1])
def test_python_logstash_tcp_handler(version: int) -> None:
    from logstash import TCPLogstashHandler

    async def body(listener: TcpListener, sink: MemorySink) -> None:
        def client() -> None:
            handler = TCPLogstashHandler("127.0.0.1", listener.port, version=version, tags=["t"])
            log = make_logger(f"shop.v{version}", handler)
            log.info("order %s placed", 7, extra={"order_id": 7})
            try:
                raise KeyError("sku")
            except KeyError:
                log.exception("lookup failed")
            handler.close()

        await asyncio.to_thread(client)
        await wait_until(lambda: len(sink.objects) == 2)
        first, second = sink.objects
        assert first["message"] == "order 7 placed"
        assert first["level"] == "INFO"
        assert first["logger"] == f"shop.v{version}"
        assert first["order_id"] == 7
        assert first["tags"] == ["t"]
        assert first["timestamp"].endswith("Z")
        assert second["level"] == "ERROR"
        assert "KeyError" in second["stack_trace"]

    listener = run("jsonlines", body)
    assert listener.stats.received == 2 and listener.stats.rejected_by_reason == {}


def test_json_lines_garbage_oversize_and_keepalive_keep_serving() -> None:
    async def body(listener: TcpListener, sink: MemorySink) -> None:
        _, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writer.write(b'{"message":"a"}\n\n\xff\xfe garbage\n' + b"x" * 5000 + b"\n")
        writer.write(b'{"message":"b", "trace')  # half a line, completed below
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(b'Id":"abc"}\r\n')
        await writer.drain()
        await wait_until(lambda: len(sink.objects) == 3)
        writer.close()
        # a second connection still works
        _, w2 = await asyncio.open_connection("127.0.0.1", listener.port)
        w2.write(b'{"message":"c"}')  # no trailing newline: flushed at EOF
        await w2.drain()
        w2.close()
        await wait_until(lambda: len(sink.objects) == 4)

    sink = MemorySink()
    listener = run("jsonlines", body, sink, max_frame_bytes=1024)
    assert [o["message"] for o in sink.objects] == ["a", "\ufffd\ufffd garbage", "b", "c"]
    assert sink.objects[1]["tags"] == ["_jsonparsefailure"]
    assert sink.objects[2]["trace_id"] == "abc"
    assert listener.stats.rejected_by_reason == {"oversize": 1}
    assert listener.stats.connections == 0 and listener.stats.connections_total == 2


def test_batching_many_lines_in_few_sink_calls() -> None:
    async def body(listener: TcpListener, sink: MemorySink) -> None:
        _, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writer.write(b"".join(b'{"n":%d}\n' % i for i in range(5000)))
        await writer.drain()
        await wait_until(lambda: len(sink.objects) == 5000)
        writer.close()

    sink = MemorySink()
    run("jsonlines", body, sink, batch_size=1000)
    assert [o["n"] for o in sink.objects] == list(range(5000))
    assert sink.batches <= 20


def test_overloaded_sink_pauses_and_retries_without_loss() -> None:
    async def body(listener: TcpListener, sink: MemorySink) -> None:
        _, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writer.write(b'{"n":1}\n{"n":2}\n')
        await writer.drain()
        await wait_until(lambda: len(sink.objects) == 2)
        writer.close()

    sink = MemorySink(overloaded=3)
    listener = run("jsonlines", body, sink)
    assert [o["n"] for o in sink.objects] == [1, 2]
    assert listener.stats.overloaded_retries == 3


def test_max_connections_and_idle_timeout() -> None:
    async def body(listener: TcpListener, sink: MemorySink) -> None:
        r1, w1 = await asyncio.open_connection("127.0.0.1", listener.port)
        await wait_until(lambda: listener.stats.connections == 1)
        r2, w2 = await asyncio.open_connection("127.0.0.1", listener.port)
        assert await asyncio.wait_for(r2.read(), 2) == b""  # refused: closed at once
        assert await asyncio.wait_for(r1.read(), 2) == b""  # idle: closed by the timeout
        w1.close()
        w2.close()

    listener = run("jsonlines", body, max_connections=1, idle_timeout=0.3)
    assert listener.stats.rejected_by_reason == {"max_connections": 1}


# -- syslog -------------------------------------------------------------------------------


def test_python_sysloghandler_tcp_nul_framing_with_traceback() -> None:
    async def body(listener: TcpListener, sink: MemorySink) -> None:
        def client() -> None:
            handler = logging.handlers.SysLogHandler(
                ("127.0.0.1", listener.port), facility="local3", socktype=socket.SOCK_STREAM
            )
            handler.ident = "billing[99]: "
            log = make_logger("billing", handler)
            log.warning("low balance")
            try:
                1 / 0  # noqa: B018
            except ZeroDivisionError:
                log.exception("failed")
            handler.close()

        await asyncio.to_thread(client)
        await wait_until(lambda: len(sink.objects) == 2)

    sink = MemorySink()
    run("syslog", body, sink)
    warn, err = sink.objects
    assert (warn["service"], warn["procid"], warn["message"]) == ("billing", "99", "low balance")
    assert (warn["level"], warn["facility"], warn["severity"]) == ("WARN", "local3", "warning")
    assert err["level"] == "ERROR"
    assert err["message"].startswith("failed\nTraceback")  # one record, LFs kept
    assert "ZeroDivisionError" in err["message"]


LOGGER = shutil.which("logger")
needs_logger = pytest.mark.skipif(LOGGER is None, reason="util-linux logger not installed")


async def logger_cmd(port: int, *args: str) -> None:
    assert LOGGER is not None
    proc = await asyncio.create_subprocess_exec(LOGGER, "-n", "127.0.0.1", "-P", str(port), *args)
    assert await proc.wait() == 0


@needs_logger
@pytest.mark.parametrize(
    "mode", [[], ["--octet-count"], ["--rfc3164"], ["--rfc3164", "--octet-count"]]
)
def test_logger_tcp(mode: list[str]) -> None:
    async def body(listener: TcpListener, sink: MemorySink) -> None:
        await logger_cmd(listener.port, "--tcp", *mode, "-t", "tester", "-p", "local1.err", "first")
        await logger_cmd(
            listener.port, "--tcp", *mode, "-t", "tester", "--id=4242", "-p", "user.debug", "second"
        )
        await wait_until(lambda: len(sink.objects) == 2)

    sink = MemorySink()
    run("syslog", body, sink)
    first, second = sink.objects
    assert (first["service"], first["message"], first["level"]) == ("tester", "first", "ERROR")
    assert first["facility"] == "local1"
    assert (second["procid"], second["level"]) == ("4242", "DEBUG")
    assert first["host"] == socket.gethostname()
    if "--rfc3164" in mode:
        assert isinstance(first["timestamp"], int)
        assert abs(first["timestamp"] / 1e9 - time.time()) < 120
    else:
        assert first["timestamp"][:4].isdigit()
        assert "timeQuality" in first


def test_syslog_mixed_framing_and_oversize_on_one_connection() -> None:
    async def body(listener: TcpListener, sink: MemorySink) -> None:
        _, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        big = b"<13>" + b"z" * 3000
        msg = b'<165>1 2003-10-11T22:14:15.003Z host app - ID47 [a b="1"] counted'
        writer.write(b"<14>lf one\n" + b"%d " % len(big) + big + b"%d " % len(msg) + msg)
        writer.write(b"\x01\x02\x03 binary junk\n<14>after\n")
        await writer.drain()
        await wait_until(lambda: len(sink.objects) == 4)
        writer.close()

    sink = MemorySink()
    listener = run("syslog", body, sink, max_frame_bytes=2048)
    assert [o["message"] for o in sink.objects] == [
        "lf one",
        "counted",
        "\x01\x02\x03 binary junk",
        "after",
    ]
    assert sink.objects[1]["a"] == {"b": "1"}
    assert listener.stats.rejected_by_reason == {"oversize": 1}


# -- Fluentd forward ----------------------------------------------------------------------


@pytest.mark.parametrize("nano", [False, True])
def test_fluent_logger_sender(nano: bool) -> None:
    from fluent import sender

    async def body(listener: TcpListener, sink: MemorySink) -> None:
        def client() -> None:
            s = sender.FluentSender("app", port=listener.port, nanosecond_precision=nano)
            assert s.emit("web", {"message": "hello", "level": "info"})
            assert s.emit_with_time("web", 1700000000, {"message": "fixed"})
            s.close()

        await asyncio.to_thread(client)
        await wait_until(lambda: len(sink.objects) == 2)

    sink = MemorySink()
    run("forward", body, sink)
    live, fixed = sink.objects
    assert (live["tag"], live["service"], live["message"]) == ("app.web", "app.web", "hello")
    assert abs(live["timestamp"] / 1e9 - time.time()) < 60
    if nano:
        assert live["timestamp"] % 1_000_000_000 != 0
    assert fixed["timestamp"] == 1700000000 * 1_000_000_000


def test_fluent_logger_asyncsender() -> None:
    from fluent import asyncsender

    async def body(listener: TcpListener, sink: MemorySink) -> None:
        def client() -> None:
            s = asyncsender.FluentSender("bg", port=listener.port, nanosecond_precision=True)
            for i in range(50):
                s.emit("evt", {"i": i})
            s.close()

        await asyncio.to_thread(client)
        await wait_until(lambda: len(sink.objects) == 50)

    sink = MemorySink()
    run("forward", body, sink)
    assert [o["i"] for o in sink.objects] == list(range(50))


def _entries(n: int) -> bytes:
    return b"".join(msgpack.packb([1700000000 + i, {"i": i}]) for i in range(n))


def test_packed_and_compressed_forward_ack_after_sink_returns() -> None:
    async def body(listener: TcpListener, sink: MemorySink) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writer.write(msgpack.packb(["raw", _entries(3), {"size": 3, "chunk": "c-1"}]))
        await writer.drain()
        ack = msgpack.unpackb(await asyncio.wait_for(reader.read(100), 5))
        acked_at = time.monotonic()
        assert ack == {"ack": "c-1"}
        assert len(sink.objects) == 3 and sink.returned_at[0] <= acked_at
        blob = gzip.compress(_entries(2))
        writer.write(msgpack.packb(["gz", blob, {"compressed": "gzip", "chunk": "c-2"}]))
        await writer.drain()
        assert msgpack.unpackb(await asyncio.wait_for(reader.read(100), 5)) == {"ack": "c-2"}
        assert len(sink.objects) == 5
        writer.close()

    sink = MemorySink(delay=0.2, overloaded=2)
    listener = run("forward", body, sink)
    assert [o["tag"] for o in sink.objects] == ["raw"] * 3 + ["gz"] * 2
    assert listener.stats.overloaded_retries == 2


def test_forward_bad_chunks_counted_and_garbage_closes_only_that_connection() -> None:
    async def body(listener: TcpListener, sink: MemorySink) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        bad_gzip = msgpack.packb(["t", b"\x1f\x8b junk", {"compressed": "gzip", "chunk": "x"}])
        writer.write(bad_gzip + msgpack.packb(["t", 1, {"ok": 1}, {"chunk": "y"}]))
        await writer.drain()
        assert msgpack.unpackb(await asyncio.wait_for(reader.read(100), 5)) == {"ack": "y"}
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # not msgpack arrays
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed
        # the listener still serves others
        from fluent import sender

        def client() -> None:
            s = sender.FluentSender("after", port=listener.port)
            assert s.emit(None, {"message": "still here"})
            s.close()

        await asyncio.to_thread(client)
        await wait_until(lambda: len(sink.objects) == 2)

    sink = MemorySink()
    listener = run("forward", body, sink)
    assert sink.objects[-1]["message"] == "still here"
    assert listener.stats.rejected_by_reason == {"compression": 1, "bad_stream": 1}


def test_forward_heartbeat_connection_without_data() -> None:
    async def body(listener: TcpListener, sink: MemorySink) -> None:
        for _ in range(3):  # Fluentd heartbeat_type transport: connect, close
            _, w = await asyncio.open_connection("127.0.0.1", listener.port)
            w.close()
        await wait_until(lambda: listener.stats.connections_total == 3)
        await wait_until(lambda: listener.stats.connections == 0)

    listener = run("forward", body)
    assert listener.stats.rejected_by_reason == {}


def test_forward_shared_key_handshake_over_tcp() -> None:
    import hashlib

    async def body(listener: TcpListener, sink: MemorySink) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        unpacker = msgpack.Unpacker(raw=False)
        unpacker.feed(await asyncio.wait_for(reader.read(1000), 5))
        helo = next(unpacker)
        nonce = helo[1]["nonce"]
        digest = hashlib.sha512(b"salt" + b"cli" + nonce + b"s3cret").hexdigest()
        writer.write(msgpack.packb(["PING", "cli", "salt", digest, "", ""]))
        await writer.drain()
        unpacker.feed(await asyncio.wait_for(reader.read(1000), 5))
        assert next(unpacker)[:2] == ["PONG", True]
        writer.write(msgpack.packb(["sec", 1, {"m": 1}, {"chunk": "k"}]))
        await writer.drain()
        unpacker.feed(await asyncio.wait_for(reader.read(1000), 5))
        assert next(unpacker) == {"ack": "k"}
        writer.close()

    sink = MemorySink()
    run("forward", body, sink, shared_key="s3cret")
    assert sink.objects[0]["m"] == 1


class MemoryFrameSink:
    """A ``FrameSink`` running the real worker job inline; ``store`` can be overloaded."""

    def __init__(self, overloaded: int = 0, multiline: bool = False) -> None:
        from tracelake.pipeline.config import Pipeline

        self.pipeline = Pipeline({"multiline": {}} if multiline else {})
        self.overloaded = overloaded
        self.decoded = 0
        self.objects: list[LogObject] = []

    def joiner(self) -> Any:
        return self.pipeline.joiner()

    async def decode(self, fmt: Any, frames: list[bytes], joiner: Any, final: bool) -> Any:
        from tracelake.ingest.jobs import JobEnv, Limits
        from tracelake.ingest.tables.logs import Frames, frames_job
        from tracelake.settings import Settings

        self.decoded += len(frames)
        env = JobEnv(Limits.of(Settings.load(env={})), self.pipeline, int(time.time() * 1e6))
        return frames_job(Frames(fmt, frames, joiner, final), env)

    async def store(self, chunk: Any) -> IngestResult:
        from tracelake.store.ipc import from_ipc

        if self.overloaded:
            self.overloaded -= 1
            raise Overloaded("store full", retry_after=0)
        if chunk.ipc is not None:
            self.objects += from_ipc(chunk.ipc).to_pylist()
        return chunk.result


def test_frames_are_decoded_once_and_only_the_store_is_retried_when_overloaded() -> None:
    frames = MemoryFrameSink(overloaded=3)

    async def main() -> TcpListener:
        listener = TcpListener(MemorySink(), "syslog", ListenerConfig(), frames=frames)
        await listener.start()
        try:
            _, w = await asyncio.open_connection("127.0.0.1", listener.port)
            w.write(b"<11>1 - web-1 billing 42 - - card declined\n<14>bad-stamp\n")
            w.write(b"<14>1 1970-01-01T00:00:00Z web-1 billing 42 - - too old\n")
            await w.drain()
            await wait_until(lambda: len(frames.objects) == 2)
            w.close()
        finally:
            await listener.stop()
        return listener

    listener = asyncio.run(main())
    assert frames.decoded == 3 and listener.stats.overloaded_retries == 3
    assert [o["message"] for o in frames.objects] == ["card declined", "bad-stamp"]
    assert listener.stats.received == 3 and listener.stats.accepted == 2
    assert listener.stats.rejected_by_reason == {"sink": 1}  # the 1970 timestamp


def test_frame_sink_joins_a_traceback_per_connection() -> None:
    frames = MemoryFrameSink(multiline=True)

    async def main() -> None:
        listener = TcpListener(MemorySink(), "jsonlines", ListenerConfig(), frames=frames)
        await listener.start()
        try:
            _, a = await asyncio.open_connection("127.0.0.1", listener.port)
            _, b = await asyncio.open_connection("127.0.0.1", listener.port)
            a.write(b"boom\nTraceback (most recent call last):\n")
            b.write(b'{"message": "other connection"}\n')
            await a.drain()
            await b.drain()
            await asyncio.sleep(0.05)
            a.write(b"  File \"x.py\", line 1\nKeyError: 'k'\n")
            await a.drain()
            a.close()
            b.close()
            await wait_until(lambda: len(frames.objects) == 2)
        finally:
            await listener.stop()

    asyncio.run(main())
    messages = sorted(o["message"] for o in frames.objects)
    assert messages == [
        "boom\nTraceback (most recent call last):\n  File \"x.py\", line 1\nKeyError: 'k'",
        "other connection",
    ]
