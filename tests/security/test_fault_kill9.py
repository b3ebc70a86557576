"""kill -9 of the real server under sustained ingest, on every input that acknowledges:
OTLP/HTTP logs and traces, Fluentd forward with chunk acks, Elasticsearch ``_bulk`` (and
``POST /api/v1/logs``, whose own test is in tests/test_server.py). After the restart
every acknowledged record is there, and none twice."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import msgpack
import orjson
import pytest

from tests.conftest import ServerProcess
from tests.security.fault_kit import CHURN

T0_NS = time.time_ns()  # now: retention runs constantly under CHURN
BATCH = 200

#: One sender: given the server and the first seq, deliver BATCH records numbered
#: seq … seq+BATCH-1 and return True only if the server acknowledged all of them.
Sender = Callable[[ServerProcess, int], bool]


def _otlp_logs(server: ServerProcess, seq: int) -> bool:
    records = [
        {
            "timeUnixNano": str(T0_NS + i * 1000),
            "body": {"stringValue": f"line {i}"},
            "attributes": [{"key": "seq", "value": {"intValue": str(i)}}],
        }
        for i in range(seq, seq + BATCH)
    ]
    body = {
        "resourceLogs": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "fault"}}]
                },
                "scopeLogs": [{"logRecords": records}],
            }
        ]
    }
    r = httpx.post(f"{server.url}/v1/logs", json=body, timeout=10)
    return r.status_code == 200 and not r.json().get("partialSuccess")


def _otlp_traces(server: ServerProcess, seq: int) -> bool:
    spans = [
        {
            "traceId": f"{i:032x}",
            "spanId": f"{i + 1:016x}",
            "name": f"op {i}",
            "kind": 2,
            "startTimeUnixNano": str(T0_NS + i * 1000),
            "endTimeUnixNano": str(T0_NS + i * 1000 + 500),
        }
        for i in range(seq, seq + BATCH)
    ]
    body = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "fault"}}]
                },
                "scopeSpans": [{"spans": spans}],
            }
        ]
    }
    r = httpx.post(f"{server.url}/v1/traces", json=body, timeout=10)
    return r.status_code == 200 and not r.json().get("partialSuccess")


def _bulk(server: ServerProcess, seq: int) -> bool:
    lines = []
    for i in range(seq, seq + BATCH):
        lines.append(b'{"index":{"_index":"fault"}}')
        lines.append(orjson.dumps({"message": f"line {i}", "seq": i}))
    r = httpx.post(
        f"{server.url}/es/_bulk",
        content=b"\n".join(lines) + b"\n",
        headers={"content-type": "application/x-ndjson"},
        timeout=10,
    )
    return r.status_code == 200 and r.json()["errors"] is False


class _Forward:
    """One forward connection; each batch is a Forward-mode message with a chunk id."""

    def __init__(self) -> None:
        self.sock: socket.socket | None = None
        self.unpacker = msgpack.Unpacker(raw=False)

    def __call__(self, server: ServerProcess, seq: int) -> bool:
        if self.sock is None:
            self.sock = socket.create_connection(
                ("127.0.0.1", server.listener("forward/tcp")), timeout=10
            )
        chunk = f"chunk-{seq}"
        entries = [
            [T0_NS // 10**9, {"message": f"line {i}", "seq": i}] for i in range(seq, seq + BATCH)
        ]
        self.sock.sendall(msgpack.packb(["fault", entries, {"chunk": chunk}]))
        while True:
            data = self.sock.recv(4096)
            if not data:
                raise ConnectionError("server closed the connection")
            self.unpacker.feed(data)
            for reply in self.unpacker:
                if isinstance(reply, dict) and reply.get("ack") == chunk:
                    return True


def _seqs(server: ServerProcess, table: str) -> list[int]:
    column = (
        "CAST(substr(name, 4) AS BIGINT)"
        if table == "spans"
        else "CAST(json_extract_string(attributes, '$.seq') AS BIGINT)"
    )
    r = httpx.post(
        f"{server.url}/api/v1/sql",
        json={"sql": f"SELECT {column} FROM {table} WHERE service = 'fault'"},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    return [row[0] for row in r.json()["rows"]]


@pytest.mark.parametrize(
    ("sender", "table"),
    [
        pytest.param(_otlp_logs, "logs", id="otlp-logs"),
        pytest.param(_otlp_traces, "spans", id="otlp-traces"),
        pytest.param(_bulk, "logs", id="es-bulk"),
        pytest.param(_Forward, "logs", id="forward-acks"),
    ],
)
def test_kill_9_under_ingest_loses_no_acknowledged_record_and_stores_none_twice(
    sender: Sender | type[_Forward],
    table: str,
    server_factory: type[ServerProcess],
    tmp_path: Path,
) -> None:
    send: Sender = sender() if isinstance(sender, type) else sender
    data = tmp_path / "data"
    server = server_factory(data, env=CHURN).start()
    acked: list[int] = []
    stop = threading.Event()

    def run() -> None:
        seq = 0
        while not stop.is_set():
            try:
                ok = send(server, seq)
            except (httpx.TransportError, OSError):
                return  # the server is gone
            if ok:
                acked.extend(range(seq, seq + BATCH))
            seq += BATCH

    sender_thread = threading.Thread(target=run)
    sender_thread.start()
    time.sleep(3)
    server.kill()
    stop.set()
    sender_thread.join(30)
    assert len(acked) >= 10 * BATCH, "the test should have ingested a fair amount before the kill"

    restarted = server_factory(data, env=CHURN).start()
    seqs = _seqs(restarted, table)
    assert len(seqs) == len(set(seqs)), "a record was stored twice"
    missing = set(acked) - set(seqs)
    assert not missing, f"{len(missing)} acknowledged records lost, e.g. {sorted(missing)[:5]}"
