"""The OTLP traces decoder: what the OpenTelemetry SDK sends becomes rows; bad spans are named."""

from __future__ import annotations

import gzip
from typing import Any

import orjson
import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from tracelake.errors import DecodeError
from tracelake.ingest.decoders.otlp_traces import decode_traces, export_response
from tracelake.ingest.decoders.span_rows import SpanRows
from tracelake.model import RecordError

PB = "application/x-protobuf"
TRACE = "5b8efff798038103d269b633813fc60c"


def sdk_spans() -> list[ReadableSpan]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "checkout"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("shop.lib", "2.1")
    with (
        tracer.start_as_current_span(
            "GET /cart", kind=SpanKind.SERVER, attributes={"http.status_code": 200}
        ),
        tracer.start_as_current_span(
            "charge", kind=SpanKind.CLIENT, attributes={"peer.service": "payments"}
        ) as span,
    ):
        span.add_event("retry", {"attempt": 2})
        span.set_status(Status(StatusCode.ERROR, "card declined"))
    return list(exporter.get_finished_spans())


def row(rows: SpanRows, i: int) -> dict[str, Any]:
    from dataclasses import fields

    return {f.name: getattr(rows, f.name)[i] for f in fields(rows)}


def test_sdk_protobuf_spans_become_rows_with_ids_tree_kind_status_and_attributes() -> None:
    spans = sdk_spans()
    rows, errors = decode_traces(encode_spans(spans).SerializeToString(), PB)
    assert errors == [] and len(rows) == 2
    child, parent = row(rows, 0), row(rows, 1)
    assert child["trace_id"] == parent["trace_id"] == f"{spans[0].context.trace_id:032x}"
    assert child["parent_id"] == parent["span_id"] and parent["parent_id"] is None
    assert (child["kind"], parent["kind"]) == ("CLIENT", "SERVER")
    assert child["service"] == "checkout" and child["name"] == "charge"
    assert child["status"] == "error" and child["status_message"] == "card declined"
    assert parent["status"] == "unset" and child["remote_service"] == "payments"
    assert orjson.loads(parent["attributes"]) == {"http.status_code": 200}
    event = orjson.loads(child["events"])[0]
    assert event["name"] == "retry" and event["attributes"] == {"attempt": 2}
    assert orjson.loads(child["details"]) == {"scope": "shop.lib", "scope_version": "2.1"}
    assert orjson.loads(child["resource"])["service.name"] == "checkout"
    span = spans[0]
    assert child["timestamp"] == span.start_time // 1000
    assert child["duration_us"] == (span.end_time - span.start_time) // 1000


def json_request(*spans: dict[str, Any]) -> bytes:
    return orjson.dumps(
        {
            "resourceSpans": [
                {
                    "resource": {
                        "attributes": [{"key": "service.name", "value": {"stringValue": "web"}}]
                    },
                    "scopeSpans": [{"scope": {"name": "lib"}, "spans": list(spans)}],
                }
            ]
        }
    )


def good_json_span(**overrides: Any) -> dict[str, Any]:
    span = {
        "traceId": TRACE.upper(),
        "spanId": "EEE19B7EC3C1B174",
        "parentSpanId": "EEE19B7EC3C1B173",
        "name": "I'm a server span",
        "kind": 2,
        "startTimeUnixNano": "1544712660000000000",
        "endTimeUnixNano": "1544712661000000000",
        "attributes": [{"key": "n", "value": {"intValue": "42"}}],
        "status": {"code": 2, "message": "bad"},
    }
    span.update(overrides)
    return span


def test_json_takes_hex_ids_integer_enums_and_int64_as_strings() -> None:
    rows, errors = decode_traces(json_request(good_json_span()), "application/json")
    assert errors == []
    r = row(rows, 0)
    assert r["trace_id"] == TRACE and r["span_id"] == "eee19b7ec3c1b174"
    assert r["parent_id"] == "eee19b7ec3c1b173" and r["kind"] == "SERVER"
    assert r["timestamp"] == 1544712660000000 and r["duration_us"] == 1_000_000
    assert r["status"] == "error" and orjson.loads(r["attributes"]) == {"n": 42}


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"traceId": ""}, "traceId is missing"),
        ({"spanId": "abcd"}, "spanId must be 16 hex digits"),
        ({"traceId": "00" * 16}, "traceId is all zeros"),
        ({"endTimeUnixNano": "1544712659000000000"}, "negative duration"),
        ({"kind": 9}, "kind 9 is not a SpanKind"),
    ],
)
def test_a_bad_span_is_rejected_with_its_reason_and_the_good_ones_are_kept(
    override: dict[str, Any], reason: str
) -> None:
    body = json_request(good_json_span(spanId="1111111111111111"), good_json_span(**override))
    rows, errors = decode_traces(body, "application/json")
    assert rows.span_id == ["1111111111111111"]
    assert len(errors) == 1 and errors[0].line == 2
    assert "resourceSpans[0].scopeSpans[0].spans[1]" in errors[0].error
    assert reason in errors[0].error


def test_protobuf_span_with_a_short_span_id_is_rejected_and_its_sibling_kept() -> None:
    request = encode_spans(sdk_spans())
    request.resource_spans[0].scope_spans[0].spans[0].span_id = b"\x01\x02"
    rows, errors = decode_traces(request.SerializeToString(), PB)
    assert len(rows) == 1 and "spanId must be 8 bytes, got 2" in errors[0].error


def test_garbage_protobuf_is_a_decode_error_that_says_so() -> None:
    with pytest.raises(DecodeError, match="not a valid ExportTraceServiceRequest"):
        decode_traces(b"\xff\xff\xff garbage", PB)


def test_gzip_bodies_are_inflated() -> None:
    body = gzip.compress(encode_spans(sdk_spans()).SerializeToString())
    rows, _ = decode_traces(body, PB, content_encoding="gzip")
    assert len(rows) == 2


def test_unknown_content_type_is_refused() -> None:
    with pytest.raises(DecodeError, match="unsupported Content-Type"):
        decode_traces(b"{}", "text/plain")


def test_export_response_reports_partial_success_in_both_encodings() -> None:
    rejected = [RecordError(2, "spans[1]: traceId is missing")]
    response = ExportTraceServiceResponse.FromString(export_response(rejected, as_json=False))
    assert response.partial_success.rejected_spans == 1
    assert "traceId is missing" in response.partial_success.error_message
    body = orjson.loads(export_response(rejected, as_json=True))
    assert body["partialSuccess"]["rejectedSpans"] == "1"
    assert export_response([], as_json=True) == b"{}" and export_response([], as_json=False) == b""
