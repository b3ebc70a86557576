"""Micro-benchmark of the stream decoders: lines/s on ~200k synthetic lines each.

Run: ``python benchmarks/bench_stream_decoders.py [N]``. Each figure includes framing
(the bytes arrive in 64 KiB chunks, as a socket read gives them) and decoding; the
ratio compares with a bare ``orjson.loads`` loop over the same JSON lines, the floor
any JSON decoder pays. The last two rows run the real TCP listener with a sink that
only counts, fed by a client thread, to show what the asyncio shell costs.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence

import msgpack
import orjson

from tracelake.ingest.decoders.forward import ForwardDecoder
from tracelake.ingest.decoders.framing import LineFramer, SyslogFramer
from tracelake.ingest.decoders.jsonlines import decode_json_lines
from tracelake.ingest.decoders.syslog import SyslogDecoder
from tracelake.ingest.tcp import ListenerConfig, TcpListener
from tracelake.model import IngestResult, LogObject

CHUNK = 1 << 16


def chunks(data: bytes) -> list[bytes]:
    return [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]


def logback_lines(n: int) -> list[bytes]:
    return [
        orjson.dumps(
            {
                "@timestamp": "2025-11-25T10:15:30.123+01:00",
                "@version": "1",
                "message": f"Order {i} placed for customer {i % 977}",
                "logger_name": "com.shop.OrderService",
                "thread_name": "http-nio-8080-exec-1",
                "level": "INFO",
                "level_value": 20000,
                "traceId": f"{i:016x}",
                "spanId": f"{i * 7:016x}",
            }
        )
        for i in range(n)
    ]


def syslog5424_lines(n: int) -> list[bytes]:
    return [
        b"<165>1 2025-11-25T10:15:30.123Z web01 shop 4242 ID47 "
        b'[req@32473 path="/api/orders" status="200"] Order %d placed' % i
        for i in range(n)
    ]


def syslog3164_lines(n: int) -> list[bytes]:
    return [
        b"<13>Nov 25 10:15:30 web01 shop[4242]: Order %d placed for customer" % i for i in range(n)
    ]


def timed(label: str, n: int, fn: Callable[[], int], baseline: float | None) -> float:
    fn()  # warm up
    t0 = time.perf_counter()
    got = fn()
    dt = time.perf_counter() - t0
    assert got == n, (label, got, n)
    rate = n / dt
    ratio = f"{rate / baseline:6.2f}x of orjson.loads" if baseline else "baseline"
    print(f"{label:<44} {rate:>12,.0f} lines/s   {ratio}")
    return rate


def bench_decoders(n: int) -> float:
    lines = logback_lines(n)
    json_stream = chunks(b"\n".join(lines) + b"\n")
    loads = orjson.loads

    def baseline() -> int:
        count = 0
        for line in lines:
            loads(line)
            count += 1
        return count

    base = timed("orjson.loads loop (logback JSON)", n, baseline, None)

    def jsonlines() -> int:
        framer = LineFramer()
        return sum(len(decode_json_lines(framer.feed(c))) for c in json_stream)

    timed("jsonlines: LineFramer + decode (logback)", n, jsonlines, base)

    for label, gen in (("syslog RFC 5424 + SD, LF framed", syslog5424_lines),
                       ("syslog RFC 3164, LF framed", syslog3164_lines)):  # fmt: skip
        stream = chunks(b"\n".join(gen(n)) + b"\n")

        def syslog(stream: list[bytes] = stream) -> int:
            framer = SyslogFramer()
            decode = SyslogDecoder().decode
            return sum(len([decode(f) for f in framer.feed(c)]) for c in stream)

        timed(f"syslog: {label}", n, syslog, base)

    counted = chunks(b"".join(b"%d %s" % (len(m), m) for m in syslog5424_lines(n)))

    def octet() -> int:
        framer = SyslogFramer()
        decode = SyslogDecoder().decode
        return sum(len([decode(f) for f in framer.feed(c)]) for c in counted)

    timed("syslog: RFC 5424, octet-counted", n, octet, base)

    per_chunk = 1000
    records = [{"message": f"Order {i} placed", "level": "info", "i": i} for i in range(n)]
    t = msgpack.ExtType(0, b"\x65\x00\x00\x00\x00\x00\x00\x01")
    packed = b"".join(
        msgpack.packb(
            [
                "app.shop",
                b"".join(msgpack.packb([t, r]) for r in records[i : i + per_chunk]),
                {"size": per_chunk, "chunk": f"c{i}"},
            ]
        )
        for i in range(0, n, per_chunk)
    )
    gz = b"".join(
        msgpack.packb(
            [
                "app.shop",
                gzip.compress(b"".join(msgpack.packb([t, r]) for r in records[i : i + per_chunk])),
                {"compressed": "gzip"},
            ]
        )
        for i in range(0, n, per_chunk)
    )
    for label, data in (("PackedForward", packed), ("CompressedPackedForward", gz)):
        stream = chunks(data)

        def forward(stream: list[bytes] = stream) -> int:
            d = ForwardDecoder()
            return sum(len(m.objects) for c in stream for m in d.feed(c))

        timed(f"forward: {label}", n, forward, base)
    return base


class CountingSink:
    def __init__(self) -> None:
        self.count = 0

    async def __call__(self, objects: Sequence[LogObject]) -> IngestResult:
        self.count += len(objects)
        return IngestResult(accepted=len(objects))


def bench_tcp(fmt: str, payload: bytes, n: int, base: float) -> None:
    async def main() -> float:
        sink = CountingSink()
        listener = TcpListener(sink, fmt, ListenerConfig())  # type: ignore[arg-type]
        await listener.start()

        def client() -> None:
            with socket.create_connection(("127.0.0.1", listener.port)) as s:
                s.sendall(payload)

        t0 = time.perf_counter()
        thread = threading.Thread(target=client)
        thread.start()
        while sink.count < n:
            await asyncio.sleep(0.005)
        dt = time.perf_counter() - t0
        thread.join()
        await listener.stop()
        return n / dt

    rate = asyncio.run(main())
    print(f"{'tcp listener (' + fmt + ', null sink)':<44} {rate:>12,.0f} lines/s   "
          f"{rate / base:6.2f}x of orjson.loads")  # fmt: skip


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    print(f"{n:,} lines per run, 64 KiB chunks, Python {sys.version.split()[0]}")
    base = bench_decoders(n)
    bench_tcp("jsonlines", b"\n".join(logback_lines(n)) + b"\n", n, base)
    bench_tcp("syslog", b"\n".join(syslog3164_lines(n)) + b"\n", n, base)


if __name__ == "__main__":
    main()
