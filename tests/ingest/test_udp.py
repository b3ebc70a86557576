"""UDP listeners driven by real clients: SysLogHandler, logger, python-logstash, heartbeats."""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
import shutil
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.ingest.kit import MemorySink, make_logger, run_listener, wait_until
from tracelake.ingest.udp import UdpListener


def run(
    fmt: str,
    body: Callable[[UdpListener, MemorySink], Awaitable[None]],
    sink: MemorySink | None = None,
    **cfg: Any,
) -> UdpListener:
    return run_listener(UdpListener, fmt, body, sink, **cfg)


def send(port: int, *datagrams: bytes) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for d in datagrams:
            s.sendto(d, ("127.0.0.1", port))


def test_python_sysloghandler_udp() -> None:
    async def body(listener: UdpListener, sink: MemorySink) -> None:
        def client() -> None:
            handler = logging.handlers.SysLogHandler(
                ("127.0.0.1", listener.port), facility="daemon"
            )
            log = make_logger("udp.syslog", handler)
            log.debug("dbg line")
            log.critical("on fire")
            handler.close()

        await asyncio.to_thread(client)
        await wait_until(lambda: len(sink.objects) == 2)

    sink = MemorySink()
    run("syslog", body, sink)
    dbg, crit = sink.objects
    assert (dbg["message"], dbg["level"], dbg["facility"]) == ("dbg line", "DEBUG", "daemon")
    assert (crit["message"], crit["level"]) == ("on fire", "FATAL")
    assert isinstance(dbg["timestamp"], int)


@pytest.mark.skipif(shutil.which("logger") is None, reason="util-linux logger not installed")
@pytest.mark.parametrize("mode", [[], ["--rfc3164"]])
def test_logger_udp(mode: list[str]) -> None:
    async def body(listener: UdpListener, sink: MemorySink) -> None:
        proc = await asyncio.create_subprocess_exec(
            "logger", "-n", "127.0.0.1", "-P", str(listener.port), "--udp", *mode,
            "-t", "cron", "-p", "cron.warning", "--", "job done",
        )  # fmt: skip
        assert await proc.wait() == 0
        await wait_until(lambda: len(sink.objects) == 1)

    sink = MemorySink()
    run("syslog", body, sink)
    (obj,) = sink.objects
    assert (obj["service"], obj["message"], obj["level"], obj["facility"]) == (
        "cron",
        "job done",
        "WARN",
        "cron",
    )


@pytest.mark.parametrize("version", [0, 1])
def test_python_logstash_udp_handler(version: int) -> None:
    from logstash import UDPLogstashHandler

    async def body(listener: UdpListener, sink: MemorySink) -> None:
        def client() -> None:
            handler = UDPLogstashHandler("127.0.0.1", listener.port, version=version)
            log = make_logger(f"udp.ls{version}", handler)
            log.error("payment declined", extra={"trace_id": "abc123"})
            handler.close()

        await asyncio.to_thread(client)
        await wait_until(lambda: len(sink.objects) == 1)

    sink = MemorySink()
    run("jsonlines", body, sink)
    (obj,) = sink.objects
    assert (obj["message"], obj["level"], obj["logger"]) == (
        "payment declined",
        "ERROR",
        f"udp.ls{version}",
    )
    assert obj["trace_id"] == "abc123"


def test_garbage_and_oversize_datagrams() -> None:
    async def body(listener: UdpListener, sink: MemorySink) -> None:
        send(listener.port, b"\xff\x00garbage", b"{" * 5000, b"", b'{"message":"fine"}\n')
        await wait_until(lambda: len(sink.objects) == 2)

    sink = MemorySink()
    listener = run("jsonlines", body, sink, max_frame_bytes=1000)
    assert sink.objects[0]["tags"] == ["_jsonparsefailure"]
    assert sink.objects[1] == {"message": "fine"}
    assert listener.stats.rejected_by_reason == {"oversize": 1}


def test_overloaded_sink_drops_and_counts() -> None:
    async def body(listener: UdpListener, sink: MemorySink) -> None:
        send(listener.port, b"<14>lost")
        await wait_until(lambda: listener.stats.rejected_by_reason.get("overloaded") == 1)
        send(listener.port, b"<14>kept")
        await wait_until(lambda: len(sink.objects) == 1)

    sink = MemorySink(overloaded=1)
    listener = run("syslog", body, sink)
    assert sink.objects[0]["message"] == "kept"
    assert listener.stats.received == 1


def test_forward_udp_heartbeat_is_answered() -> None:
    async def body(listener: UdpListener, sink: MemorySink) -> None:
        def client() -> bytes:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(3)
                s.sendto(b"\x00", ("127.0.0.1", listener.port))
                return s.recv(16)

        assert await asyncio.to_thread(client) == b"\x00"

    sink = MemorySink()
    run("forward", body, sink)
    assert sink.objects == []
