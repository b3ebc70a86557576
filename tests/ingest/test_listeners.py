"""Stream inputs end to end: real clients → the real server → found by search with their fields."""

from __future__ import annotations

import logging
import logging.handlers
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import ServerProcess


def wait_for(server: ServerProcess, query: str, n: int = 1, timeout: float = 10) -> list[dict]:
    deadline = time.monotonic() + timeout
    rows: list[dict] = []
    while time.monotonic() < deadline:
        rows = httpx.get(f"{server.url}/api/v1/search", params={"q": query, "from": "-1d"}).json()[
            "rows"
        ]
        if len(rows) >= n:
            return rows
        time.sleep(0.1)
    raise AssertionError(f"{query!r}: found {len(rows)} rows, wanted {n}")


def _logger(name: str, handler: logging.Handler) -> Callable[[], None]:
    log = logging.getLogger(name)
    log.handlers = [handler]
    log.propagate = False
    log.setLevel(logging.DEBUG)

    def close() -> None:
        handler.close()
        log.handlers = []

    return close


def test_python_syslog_handler_over_udp_and_tcp(server: ServerProcess) -> None:
    import socket

    port = server.listener("syslog/udp")
    udp = logging.handlers.SysLogHandler(address=("127.0.0.1", port))
    udp.ident = "billing[42]: "  # without a header only prog[pid]: is read as the app
    close = _logger("syslog-udp", udp)
    logging.getLogger("syslog-udp").error("card declined over udp")
    close()
    tcp = logging.handlers.SysLogHandler(address=("127.0.0.1", port), socktype=socket.SOCK_STREAM)
    close = _logger("syslog-tcp", tcp)
    logging.getLogger("syslog-tcp").warning("disk nearly full over tcp")
    close()
    row = wait_for(server, '"card declined over udp"')[0]
    assert row["level"] == "ERROR" and row["service"] == "billing"
    assert wait_for(server, '"disk nearly full over tcp"')[0]["level"] == "WARN"


def test_python_logstash_tcp_handler_version_1(server: ServerProcess) -> None:
    logstash = pytest.importorskip("logstash")
    handler = logstash.TCPLogstashHandler("127.0.0.1", server.listener("jsonlines/tcp"), version=1)
    close = _logger("orders.api", handler)
    logging.getLogger("orders.api").error("order failed", extra={"order_id": 42})
    close()
    row = wait_for(server, '"order failed"')[0]
    assert row["level"] == "ERROR" and row["logger"] == "orders.api"
    assert row["attributes"]["order_id"] == 42


def test_fluent_logger_forward(server: ServerProcess) -> None:
    sender_mod = pytest.importorskip("fluent.sender")
    sender = sender_mod.FluentSender(
        "inventory", host="127.0.0.1", port=server.listener("forward/tcp")
    )
    assert sender.emit("stock", {"message": "stock low", "level": "warn", "sku": "A-1"})
    sender.close()
    row = wait_for(server, '"stock low"')[0]
    assert row["level"] == "WARN" and row["attributes"]["sku"] == "A-1"
    assert row["service"] == "inventory.stock"


def forward_rejects(server: ServerProcess) -> dict[str, float]:
    """``tracelake_listener_rejects_total`` of ``forward/tcp``, by reason."""
    out = {}
    for line in httpx.get(f"{server.url}/metrics").text.splitlines():
        if line.startswith('tracelake_listener_rejects_total{listener="forward/tcp"'):
            labels, value = line.rsplit(" ", 1)
            out[labels.split('reason="')[1].split('"')[0]] = float(value)
    return out


def test_fluent_logger_records_json_cannot_hold_cost_only_themselves(
    server: ServerProcess,
) -> None:
    """Records with an int or a bin key, sent by fluent-logger between good ones, are
    rejected and counted alone; the good records around them are stored."""
    sender_mod = pytest.importorskip("fluent.sender")
    sender = sender_mod.FluentSender("keys", host="127.0.0.1", port=server.listener("forward/tcp"))
    assert sender.emit("app", {"message": "keys good one"})
    assert sender.emit("app", {1: "int key", "message": "keys bad"})
    assert sender.emit("app", {b"bin": "bin key", "message": "keys bad"})
    assert sender.emit("app", {"message": "keys good two"})
    sender.close()
    rows = wait_for(server, "keys good", n=2)
    assert sorted(r["message"] for r in rows) == ["keys good one", "keys good two"]
    assert forward_rejects(server) == {"bad_key": 2}


def test_forward_one_bad_record_in_each_mode_is_rejected_and_the_rest_acked(
    server: ServerProcess,
) -> None:
    """Raw msgpack in all four modes, each with a record JSON cannot hold (int, bin,
    array keys, an ext value) or a bad tag, and odd option values, in one write: every
    chunk is acknowledged, every good record is searchable, the connection stays open."""
    import gzip
    import socket

    import msgpack

    now = int(time.time())

    def pack(obj: object) -> bytes:
        return msgpack.packb(obj, use_bin_type=True)

    def good(n: int) -> dict[str, str]:
        return {"message": f"modes good {n}"}

    array_key = b"\x82" + pack([1, 2]) + pack("v") + pack("message") + pack("modes bad")
    packed = pack([now, good(4)]) + b"\x92" + pack(now) + array_key + pack([now, good(5)])
    gzipped = gzip.compress(
        pack([now, good(6)]) + pack([now, {"x": msgpack.ExtType(9, b"?")}]) + pack([now, good(7)])
    )
    write = b"".join(
        [
            pack(["m", now, {1: "int key"}, {"chunk": "c-message"}]),
            pack(["m", now, good(1), {"chunk": "c-message-2", "size": "one"}]),
            pack(["f", [[now, good(2)], [now, {b"k": "bin key"}], [now, good(3)]], {"chunk": 7}]),
            pack(["p", packed, {"chunk": "c-packed", "size": [3]}]),
            pack(["z", gzipped, {"chunk": "c-gzip", "compressed": "gzip"}]),
            pack([b"bin.tag", now, good(8), {"chunk": "c-bin-tag"}]),
            pack([42, now, {"message": "modes bad"}, {"chunk": "c-int-tag"}]),
        ]
    )
    expected = [
        {"ack": a}
        for a in ("c-message", "c-message-2", 7, "c-packed", "c-gzip", "c-bin-tag", "c-int-tag")
    ]
    with socket.create_connection(("127.0.0.1", server.listener("forward/tcp")), 5) as sock:
        sock.sendall(write)
        unpacker = msgpack.Unpacker(raw=False)
        acks: list[object] = []
        while len(acks) < len(expected):
            data = sock.recv(4096)
            assert data, f"connection closed after acks {acks}"
            unpacker.feed(data)
            acks += list(unpacker)
        assert acks == expected
        sock.sendall(pack(["m", now, good(9), {"chunk": "after"}]))  # still open
        assert msgpack.unpackb(sock.recv(4096)) == {"ack": "after"}
    rows = wait_for(server, '"modes good"', n=9)
    assert sorted(r["message"] for r in rows) == [f"modes good {n}" for n in range(1, 10)]
    assert wait_for(server, '"modes good 8"')[0]["service"] == "bin.tag"
    assert forward_rejects(server) == {"bad_key": 3, "bad_value": 1, "bad_tag": 1}


def test_garbage_on_every_listener_is_counted_and_they_keep_serving(server: ServerProcess) -> None:
    import socket

    for name in ("jsonlines/tcp", "syslog/tcp", "forward/tcp"):
        with socket.create_connection(("127.0.0.1", server.listener(name))) as s:
            s.sendall(b"\xff\x00\xc1garbage\x93" * 100 + b"\n")
            time.sleep(0.2)
    for name in ("jsonlines/udp", "syslog/udp"):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"\xff\xfe\x00", ("127.0.0.1", server.listener(name)))
    handler = logging.handlers.SysLogHandler(address=("127.0.0.1", server.listener("syslog/udp")))
    close = _logger("after-garbage", handler)
    logging.getLogger("after-garbage").info("still serving")
    close()
    wait_for(server, '"still serving"')
    metrics = httpx.get(f"{server.url}/metrics").text
    assert "tracelake_listener_rejects_total" in metrics


MULTILINE_CONFIG = """
[pipeline.multiline]
start = '^\\S'
timeout_s = 1.0  # well above the 0.1 s pause below, on a loaded machine too

[[pipeline.parse]]
format = "python_traceback"
"""

TRACEBACK = [
    "payment failed for order 42",
    "Traceback (most recent call last):",
    '  File "billing/charge.py", line 12, in charge',
    "    gateway.capture(card)",
    "ValueError: card declined",
]


def test_a_traceback_sent_as_syslog_lines_is_one_record(
    server_factory: type[ServerProcess], tmp_path: Path
) -> None:
    import socket
    from datetime import UTC, datetime

    config = tmp_path / "tracelake.toml"
    config.write_text(MULTILINE_CONFIG)
    server = server_factory(tmp_path / "data", extra_args=["--config", str(config)]).start()
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    frames = [f"<11>1 {stamp} web-1 billing 42 - - {line}\n".encode() for line in TRACEBACK]
    with socket.create_connection(("127.0.0.1", server.listener("syslog/tcp"))) as s:
        s.sendall(b"".join(frames[:2]))  # the event spans reads and chunks
        time.sleep(0.1)
        s.sendall(b"".join(frames[2:]))
        # no line follows the trace: the joiner's timeout ends it, the connection stays open
        row = wait_for(server, "service:billing")[0]
        s.sendall(f"<14>1 {stamp} web-1 billing 42 - - charged order 43\n".encode())
    assert row["message"] == "payment failed for order 42"  # the text before the trace
    assert row["attributes"]["error.type"] == "ValueError"
    assert "gateway.capture(card)" in row["attributes"]["stack_trace"]
    assert row["level"] == "ERROR"
    rows = wait_for(server, "service:billing", n=2)
    assert sorted(r["message"] for r in rows)[0] == "charged order 43"
    assert len(rows) == 2


def test_plain_lines_on_the_json_lines_port_join_but_json_records_do_not(
    server_factory: type[ServerProcess], tmp_path: Path
) -> None:
    import socket

    config = tmp_path / "tracelake.toml"
    config.write_text("[pipeline.multiline]\n")
    server = server_factory(tmp_path / "data", extra_args=["--config", str(config)]).start()
    body = "\n".join(
        [
            '{"service": "orders", "message": "Traceback (most recent call last):"}',
            *TRACEBACK,
            '{"service": "orders", "message": "after the trace"}',
        ]
    )
    with socket.create_connection(("127.0.0.1", server.listener("jsonlines/tcp"))) as s:
        s.sendall(body.encode() + b"\n")
    wait_for(server, '"after the trace"')
    rows = httpx.post(
        f"{server.url}/api/v1/sql", json={"sql": "SELECT message FROM logs ORDER BY message"}
    ).json()["rows"]
    assert [r[0] for r in rows] == sorted(
        ["Traceback (most recent call last):", "\n".join(TRACEBACK), "after the trace"]
    )
