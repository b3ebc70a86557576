"""``_bulk`` decoding and the bulk response, on bytes and against the real ``elasticsearch``
client: its ``helpers.bulk`` talks to a tiny local server answering with our handshake and
``bulk_response``, so the client's own response parsing decides success and failure."""

from __future__ import annotations

import gzip
import itertools
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest

from tracelake.errors import DecodeError, PayloadTooLarge
from tracelake.ingest.decoders import es_handshake
from tracelake.ingest.decoders.es_bulk import BulkRequest, bulk_response, decode_bulk
from tracelake.model import IngestResult


def _ids() -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"id{next(counter)}"


def _decode(body: bytes, **kwargs: Any) -> BulkRequest:
    kwargs.setdefault("new_id", _ids())
    return decode_bulk(body, **kwargs)


# -- decoding -------------------------------------------------------------------------


def test_index_and_create_pairs_become_log_objects() -> None:
    body = (
        b'{"index":{"_index":"app-2024.01.01","_id":"abc"}}\n'
        b'{"@timestamp":"2024-01-01T00:00:00.000Z","message":"hi","level":"info"}\n'
        b'{"create":{"_index":"logs-generic-default"}}\n'
        b'{"message":"x","service":"billing"}\n'
    )
    request = _decode(body)
    assert request.objects == [
        {
            "timestamp": "2024-01-01T00:00:00.000Z",
            "message": "hi",
            "level": "info",
            "_index": "app-2024.01.01",
            "_id": "abc",
            "service": "app-2024.01.01",
        },
        {"message": "x", "service": "billing", "_index": "logs-generic-default", "_id": "id1"},
    ]
    assert [(i.action, i.index, i.id, i.line, i.position) for i in request.items] == [
        ("index", "app-2024.01.01", "abc", 1, 0),
        ("create", "logs-generic-default", "id1", 3, 1),
    ]
    assert request.rejected == 0


def test_full_success_response_golden_bytes() -> None:
    request = _decode(
        b'{"index":{"_index":"app","_id":"abc"}}\n{"message":"a"}\n'
        b'{"create":{"_index":"logs"}}\n{"message":"b"}\n'
    )
    assert bulk_response(request, IngestResult(accepted=2), took_ms=3) == (
        b'{"took":3,"errors":false,"items":['
        b'{"index":{"_index":"app","_id":"abc","_version":1,"result":"created",'
        b'"_shards":{"total":1,"successful":1,"failed":0},"_seq_no":0,"_primary_term":1,'
        b'"status":201}},'
        b'{"create":{"_index":"logs","_id":"id1","_version":1,"result":"created",'
        b'"_shards":{"total":1,"successful":1,"failed":0},"_seq_no":1,"_primary_term":1,'
        b'"status":201}}]}'
    )
    # Fluent Bit's fallback when the response exceeds its buffer.
    assert b'"errors":false,"items":[' in bulk_response(request)


def test_bad_json_on_one_source_line_of_three_fails_only_that_item() -> None:
    body = (
        b'{"index":{"_index":"app"}}\n{"message":"one"}\n'
        b'{"index":{"_index":"app"}}\n{"message":"two",\n'
        b'{"index":{"_index":"app"}}\n{"message":"three"}\n'
    )
    request = _decode(body)
    assert [o["message"] for o in request.objects] == ["one", "three"]
    bad = request.items[1]
    assert (bad.status, bad.error_type, bad.position) == (400, "document_parsing_exception", -1)
    assert bad.reason.startswith("[4:")
    response = orjson.loads(bulk_response(request))
    assert response["errors"] is True
    assert [next(iter(i.values()))["status"] for i in response["items"]] == [201, 400, 201]
    assert response["items"][1] == {
        "index": {
            "_index": "app",
            "_id": "id2",
            "status": 400,
            "error": {"type": "document_parsing_exception", "reason": bad.reason},
        }
    }
    # Vector's trigger to walk the items.
    assert b'"errors":true' in bulk_response(request)


@pytest.mark.parametrize(
    ("source", "kind"), [(b"[1,2]", "list"), (b'"text"', "str"), (b"null", "null"), (b"3", "int")]
)
def test_source_that_is_not_an_object_is_a_per_item_400(source: bytes, kind: str) -> None:
    request = _decode(b'{"index":{"_index":"a"}}\n' + source + b'\n{"index":{"_index":"a"}}\n{}\n')
    assert request.items[0].status == 400
    assert request.items[0].reason == f"[2:1] failed to parse: expected a JSON object, got {kind}"
    assert len(request.objects) == 1


def test_delete_and_update_are_answered_not_supported_without_failing_the_batch() -> None:
    body = (
        b'{"delete":{"_index":"i","_id":"2"}}\n'
        b'{"update":{"_index":"i","_id":"1"}}\n{"doc":{"f":1},"doc_as_upsert":true}\n'
        b'{"index":{"_index":"i"}}\n{"message":"kept"}\n'
    )
    request = _decode(body)
    assert [o["message"] for o in request.objects] == ["kept"]
    response = orjson.loads(bulk_response(request))
    assert response["errors"] is True
    delete, update, index = response["items"]
    assert delete["delete"]["status"] == 400 and delete["delete"]["_id"] == "2"
    assert "append-only" in delete["delete"]["error"]["reason"]
    assert update["update"]["error"]["type"] == "illegal_argument_exception"
    assert index["index"]["status"] == 201


def test_index_from_the_url_and_action_overrides_it() -> None:
    request = _decode(
        b'{"index":{}}\n{"m":1}\n{"index":{"_index":"own"}}\n{"m":2}\n', default_index="from-url"
    )
    assert [o["_index"] for o in request.objects] == ["from-url", "own"]


def test_missing_index_is_a_per_item_validation_error() -> None:
    request = _decode(b'{"create":{}}\n{"m":1}\n{"create":{"_index":"x"}}\n{"m":2}\n')
    assert request.items[0].status == 400
    assert request.items[0].error_type == "action_request_validation_exception"
    assert [o["m"] for o in request.objects] == [2]


def test_fluent_bit_type_and_dotted_keys() -> None:
    # Fluent Bit sends "_type":"_doc" by default, keys with dots, and `log` for the line.
    body = (
        b'{"create":{"_index":"fluent-bit","_type":"_doc"}}\n'
        b'{"@timestamp":"2024-05-01T10:00:00.123Z","log":"GET / 200",'
        b'"kubernetes.pod_name":"web-1","service.name":"web","host.name":"n1"}\n'
    )
    (obj,) = _decode(body).objects
    assert obj == {
        "timestamp": "2024-05-01T10:00:00.123Z",
        "message": "GET / 200",
        "kubernetes.pod_name": "web-1",
        "service.name": "web",  # names the service: the index does not
        "host.name": "n1",
        "_index": "fluent-bit",
        "_id": "id1",
    }


def test_beats_ecs_objects_give_up_their_columns() -> None:
    doc = {
        "@timestamp": "2024-05-01T10:00:00.000Z",
        "message": "boom",
        "log": {"level": "error", "logger": "app.db", "file": {"path": "/var/log/app.log"}},
        "service": {"name": "orders", "version": "1.2"},
        "host": {"name": "web-1", "os": {"family": "debian"}},
        "trace": {"id": "4bf92f3577b34da6a3ce929d0e0e4736"},
        "span": {"id": "00f067aa0ba902b7"},
        "agent": {"type": "filebeat"},
    }
    body = b'{"create":{"_index":"filebeat-8.17.0"}}\n' + orjson.dumps(doc) + b"\n"
    (obj,) = _decode(body).objects
    assert obj == {
        "timestamp": "2024-05-01T10:00:00.000Z",
        "message": "boom",
        "log": {"file": {"path": "/var/log/app.log"}},
        "service": {"name": "orders", "version": "1.2"},  # whole: the pipeline takes .name
        "host": {"name": "web-1", "os": {"family": "debian"}},
        "agent": {"type": "filebeat"},
        "level": "error",
        "logger": "app.db",
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "span_id": "00f067aa0ba902b7",
        "_index": "filebeat-8.17.0",
        "_id": "id1",
    }


def test_index_as_service_can_be_turned_off() -> None:
    (obj,) = _decode(b'{"index":{"_index":"a"}}\n{"m":1}\n', index_as_service=False).objects
    assert "service" not in obj


def test_crlf_blank_lines_and_missing_final_newline_are_tolerated() -> None:
    request = _decode(
        b'\n{"index":{"_index":"a"}}\r\n{"m":1}\r\n\n{"index":{"_index":"a"}}\n{"m":2}'
    )
    assert [o["m"] for o in request.objects] == [1, 2]


def test_action_without_its_source_line() -> None:
    request = _decode(b'{"index":{"_index":"a"}}\n{"m":1}\n{"index":{"_index":"a"}}\n')
    assert request.items[1].status == 400
    assert "source is missing" in request.items[1].reason


def test_numeric_id_is_accepted_as_text_and_bad_id_rejected() -> None:
    request = _decode(
        b'{"index":{"_index":"a","_id":7}}\n{}\n{"index":{"_index":"a","_id":{"x":1}}}\n{}\n'
    )
    assert request.items[0].id == "7" and request.items[0].status == 0
    assert request.items[1].status == 400
    long_id = b"x" * 600
    request = _decode(b'{"index":{"_index":"a","_id":"' + long_id + b'"}}\n{}\n')
    assert "too long" in request.items[0].reason


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b'{"index":{"_index":"a"}', "invalid JSON"),
        (b'{"frobnicate":{}}', "expected one of [create, delete, index, update] but found"),
        (b'{"index":{},"create":{}}', "exactly one key"),
        (b'["index"]', "exactly one key"),
        (b'{"index":"a"}', "expected an object after [index]"),
    ],
)
def test_malformed_action_line_fails_the_request_naming_the_line(line: bytes, message: str) -> None:
    body = b'{"index":{"_index":"a"}}\n{"m":1}\n' + line + b'\n{"m":2}\n'
    with pytest.raises(DecodeError) as e:
        _decode(body)
    assert "line [3]" in e.value.message and message in e.value.message


def test_empty_body_is_rejected() -> None:
    with pytest.raises(DecodeError, match="no requests added"):
        _decode(b"\n\n")


def test_limits() -> None:
    body = (
        b'{"index":{"_index":"a"}}\n{"m":"'
        + b"x" * 100
        + b'"}\n'
        + b'{"index":{"_index":"a"}}\n{}\n'
    )
    with pytest.raises(PayloadTooLarge, match="limit of"):
        _decode(body, max_body_bytes=50)
    with pytest.raises(PayloadTooLarge, match="max_actions"):
        _decode(body, max_actions=1)
    request = _decode(body, max_doc_bytes=50)
    assert request.items[0].status == 400 and "max_doc_bytes (50)" in request.items[0].reason
    assert request.items[1].status == 0


def test_gzip_body_and_bounded_decompression() -> None:
    body = b'{"index":{"_index":"a"}}\n{"m":1}\n'
    assert _decode(gzip.compress(body), content_encoding="gzip").objects[0]["m"] == 1
    bomb = gzip.compress(b'{"index":{"_index":"a"}}\n{"m":"' + b"x" * 1_000_000 + b'"}\n')
    with pytest.raises(PayloadTooLarge):
        _decode(bomb, content_encoding="gzip", max_body_bytes=10_000)
    with pytest.raises(DecodeError):
        _decode(b"not gzip", content_encoding="gzip")
    with pytest.raises(DecodeError, match="truncated"):
        _decode(gzip.compress(body)[:-12], content_encoding="gzip")
    with pytest.raises(DecodeError, match="Content-Encoding"):
        _decode(body, content_encoding="br")


def test_store_rejections_become_item_errors() -> None:
    request = _decode(b'{"index":{"_index":"a"}}\n{"m":1}\n{"index":{"_index":"a"}}\n{"m":2}\n')
    stored = IngestResult(accepted=1)
    stored.reject(2, "timestamp 'soon' is not ISO 8601 or epoch")
    response = orjson.loads(bulk_response(request, stored, took_ms=1))
    assert response["errors"] is True
    assert response["items"][0]["index"]["status"] == 201
    assert response["items"][1]["index"] == {
        "_index": "a",
        "_id": "id2",
        "status": 400,
        "error": {
            "type": "document_parsing_exception",
            "reason": "timestamp 'soon' is not ISO 8601 or epoch",
        },
    }


# -- the real elasticsearch client ----------------------------------------------------


class _EsServer:
    """A tiny Elasticsearch stand-in built from the two pure modules.

    ``reject`` names 1-based positions (in the decoded objects) that the pretend store
    refuses; every request body as sent on the wire is kept in ``bodies``.
    """

    def __init__(self) -> None:
        self.bodies: list[tuple[str, str, dict[str, str], bytes]] = []
        self.reject: set[int] = set()
        self.stored: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?", 1)[0]
                headers = {k.lower(): v for k, v in self.headers.items()}
                server.bodies.append((self.command, self.path, headers, body))
                answer = es_handshake.respond(self.command, path)
                if answer is None and path.endswith("/_bulk"):
                    parts = [p for p in path.split("/") if p]
                    request = decode_bulk(
                        body,
                        default_index=parts[0] if len(parts) == 2 else None,
                        content_encoding=self.headers.get("Content-Encoding"),
                    )
                    stored = IngestResult()
                    for pos, obj in enumerate(request.objects, 1):
                        if pos in server.reject:
                            stored.reject(pos, "rejected by the pretend store")
                        else:
                            stored.accepted += 1
                            server.stored.append(obj)
                    answer = es_handshake.EsResponse(200, bulk_response(request, stored, took_ms=1))
                if answer is None:
                    error = es_handshake.error_body(404, "not_found", path)
                    answer = es_handshake.EsResponse(404, orjson.dumps(error))
                self.send_response(answer.status)
                for name, value in answer.headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(answer.body)

            do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def bulk_bodies(self) -> list[bytes]:
        return [b for _, p, _, b in self.bodies if p.split("?")[0].endswith("_bulk")]


@pytest.fixture
def es_server() -> Iterator[_EsServer]:
    server = _EsServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.fixture
def es_client(es_server: _EsServer) -> Iterator[Any]:
    elasticsearch = pytest.importorskip("elasticsearch")
    client = elasticsearch.Elasticsearch(es_server.url, request_timeout=5, retry_on_timeout=False)
    yield client
    client.close()


def test_client_handshake_calls(es_client: Any, es_server: _EsServer) -> None:
    from elasticsearch import NotFoundError

    assert es_client.ping() is True
    info = es_client.info()
    assert info["version"]["number"] == "8.17.0"
    assert es_client.cluster.health()["status"] == "green"
    assert es_client.license.get()["license"]["status"] == "active"
    assert bool(es_client.indices.exists(index="app")) is False
    assert es_client.indices.create(index="app")["acknowledged"] is True
    ack = es_client.indices.put_index_template(name="t", index_patterns=["app-*"])
    assert ack["acknowledged"] is True
    with pytest.raises(NotFoundError):
        es_client.ilm.get_lifecycle(name="logstash-policy")


def test_client_helpers_bulk_success(es_client: Any, es_server: _EsServer) -> None:
    from elasticsearch import helpers

    actions = [
        {"_index": "app", "_id": "a1", "message": "one", "level": "info"},
        {"_index": "app", "_op_type": "create", "message": "two", "service": "billing"},
        {"_index": "other", "message": "three", "@timestamp": "2024-01-01T00:00:00Z"},
    ]
    assert helpers.bulk(es_client, actions) == (3, [])
    (body,) = es_server.bulk_bodies()
    assert body.endswith(b"\n") and body.count(b"\n") == 6
    assert orjson.loads(body.split(b"\n")[0]) == {"index": {"_index": "app", "_id": "a1"}}
    assert [(o["_index"], o["service"], o["message"]) for o in es_server.stored] == [
        ("app", "app", "one"),
        ("app", "billing", "two"),
        ("other", "other", "three"),
    ]
    assert es_server.stored[0]["_id"] == "a1"
    assert es_server.stored[2]["timestamp"] == "2024-01-01T00:00:00Z"


def test_client_sees_per_item_failures(es_client: Any, es_server: _EsServer) -> None:
    from elasticsearch import helpers

    es_server.reject = {2}
    actions = [
        {"_index": "app", "message": "one"},
        {"_index": "app", "message": "two"},
        {"_index": "app", "_op_type": "delete", "_id": "gone"},
        {"_index": "app", "message": "four"},
    ]
    ok, errors = helpers.bulk(es_client, actions, raise_on_error=False)
    assert ok == 2 and isinstance(errors, list)
    assert [(next(iter(e)), next(iter(e.values()))["status"]) for e in errors] == [
        ("index", 400),
        ("delete", 400),
    ]
    assert errors[0]["index"]["error"]["reason"] == "rejected by the pretend store"

    with pytest.raises(helpers.BulkIndexError) as e:
        helpers.bulk(es_client, actions)
    assert len(e.value.errors) == 2


def test_client_streaming_bulk_reports_each_item(es_client: Any, es_server: _EsServer) -> None:
    from elasticsearch import helpers

    es_server.reject = {1}
    docs = ({"_index": "s", "n": n} for n in range(5))
    results = list(helpers.streaming_bulk(es_client, docs, chunk_size=2, raise_on_error=False))
    assert [ok for ok, _ in results] == [False, True, False, True, False]
    assert len(es_server.bulk_bodies()) == 3  # 2 + 2 + 1


def test_client_gzip_and_url_index(es_server: _EsServer) -> None:
    elasticsearch = pytest.importorskip("elasticsearch")
    from elasticsearch import helpers

    client = elasticsearch.Elasticsearch(es_server.url, http_compress=True, request_timeout=5)
    try:
        assert helpers.bulk(client, [{"message": "z"}], index="from-url") == (1, [])
    finally:
        client.close()
    ((method, path, headers, body),) = [b for b in es_server.bodies if "_bulk" in b[1]]
    assert (method, path.split("?")[0]) in {("PUT", "/from-url/_bulk"), ("POST", "/from-url/_bulk")}
    assert headers["content-encoding"] == "gzip" and body[:2] == b"\x1f\x8b"
    assert es_server.stored == [
        {
            "message": "z",
            "_index": "from-url",
            "_id": es_server.stored[0]["_id"],
            "service": "from-url",
        }
    ]
    assert len(es_server.stored[0]["_id"]) == 20
