"""The Zipkin v2 decoder: JSON and proto3 lists of spans become rows, by Zipkin's rules."""

from __future__ import annotations

import gzip
from dataclasses import fields
from typing import Any

import orjson
import pytest

from tracelake.errors import DecodeError
from tracelake.ingest.decoders.span_rows import SpanRows
from tracelake.ingest.decoders.zipkin import ListOfSpans, decode_spans

EXAMPLE = {
    "traceId": "5af7183fb1d4cf5f",
    "parentId": "6b221d5bc9e6496c",
    "id": "352bff9a74ca9ad2",
    "kind": "SERVER",
    "name": "GET /api",
    "timestamp": 1556604172355737,
    "duration": 1431,
    "localEndpoint": {"serviceName": "Backend", "ipv4": "192.168.99.1", "port": 3306},
    "remoteEndpoint": {"serviceName": "Frontend", "ipv4": "172.19.0.2", "port": 58648},
    "annotations": [{"timestamp": 1556604172355800, "value": "wr"}],
    "tags": {"http.method": "GET", "http.path": "/api"},
    "debug": True,
    "shared": True,
}


def row(rows: SpanRows, i: int = 0) -> dict[str, Any]:
    return {f.name: getattr(rows, f.name)[i] for f in fields(rows)}


def test_json_v2_span_becomes_a_row_with_padded_trace_id_and_lower_cased_names() -> None:
    rows, errors = decode_spans(orjson.dumps([EXAMPLE]), "application/json")
    assert errors == []
    r = row(rows)
    assert r["trace_id"] == "0000000000000000" + "5af7183fb1d4cf5f"
    assert (r["span_id"], r["parent_id"]) == ("352bff9a74ca9ad2", "6b221d5bc9e6496c")
    assert (r["service"], r["name"], r["remote_service"]) == ("backend", "get /api", "frontend")
    assert (r["kind"], r["timestamp"], r["duration_us"]) == ("SERVER", 1556604172355737, 1431)
    assert orjson.loads(r["attributes"]) == {"http.method": "GET", "http.path": "/api"}
    assert orjson.loads(r["events"]) == [{"timestamp": 1556604172355800, "name": "wr"}]
    assert orjson.loads(r["details"]) == {
        "local": {"ipv4": "192.168.99.1", "port": 3306},
        "remote": {"ipv4": "172.19.0.2", "port": 58648},
        "shared": True,
        "debug": True,
    }
    assert r["status"] == "unset"


def test_error_tag_marks_the_span_as_an_error_with_its_message() -> None:
    span = {**EXAMPLE, "tags": {"error": "timeout"}}
    r = row(decode_spans(orjson.dumps([span]), "application/json")[0])
    assert (r["status"], r["status_message"]) == ("error", "timeout")


def test_proto3_list_of_spans_decodes_like_json() -> None:
    message = ListOfSpans()
    s = message.spans.add()  # type: ignore[attr-defined]
    s.trace_id = bytes.fromhex("5af7183fb1d4cf5f")
    s.parent_id = bytes.fromhex("6b221d5bc9e6496c")
    s.id = bytes.fromhex("352bff9a74ca9ad2")
    s.kind, s.name, s.timestamp, s.duration = 2, "GET /api", 1556604172355737, 1431
    s.local_endpoint.service_name = "Backend"
    s.local_endpoint.ipv4 = bytes([192, 168, 99, 1])
    s.local_endpoint.port = 3306
    s.remote_endpoint.service_name = "Frontend"
    s.remote_endpoint.ipv4 = bytes([172, 19, 0, 2])
    s.remote_endpoint.port = 58648
    a = s.annotations.add()
    a.timestamp, a.value = 1556604172355800, "wr"
    s.tags["http.method"], s.tags["http.path"] = "GET", "/api"
    s.debug = s.shared = True
    from_proto = row(decode_spans(message.SerializeToString(), "application/x-protobuf")[0])
    from_json = row(decode_spans(orjson.dumps([EXAMPLE]), "application/json")[0])
    assert {k: v for k, v in from_proto.items() if k != "attributes"} == {
        k: v for k, v in from_json.items() if k != "attributes"
    }
    assert orjson.loads(from_proto["attributes"]) == orjson.loads(from_json["attributes"])


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"id": None}, "id is missing"),
        ({"traceId": "a" * 33}, "traceId 'aaaa"),
        ({"id": "1" * 17}, "must be 1 to 16 hex digits"),
        ({"id": "xyz"}, "must be 1 to 16 hex digits"),
        ({"duration": -5}, "negative duration -5"),
        ({"tags": {"k": None}}, "tag 'k' is null"),
        ({"annotations": [{"value": "no time"}]}, "annotation needs an integer timestamp"),
        ({"kind": "SIDEWAYS"}, "kind 'SIDEWAYS'"),
    ],
)
def test_a_bad_span_is_rejected_with_its_reason_and_the_good_ones_are_kept(
    change: dict[str, Any], reason: str
) -> None:
    bad = {k: v for k, v in {**EXAMPLE, **change}.items() if v is not None}
    rows, errors = decode_spans(orjson.dumps([EXAMPLE, bad]), "application/json")
    assert len(rows) == 1
    assert len(errors) == 1 and errors[0].line == 2 and errors[0].error.startswith("spans[1]: ")
    assert reason in errors[0].error


def test_proto3_span_with_a_wrong_id_length_is_rejected() -> None:
    message = ListOfSpans()
    s = message.spans.add()  # type: ignore[attr-defined]
    s.trace_id, s.id = bytes(range(1, 9)), b"\x01\x02\x03"
    rows, errors = decode_spans(message.SerializeToString(), "application/x-protobuf")
    assert len(rows) == 0 and "id must be 8 bytes, got 3" in errors[0].error


def test_bodies_that_cannot_be_read_at_all_are_decode_errors() -> None:
    with pytest.raises(DecodeError, match=r"not a valid zipkin2\.proto3 ListOfSpans"):
        decode_spans(b"\xff\xff\xff\xff", "application/x-protobuf")
    with pytest.raises(DecodeError, match="JSON array"):
        decode_spans(b'{"traceId": "1"}', "application/json")
    with pytest.raises(DecodeError, match="JSON_V1"):
        decode_spans(b'[{"traceId":"1","id":"1","binaryAnnotations":[]}]', "application/json")


def test_gzip_and_empty_lists_are_fine_as_the_reporter_health_check_sends_them() -> None:
    rows, errors = decode_spans(gzip.compress(b"[]"), "application/json", content_encoding="gzip")
    assert len(rows) == 0 and errors == []
    rows, _ = decode_spans(gzip.compress(orjson.dumps([EXAMPLE])), None, content_encoding="gzip")
    assert len(rows) == 1


def test_a_span_without_timestamp_takes_its_first_annotation_time() -> None:
    span = {k: v for k, v in EXAMPLE.items() if k not in ("timestamp", "duration")}
    r = row(decode_spans(orjson.dumps([span]), "application/json")[0])
    assert r["timestamp"] == 1556604172355800 and r["duration_us"] is None
