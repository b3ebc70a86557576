"""OTLP/HTTP logs: protobuf from the OpenTelemetry SDK's own encoder and exporter, the
spec's JSON example, partial success, and bad input."""

from __future__ import annotations

import base64
import gzip
import logging
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)

from tracelake.errors import DecodeError, PayloadTooLarge
from tracelake.ingest.decoders.otlp_common import JSON, PROTOBUF, error_response, media_type
from tracelake.ingest.decoders.otlp_logs import decode_logs, export_response
from tracelake.model import RecordError

TRACE_HEX = "5b8efff798038103d269b633813fc60c"
SPAN_HEX = "eee19b7ec3c1b174"

#: ``examples/logs.json`` of open-telemetry/opentelemetry-proto.
SPEC_EXAMPLE: dict[str, Any] = {
    "resourceLogs": [
        {
            "resource": {
                "attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}]
            },
            "scopeLogs": [
                {
                    "scope": {
                        "name": "my.library",
                        "version": "1.0.0",
                        "attributes": [
                            {
                                "key": "my.scope.attribute",
                                "value": {"stringValue": "some scope attribute"},
                            }
                        ],
                    },
                    "logRecords": [
                        {
                            "timeUnixNano": "1544712660300000000",
                            "observedTimeUnixNano": "1544712660300000000",
                            "severityNumber": 10,
                            "severityText": "Information",
                            "traceId": "5B8EFFF798038103D269B633813FC60C",
                            "spanId": "EEE19B7EC3C1B174",
                            "body": {"stringValue": "Example log record"},
                            "attributes": [
                                {
                                    "key": "string.attribute",
                                    "value": {"stringValue": "some string"},
                                },
                                {"key": "boolean.attribute", "value": {"boolValue": True}},
                                {"key": "int.attribute", "value": {"intValue": "10"}},
                                {"key": "double.attribute", "value": {"doubleValue": 637.704}},
                                {
                                    "key": "array.attribute",
                                    "value": {
                                        "arrayValue": {
                                            "values": [
                                                {"stringValue": "many"},
                                                {"stringValue": "values"},
                                            ]
                                        }
                                    },
                                },
                                {
                                    "key": "map.attribute",
                                    "value": {
                                        "kvlistValue": {
                                            "values": [
                                                {
                                                    "key": "some.map.key",
                                                    "value": {"stringValue": "some value"},
                                                }
                                            ]
                                        }
                                    },
                                },
                            ],
                        }
                    ],
                }
            ],
        }
    ]
}

SPEC_OBJECT = {
    "string.attribute": "some string",
    "boolean.attribute": True,
    "int.attribute": 10,
    "double.attribute": 637.704,
    "array.attribute": ["many", "values"],
    "map.attribute": {"some.map.key": "some value"},
    "timestamp": 1544712660300000000,
    "level": "INFO",
    "severity_text": "Information",
    "message": "Example log record",
    "trace_id": TRACE_HEX,
    "span_id": SPAN_HEX,
    "resource": {"service.name": "my.service"},
    "service": "my.service",
    "logger": "my.library",
    "scope_version": "1.0.0",
    "scope_attributes": {"my.scope.attribute": "some scope attribute"},
}


def _json_request(*records: Any, resource: dict[str, Any] | None = None) -> bytes:
    return orjson.dumps(
        {
            "resourceLogs": [
                {
                    "resource": resource or {},
                    "scopeLogs": [{"scope": {"name": "s"}, "logRecords": list(records)}],
                }
            ]
        }
    )


def _to_otlp_json(request: ExportLogsServiceRequest) -> bytes:
    """protobuf's JSON mapping, then OTLP's deviations: hex ids, integer enums."""
    data = json_format.MessageToDict(request, use_integers_for_enums=True)
    for resource_logs in data.get("resourceLogs", []):
        for scope_logs in resource_logs.get("scopeLogs", []):
            for record in scope_logs.get("logRecords", []):
                for key in ("traceId", "spanId"):
                    if key in record:
                        record[key] = base64.b64decode(record[key]).hex()
    return orjson.dumps(data)


# -- the spec's JSON example, and JSON ≡ protobuf ------------------------------------------


def test_spec_json_example() -> None:
    objects, errors = decode_logs(orjson.dumps(SPEC_EXAMPLE), JSON)
    assert errors == []
    assert objects == [SPEC_OBJECT]


def test_same_request_as_protobuf_and_as_json_gives_the_same_objects() -> None:
    # protobuf's JSON mapping reads ids as base64: re-encode the example's hex ids so.
    request = ExportLogsServiceRequest()
    example = orjson.loads(orjson.dumps(SPEC_EXAMPLE))
    record = example["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
    record["traceId"] = base64.b64encode(bytes.fromhex(record["traceId"])).decode()
    record["spanId"] = base64.b64encode(bytes.fromhex(record["spanId"])).decode()
    record["body"] = {"kvlistValue": {"values": [{"key": "k", "value": {"bytesValue": "AAE="}}]}}
    json_format.ParseDict(example, request)
    from_proto, errors = decode_logs(request.SerializeToString(), PROTOBUF)
    assert errors == []
    from_json, errors = decode_logs(_to_otlp_json(request), "application/json; charset=utf-8")
    assert errors == []
    assert from_proto == from_json
    assert from_proto[0]["message"] == '{"k":"AAE="}'
    assert from_proto[0]["trace_id"] == TRACE_HEX


# -- real clients ----------------------------------------------------------------------------


def _sdk_records(emit: Any) -> list[Any]:
    """Run ``emit(logger_provider)`` against an SDK provider; the ReadableLogRecords."""
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
    from opentelemetry.sdk.resources import Resource

    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider(
        resource=Resource.create({"service.name": "checkout", "host.name": "web-1"})
    )
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    emit(provider)
    provider.shutdown()
    return list(exporter.get_finished_logs())


@pytest.mark.filterwarnings("ignore:`LoggingHandler` in `opentelemetry-sdk` is deprecated")
def test_sdk_encoder_stdlib_logging_inside_a_span() -> None:
    encoder = pytest.importorskip("opentelemetry.exporter.otlp.proto.common._log_encoder")
    from opentelemetry.sdk._logs import LoggingHandler
    from opentelemetry.sdk.trace import TracerProvider

    tracer = TracerProvider().get_tracer("t")
    ids: list[tuple[str, str]] = []

    def emit(provider: Any) -> None:
        log = logging.getLogger("shop.orders")
        log.propagate = False
        handler = LoggingHandler(level=logging.DEBUG, logger_provider=provider)
        log.addHandler(handler)
        log.setLevel(logging.DEBUG)
        try:
            with tracer.start_as_current_span("place") as span:
                ctx = span.get_span_context()
                ids.append((f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}"))
                log.warning("stock low for %s", "sku-1", extra={"sku": "sku-1", "qty": 3})
            log.error("no span here")
        finally:
            log.removeHandler(handler)

    body = encoder.encode_logs(_sdk_records(emit)).SerializeToString()
    objects, errors = decode_logs(body, PROTOBUF)
    assert errors == []
    first, second = objects
    assert (first["trace_id"], first["span_id"]) == ids[0]
    assert first["trace_flags"] & 1  # sampled
    assert first["message"] == "stock low for sku-1"
    assert (first["level"], first["service"], first["host"]) == ("WARN", "checkout", "web-1")
    assert first["logger"] == "shop.orders"
    assert (first["sku"], first["qty"]) == ("sku-1", 3)
    assert first["code.function.name"] == "emit"
    assert "severity_text" not in first  # "WARN" says nothing the level does not
    assert first["resource"]["service.name"] == "checkout"
    assert isinstance(first["timestamp"], int) and first["timestamp"] > 1_600_000_000 * 10**9
    assert second["level"] == "ERROR"
    assert "trace_id" not in second and "span_id" not in second


def test_sdk_encoder_api_emit_all_value_kinds() -> None:
    encoder = pytest.importorskip("opentelemetry.exporter.otlp.proto.common._log_encoder")
    from opentelemetry._logs import SeverityNumber

    def emit(provider: Any) -> None:
        logger = provider.get_logger("payments", "2.1")
        logger.emit(
            timestamp=1_700_000_000_000_000_001,
            severity_number=SeverityNumber.FATAL2,
            severity_text="CRITICAL",
            body={"order": 7, "tags": ["a", "b"], "ok": False},
            attributes={"raw": b"\x00\x01", "ratio": 0.5, "ids": [1, 2], "message": "clash"},
            event_name="payment.failed",
        )
        logger.emit(observed_timestamp=42, body=12)
        logger.emit(timestamp=5, body=b"\xff")

    body = encoder.encode_logs(_sdk_records(emit)).SerializeToString()
    objects, errors = decode_logs(body, PROTOBUF)
    assert errors == []
    first, second, third = objects
    assert first == {
        "raw": "AAE=",
        "ratio": 0.5,
        "ids": [1, 2],
        "attributes.message": "clash",
        "timestamp": 1_700_000_000_000_000_001,
        "level": "FATAL",
        "severity_text": "CRITICAL",
        "message": '{"order":7,"tags":["a","b"],"ok":false}',
        "event_name": "payment.failed",
        "resource": first["resource"],
        "service": "checkout",
        "host": "web-1",
        "logger": "payments",
        "scope_version": "2.1",
    }
    assert (second["timestamp"], second["message"]) == (42, "12")  # observed when time is 0
    assert "level" not in second
    assert third["message"] == "/w=="


class _Collector:
    """A tiny OTLP/HTTP receiver that answers with ``export_response``."""

    def __init__(self, reject_first: int = 0) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.objects: list[dict[str, Any]] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                collector.requests.append((headers, body))
                content_type = headers.get("content-type")
                objects, errors = decode_logs(
                    body, content_type, content_encoding=headers.get("content-encoding")
                )
                errors += [RecordError(i + 1, "refused by test") for i in range(reject_first)]
                collector.objects += objects[reject_first:]
                answer = export_response(errors, as_json=media_type(content_type) == JSON)
                self.send_response(200)
                self.send_header("Content-Type", str(media_type(content_type)))
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1/logs"


@pytest.fixture
def collector() -> Iterator[_Collector]:
    server = _Collector()
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.mark.parametrize("compression", ["none", "gzip", "deflate"])
def test_otlp_http_exporter_end_to_end(collector: _Collector, compression: str) -> None:
    http = pytest.importorskip("opentelemetry.exporter.otlp.proto.http")
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.sdk._logs.export import LogRecordExportResult

    exporter = OTLPLogExporter(
        endpoint=collector.endpoint, compression=http.Compression(compression), timeout=5
    )

    def emit(provider: Any) -> None:
        provider.get_logger("svc").emit(
            timestamp=1_700_000_000_000_000_000, body="over the wire", attributes={"n": 1}
        )

    records = _sdk_records(emit)
    assert exporter.export(records) == LogRecordExportResult.SUCCESS
    exporter.shutdown()
    ((headers, _),) = collector.requests
    assert headers["content-type"] == "application/x-protobuf"
    assert headers["user-agent"].startswith("OTel-OTLP-Exporter-Python/")
    if compression != "none":
        assert headers["content-encoding"] == compression
    assert collector.objects == [
        {
            "n": 1,
            "timestamp": 1_700_000_000_000_000_000,
            "message": "over the wire",
            "resource": collector.objects[0]["resource"],
            "service": "checkout",
            "host": "web-1",
            "logger": "svc",
        }
    ]


# -- partial success and responses --------------------------------------------------------------


def test_invalid_records_are_rejected_with_reasons_and_the_rest_kept() -> None:
    good = {"timeUnixNano": "1", "body": {"stringValue": "good"}}
    body = _json_request(
        good,
        {"traceId": "abcd", "body": {"stringValue": "short id"}},
        {"traceId": base64.b64encode(bytes(range(1, 17))).decode()},
        {"spanId": "zzzzzzzzzzzzzzzz"},
        {"severityNumber": 99},
        {"timeUnixNano": "soon"},
        {"timeUnixNano": "-1"},
        {"attributes": [{"key": "n", "value": {"intValue": str(2**64)}}]},
        {"attributes": [{"key": "n", "value": {"stringValue": 5}}]},
        {"attributes": [{"key": "n", "value": {"fooValue": 5}}]},
        {"attributes": [{"value": {"stringValue": "no key"}}]},
        {"body": "plain string"},
        "not an object",
        {**good, "body": {"stringValue": "good too"}},
    )
    objects, errors = decode_logs(body, JSON)
    assert [o["message"] for o in objects] == ["good", "good too"]
    where = "resourceLogs[0].scopeLogs[0].logRecords"
    assert [(e.line, e.error) for e in errors] == [
        (
            2,
            f"{where}[1]: traceId must be 32 hex digits (OTLP/JSON ids are hex, not base64), "
            "got 'abcd'",
        ),
        (
            3,
            f"{where}[2]: traceId must be 32 hex digits (OTLP/JSON ids are hex, not base64), "
            "got 'AQIDBAUGBwgJCgsMDQ4PEA=='",
        ),
        (4, f"{where}[3]: spanId 'zzzzzzzzzzzzzzzz' is not hex"),
        (5, f"{where}[4]: severityNumber 99 is outside 0-24"),
        (6, f"{where}[5]: timeUnixNano must be an integer or a decimal string, got 'soon'"),
        (7, f"{where}[6]: timeUnixNano -1 is out of range"),
        (8, f"{where}[7]: 'n': intValue 18446744073709551616 is out of range"),
        (9, f"{where}[8]: 'n': stringValue must be a string"),
        (10, f"{where}[9]: 'n': unknown AnyValue field 'fooValue'"),
        (11, f"{where}[10]: log attributes must be objects with a string key"),
        (12, f"{where}[11]: 'body' must be an AnyValue object, got str"),
        (13, f"{where}[12]: must be an object, got str"),
    ]


def test_protobuf_ids_of_the_wrong_length_are_rejected() -> None:
    request = ExportLogsServiceRequest()
    records = request.resource_logs.add().scope_logs.add().log_records
    records.add(trace_id=b"\x01" * 15)
    records.add(span_id=b"\x01" * 9)
    records.add(trace_id=b"\x00" * 16, span_id=b"\x00" * 8, severity_number=5)
    objects, errors = decode_logs(request.SerializeToString(), PROTOBUF)
    assert objects == [{"level": "DEBUG"}]  # all-zero ids are absent ids
    assert [e.error.split(": ", 1)[1] for e in errors] == [
        "traceId must be 16 bytes, got 15",
        "spanId must be 8 bytes, got 9",
    ]


def test_export_response_protobuf() -> None:
    assert export_response([], as_json=False) == b""
    rejected = [RecordError(2, "a: bad"), RecordError(5, "b: worse")]
    raw = export_response(rejected, as_json=False)
    response = ExportLogsServiceResponse.FromString(raw)
    assert response.partial_success.rejected_log_records == 2
    assert response.partial_success.error_message == "2 log record(s) rejected: a: bad; b: worse"
    assert raw == b"\n.\x08\x02\x12*2 log record(s) rejected: a: bad; b: worse"


def test_export_response_json() -> None:
    assert export_response([], as_json=True) == b"{}"
    many = [RecordError(i, f"r{i}") for i in range(1, 8)]
    assert export_response(many, as_json=True) == (
        b'{"partialSuccess":{"rejectedLogRecords":"7","errorMessage":'
        b'"7 log record(s) rejected: r1; r2; r3; r4; r5; and 2 more"}}'
    )


def test_error_response_is_a_google_rpc_status() -> None:
    assert error_response("bad body", as_json=True) == b'{"code":3,"message":"bad body"}'
    raw = error_response("bad body", as_json=False)
    assert raw == b"\x08\x03\x12\x08bad body"
    status_pb2 = pytest.importorskip("google.rpc.status_pb2")
    status = status_pb2.Status.FromString(error_response("é" * 100, as_json=False, code=8))
    assert (status.code, status.message) == (8, "é" * 100)


# -- mapping details ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "level"),
    [
        *[(1, "TRACE"), (4, "TRACE"), (5, "DEBUG"), (9, "INFO"), (12, "INFO"), (13, "WARN")],
        *[(16, "WARN"), (17, "ERROR"), (20, "ERROR"), (21, "FATAL"), (24, "FATAL")],
    ],
)
def test_severity_number_ranges(number: int, level: str) -> None:
    (obj,), _ = decode_logs(_json_request({"severityNumber": number}), JSON)
    assert obj["level"] == level


def test_severity_text_alone_and_enum_names() -> None:
    (obj,), _ = decode_logs(_json_request({"severityText": "notice"}), JSON)
    assert obj["level"] == "notice" and "severity_text" not in obj
    (obj,), _ = decode_logs(_json_request({"severityNumber": "SEVERITY_NUMBER_WARN3"}), JSON)
    assert obj["level"] == "WARN"
    (obj,), _ = decode_logs(_json_request({"severityNumber": "14"}), JSON)
    assert obj["level"] == "WARN"


def test_timestamps_and_injected_clock() -> None:
    body = _json_request(
        {"timeUnixNano": 0, "observedTimeUnixNano": "0"}, {"observedTimeUnixNano": 7}
    )
    first, second = decode_logs(body, JSON)[0]
    assert "timestamp" not in first and second["timestamp"] == 7
    first, _ = decode_logs(body, JSON, now=lambda: 123)[0]
    assert first["timestamp"] == 123


def test_any_value_json_variants() -> None:
    attrs = [
        {"key": "nan", "value": {"doubleValue": "NaN"}},
        {"key": "inf", "value": {"doubleValue": "-Infinity"}},
        {"key": "int", "value": {"doubleValue": 3}},
        {"key": "bytes", "value": {"bytesValue": "aGk="}},
        {"key": "empty", "value": {}},
        {"key": "unset"},
        {
            "key": "nested",
            "value": {"kvlistValue": {"values": [{"key": "a", "value": {"arrayValue": {}}}]}},
        },
        {"key": "snake", "value": {"string_value": "ok"}},
    ]
    (obj,), errors = decode_logs(_json_request({"attributes": attrs}), JSON)
    assert errors == []
    assert obj["nan"] != obj["nan"] and obj["inf"] == float("-inf") and obj["int"] == 3.0
    assert (obj["bytes"], obj["empty"], obj["unset"]) == ("aGk=", None, None)
    assert obj["nested"] == {"a": []} and obj["snake"] == "ok"
    _, errors = decode_logs(
        _json_request({"attributes": [{"key": "b", "value": {"bytesValue": "!"}}]}), JSON
    )
    assert errors[0].error.endswith("'b': bytesValue is not base64")


def test_snake_case_keys_are_accepted() -> None:
    body = orjson.dumps(
        {
            "resource_logs": [
                {
                    "scope_logs": [
                        {
                            "log_records": [
                                {"time_unix_nano": "9", "severity_number": 9, "trace_id": TRACE_HEX}
                            ]
                        }
                    ]
                }
            ]
        }
    )
    (obj,), _ = decode_logs(body, JSON)
    assert (obj["timestamp"], obj["level"], obj["trace_id"]) == (9, "INFO", TRACE_HEX)


def test_empty_requests_are_success() -> None:
    assert decode_logs(b"{}", JSON) == ([], [])
    assert decode_logs(b"", PROTOBUF) == ([], [])
    assert decode_logs(b'{"resourceLogs":[{"scopeLogs":[{"logRecords":[]}]}]}', JSON) == ([], [])


# -- bad input and limits ---------------------------------------------------------------------


def test_truncated_protobuf_fails_the_request() -> None:
    request = ExportLogsServiceRequest()
    request.resource_logs.add().scope_logs.add().log_records.add(
        time_unix_nano=1, body={"string_value": "hello world"}
    )
    data = request.SerializeToString()
    for cut in (1, 5, len(data) - 1):
        with pytest.raises(DecodeError, match="not a valid ExportLogsServiceRequest"):
            decode_logs(data[:cut], PROTOBUF)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{", "not valid JSON"),
        (b"[]", "must be a JSON ExportLogsServiceRequest object"),
        (b'{"resourceLogs":{}}', "resourceLogs must be an array, got dict"),
        (b'{"resourceLogs":[1]}', "resourceLogs[0] must be an object, got int"),
        (b'{"resourceLogs":[{"scopeLogs":"x"}]}', "resourceLogs[0].scopeLogs must be an array"),
        (b'{"resourceLogs":[{"scopeLogs":[{"logRecords":{}}]}]}', "scopeLogs[0].logRecords must"),
        (b'{"resourceLogs":[{"resource":[]}]}', "resourceLogs[0].resource must be an object"),
    ],
)
def test_json_structure_errors_name_the_path(body: bytes, message: str) -> None:
    with pytest.raises(DecodeError) as e:
        decode_logs(body, JSON)
    assert message in e.value.message


def test_content_type_and_encoding() -> None:
    assert media_type("application/x-protobuf") == PROTOBUF
    assert media_type("application/json; charset=utf-8") == JSON
    assert media_type("text/plain") is None and media_type(None) is None
    with pytest.raises(DecodeError, match="unsupported Content-Type 'text/plain'"):
        decode_logs(b"{}", "text/plain")
    body = orjson.dumps(SPEC_EXAMPLE)
    assert decode_logs(gzip.compress(body), JSON, content_encoding="gzip")[0] == [SPEC_OBJECT]
    assert decode_logs(zlib.compress(body), JSON, content_encoding="deflate")[0] == [SPEC_OBJECT]
    with pytest.raises(DecodeError, match="not valid gzip"):
        decode_logs(b"nope", JSON, content_encoding="gzip")


def test_limits() -> None:
    body = orjson.dumps(SPEC_EXAMPLE)
    with pytest.raises(PayloadTooLarge, match="limit of"):
        decode_logs(body, JSON, max_body_bytes=100)
    with pytest.raises(PayloadTooLarge, match="limit of"):
        decode_logs(
            gzip.compress(b" " * 10_000 + body), JSON, content_encoding="gzip", max_body_bytes=5000
        )
    with pytest.raises(PayloadTooLarge, match="more than 2 log records"):
        decode_logs(_json_request({}, {}, {}), JSON, max_records=2)
    objects, errors = decode_logs(body, JSON, max_attributes=5)
    assert objects == []
    assert errors[0].error.endswith("6 log attributes, over max_attributes (5)")
    objects, errors = decode_logs(body, JSON, max_value_depth=0)
    assert errors[0].error.endswith("'array.attribute' is nested deeper than max_value_depth (0)")
    deep: dict[str, Any] = {"stringValue": "x"}
    for _ in range(40):
        deep = {"arrayValue": {"values": [deep]}}
    request = ExportLogsServiceRequest()
    json_format.ParseDict(
        {"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": deep}, {}]}]}]}, request
    )
    objects, errors = decode_logs(request.SerializeToString(), PROTOBUF, max_value_depth=16)
    assert len(objects) == 1 and "max_value_depth (16)" in errors[0].error


def test_bad_resource_rejects_every_record_under_it() -> None:
    resource = {"attributes": [{"key": f"k{i}", "value": {"intValue": i}} for i in range(3)]}
    body = _json_request({}, {}, resource=resource)
    objects, errors = decode_logs(body, JSON, max_attributes=2)
    assert objects == []
    assert [(e.line, e.error) for e in errors] == [
        (1, "resourceLogs[0]: 3 resource attributes, over max_attributes (2)"),
        (2, "resourceLogs[0]: 3 resource attributes, over max_attributes (2)"),
    ]


def test_timestamp_past_int64_nanoseconds_is_rejected() -> None:
    request = ExportLogsServiceRequest()
    records = request.resource_logs.add().scope_logs.add().log_records
    records.add(time_unix_nano=2**64 - 1)
    records.add(time_unix_nano=2**63 - 1)
    objects, errors = decode_logs(request.SerializeToString(), PROTOBUF)
    assert objects == [{"timestamp": 2**63 - 1}]
    assert "over int64 nanoseconds" in errors[0].error
