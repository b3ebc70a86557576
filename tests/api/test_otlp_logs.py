"""``POST /v1/logs``: the OpenTelemetry SDK's OTLP/HTTP log exporter ships to tracelake."""

from __future__ import annotations

import logging
import time

import httpx
import pytest

from tests.conftest import ServerProcess

pytest.importorskip("opentelemetry.exporter.otlp.proto.http._log_exporter")


def test_sdk_exporter_logs_arrive_with_service_level_and_trace_ids(server: ServerProcess) -> None:
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    resource = Resource.create({"service.name": "otel-svc"})
    provider = LoggerProvider(resource=resource)
    provider.add_log_record_processor(
        SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"{server.url}/v1/logs"))
    )
    log = logging.getLogger("otel.test")
    log.addHandler(LoggingHandler(logger_provider=provider))
    log.propagate = False
    tracer = TracerProvider(resource=resource).get_tracer("t")
    with tracer.start_as_current_span("work") as span:
        log.error("exported through otlp", extra={"order": 7})
        trace_id = f"{span.get_span_context().trace_id:032x}"
    provider.shutdown()
    del trace

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = httpx.get(
            f"{server.url}/api/v1/search", params={"q": '"exported through otlp"'}
        ).json()["rows"]
        if rows:
            break
        time.sleep(0.1)
    row = rows[0]
    assert row["service"] == "otel-svc" and row["level"] == "ERROR"
    assert row["trace_id"] == trace_id and row["attributes"]["order"] == 7


def test_json_encoding_with_a_bad_record_keeps_the_good_one_and_says_partial_success(
    server: ServerProcess,
) -> None:
    body = {
        "resourceLogs": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "j"}}]
                },
                "scopeLogs": [
                    {
                        "logRecords": [
                            {"body": {"stringValue": "good json record"}, "severityNumber": 9},
                            {"body": {"stringValue": "bad"}, "traceId": "xyz"},
                        ]
                    }
                ],
            }
        ]
    }
    r = httpx.post(f"{server.url}/v1/logs", json=body)
    assert r.status_code == 200
    assert r.json()["partialSuccess"]["rejectedLogRecords"] in (1, "1")
    assert httpx.get(f"{server.url}/api/v1/search", params={"q": '"good json record"'}).json()[
        "rows"
    ]


def test_garbage_protobuf_is_a_400_and_unknown_media_type_a_415(server: ServerProcess) -> None:
    r = httpx.post(
        f"{server.url}/v1/logs",
        content=b"\xff\xff\xff",
        headers={"Content-Type": "application/x-protobuf"},
    )
    assert r.status_code == 400
    r = httpx.post(f"{server.url}/v1/logs", content=b"x", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
