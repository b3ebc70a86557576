"""Retries never duplicate: where a protocol names a record, the real server stores a
record a client sends again once — after a lost answer, and after ``kill -9``."""

from __future__ import annotations

import gzip
import socket
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import msgpack
import orjson
import pytest

from tests.conftest import ServerProcess

es = pytest.importorskip("elasticsearch")
helpers = pytest.importorskip("elasticsearch.helpers")


def sql(server: ServerProcess, statement: str) -> list[list[object]]:
    r = httpx.post(f"{server.url}/api/v1/sql", json={"sql": statement}, timeout=60)
    assert r.status_code == 200, r.text
    rows: list[list[object]] = r.json()["rows"]
    return rows


def count(server: ServerProcess, where: str, table: str = "logs") -> int:
    (row,) = sql(server, f"SELECT count(*) FROM {table} WHERE {where}")
    return int(str(row[0]))


def eventually(cond: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def bulk_body(index: str, ids: list[str], action: str = "index") -> bytes:
    lines = []
    for i, doc_id in enumerate(ids):
        lines.append(orjson.dumps({action: {"_index": index, "_id": doc_id}}))
        lines.append(orjson.dumps({"message": f"doc {doc_id}", "n": i}))
    return b"\n".join(lines) + b"\n"


def send_and_hang_up(port: int, request: bytes) -> None:
    """Send a whole HTTP request and close without reading the answer: a lost answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)


def http_post(path: str, port: int, body: bytes, content_type: str) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body


def test_the_elasticsearch_clients_resent_bulk_is_stored_once_and_answered_updated(
    server: ServerProcess,
) -> None:
    """``helpers.bulk`` and ``client.bulk`` sending the same documents (with ``_id``) again:
    each document is stored once, the repeat answers 200 ``updated`` without errors, and
    a document without ``_id`` is stored every time, as before."""
    client = es.Elasticsearch(f"{server.url}/es", request_timeout=30)
    docs = [
        {"_index": "orders", "_id": f"order-{i}", "_source": {"message": f"order {i}"}}
        for i in range(20)
    ]
    assert helpers.bulk(client, docs) == (20, [])
    assert helpers.bulk(client, docs) == (20, [])  # a shipper's retry
    reply = client.bulk(
        operations=[
            {"index": {"_index": "orders", "_id": "order-3"}},
            {"message": "order 3"},
            {"index": {"_index": "orders"}},
            {"message": "no id"},
        ]
    )
    assert reply["errors"] is False
    first, second = (item["index"] for item in reply["items"])
    assert (first["status"], first["result"], first["_id"]) == (200, "updated", "order-3")
    assert (second["status"], second["result"]) == (201, "created")
    client.bulk(operations=[{"index": {"_index": "orders"}}, {"message": "no id"}])
    assert count(server, "service = 'orders' AND _id IS NOT NULL") == 20
    assert count(server, "message = 'order 3'") == 1
    assert count(server, "message = 'no id'") == 2
    assert sql(server, "SELECT _id FROM logs WHERE message = 'order 7'") == [["order-7"]]


def test_create_of_a_known_id_is_a_409_per_item_and_the_second_of_two_creates_too(
    server: ServerProcess,
) -> None:
    """``create`` answers 409 ``version_conflict_engine_exception`` for an id the lake
    holds, and for the second ``create`` of one id in a request; the rest are stored."""
    client = es.Elasticsearch(f"{server.url}/es", request_timeout=30)
    reply = client.bulk(
        operations=[
            {"create": {"_index": "pay", "_id": "p-1"}},
            {"message": "first"},
            {"create": {"_index": "pay", "_id": "p-1"}},
            {"message": "second"},
            {"create": {"_index": "pay", "_id": "p-2"}},
            {"message": "other"},
        ]
    )
    assert reply["errors"] is True
    statuses = [item["create"]["status"] for item in reply["items"]]
    assert statuses == [201, 409, 201]
    assert reply["items"][1]["create"]["error"]["type"] == "version_conflict_engine_exception"
    again = client.bulk(
        operations=[{"create": {"_index": "pay", "_id": "p-2"}}, {"message": "other"}]
    )
    assert again["errors"] is True and again["items"][0]["create"]["status"] == 409
    ok, errors = helpers.bulk(
        client,
        [{"_op_type": "create", "_index": "pay", "_id": "p-1", "_source": {"message": "x"}}],
        raise_on_error=False,
    )
    assert ok == 0 and errors[0]["create"]["status"] == 409
    assert sql(server, "SELECT message FROM logs WHERE service = 'pay' ORDER BY message") == [
        ["first"],
        ["other"],
    ]


def test_a_bulk_whose_answer_was_lost_is_stored_once_when_sent_again(
    server: ServerProcess,
) -> None:
    """The client sends a bulk and drops the connection before reading the answer, then
    sends it again (as a shipper does after a timeout): every document is there once."""
    ids = [f"lost-{i}" for i in range(50)]
    body = bulk_body("lost", ids)
    send_and_hang_up(server.port, http_post("/es/_bulk", server.port, body, "application/json"))
    eventually(lambda: count(server, "service = 'lost'") == 50)
    r = httpx.post(
        f"{server.url}/es/_bulk", content=body, headers={"content-type": "application/json"}
    )
    reply = r.json()
    assert r.status_code == 200 and reply["errors"] is False
    assert {item["index"]["result"] for item in reply["items"]} == {"updated"}
    assert count(server, "service = 'lost'") == 50


def test_bulk_loki_and_events_sent_again_after_kill_9_are_stored_once(
    server_factory: type[ServerProcess], tmp_path: Path
) -> None:
    """Records made durable (WAL) whose answer never came, then ``kill -9``: after the
    restart the index of ids is rebuilt from the WAL replay and the lake, so the clients'
    re-sends store nothing twice — named bulk documents, Loki entries, keyed events."""
    data = tmp_path / "data"
    server = server_factory(data).start()
    # some ids in the lake already: a clean stop flushes them into segments
    flushed = bulk_body("crash", [f"old-{i}" for i in range(10)])
    assert httpx.post(f"{server.url}/es/_bulk", content=flushed).status_code == 200
    server.stop()
    assert list((data / "lake" / "logs").rglob("*.parquet"))
    server = server_factory(data).start()
    bulk = bulk_body("crash", [f"new-{i}" for i in range(10)])
    now_ns = time.time_ns()
    push = orjson.dumps(
        {
            "streams": [
                {
                    "stream": {"app": "lokiapp", "env": "prod"},
                    "values": [[str(now_ns + i), f"line {i}"] for i in range(5)],
                }
            ]
        }
    )
    events = orjson.dumps(
        [{"type": "order_paid", "key": f"o-{i}", "payload": {"n": i}} for i in range(4)]
    )
    port = server.port
    send_and_hang_up(port, http_post("/es/_bulk", port, bulk, "application/json"))
    send_and_hang_up(port, http_post("/loki/api/v1/push", port, push, "application/json"))
    send_and_hang_up(port, http_post("/api/v1/events", port, events, "application/json"))
    eventually(
        lambda: (
            count(server, "service = 'crash'") == 20
            and count(server, "service = 'lokiapp'") == 5
            and count(server, "type = 'order_paid'", "events") == 4
        )
    )
    server.kill()
    server = server_factory(data).start()
    assert count(server, "service = 'crash'") == 20  # replayed from the WAL
    for body in (flushed, bulk):
        reply = httpx.post(f"{server.url}/es/_bulk", content=body).json()
        assert {item["index"]["result"] for item in reply["items"]} == {"updated"}
    r = httpx.post(
        f"{server.url}/loki/api/v1/push",
        content=gzip.compress(push),
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    assert r.status_code == 204, r.text
    r = httpx.post(f"{server.url}/api/v1/events", content=events)
    assert r.status_code == 200, r.text
    assert count(server, "service = 'crash'") == 20
    assert count(server, "service = 'lokiapp'") == 5
    assert count(server, "type = 'order_paid'", "events") == 4
    # and once more after a clean restart, when everything is in the lake
    server.stop()
    server = server_factory(data).start()
    httpx.post(f"{server.url}/es/_bulk", content=bulk)
    assert count(server, "service = 'crash'") == 20


def test_a_loki_push_sent_twice_stores_each_entry_once(server: ServerProcess) -> None:
    """Loki's rule: an entry with the same stream labels, timestamp and line as a stored
    one is ignored; another line at the same time, or other labels, is a new entry."""
    now_ns = time.time_ns()
    push = {
        "streams": [
            {"stream": {"app": "twice"}, "values": [[str(now_ns), "a"], [str(now_ns), "b"]]},
            {"stream": {"app": "twice", "pod": "2"}, "values": [[str(now_ns), "a"]]},
        ]
    }
    for _ in range(2):
        r = httpx.post(f"{server.url}/loki/api/v1/push", json=push)
        assert r.status_code == 204, r.text
    assert count(server, "service = 'twice'") == 3


def test_a_forward_chunk_sent_again_after_a_lost_ack_is_stored_once(
    server: ServerProcess,
) -> None:
    """Fluentd forward: a PackedForward with a ``chunk`` option whose ack never arrived
    (the client hung up) is sent again with the same chunk id: stored once, acked again;
    a new chunk id with the same records is a new batch."""
    port = server.listener("forward/tcp")
    now = int(time.time())
    entries = b"".join(msgpack.packb([now, {"message": f"fwd {i}"}]) for i in range(3))

    def message(chunk: str) -> bytes:
        return msgpack.packb(["fwd.app", entries, {"chunk": chunk, "size": 3}])

    chunk = uuid.uuid4().hex
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(message(chunk))  # and gone before the ack
    eventually(lambda: count(server, "message LIKE 'fwd %'") == 3)
    for sent in (chunk, chunk, uuid.uuid4().hex):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(message(sent))
            unpacker = msgpack.Unpacker()
            while True:
                unpacker.feed(sock.recv(4096))
                acks = list(unpacker)
                if acks:
                    break
            assert acks == [{"ack": sent}]
    assert count(server, "message LIKE 'fwd %'") == 6
    assert count(server, "message = 'fwd 0' AND _id LIKE 'forward:%'") == 2


def test_an_event_posted_again_with_its_key_and_type_is_stored_once(
    server: ServerProcess,
) -> None:
    """An event with a ``key`` re-posted with the same key and type is stored once; the
    same key under another type, and events without a key, are stored each time."""
    events = [
        {"type": "invoice_sent", "key": "inv-1", "payload": {"total": 3}},
        {"type": "invoice_paid", "key": "inv-1", "payload": {"total": 3}},
        {"type": "invoice_sent", "payload": {"note": "no key"}},
    ]
    for _ in range(2):
        r = httpx.post(f"{server.url}/api/v1/events", content=orjson.dumps(events))
        assert r.status_code == 200 and r.json()["accepted"] == 3
    assert count(server, "key = 'inv-1'", "events") == 2
    assert count(server, "key IS NULL", "events") == 2


def test_the_same_bulk_sent_on_many_connections_at_once_is_stored_once(
    server: ServerProcess,
) -> None:
    """Eight clients send one bulk of named documents at the same moment: one of them
    stores each document, the others are answered ``updated``."""
    body = bulk_body("race", [f"r-{i}" for i in range(200)])
    results: list[str] = []
    start = threading.Barrier(8)

    def send() -> None:
        start.wait()
        reply = httpx.post(f"{server.url}/es/_bulk", content=body, timeout=60).json()
        results.extend(item["index"]["result"] for item in reply["items"])

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("created") == 200 and results.count("updated") == 7 * 200
    assert count(server, "service = 'race'") == 200
