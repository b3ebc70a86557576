"""OTLP/HTTP traces in, and the native trace views out, against the real server process."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from tests.conftest import ServerProcess

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(Path(tmp_path_factory.mktemp("traces")) / "data").start()
    yield server
    server.stop()


def wait_for(fetch: Any, ok: Any, timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = fetch()
        if ok(value):
            return value
        time.sleep(0.1)
    raise AssertionError(f"not there in time: {value!r:.500}")


def zipkin_trace(server: ServerProcess, trace_id: str, count: int) -> list[dict[str, Any]]:
    def fetch() -> list[dict[str, Any]]:
        r = httpx.get(f"{server.url}/api/v2/trace/{trace_id}")
        return r.json() if r.status_code == 200 else []

    return wait_for(fetch, lambda spans: len(spans) >= count)  # type: ignore[no-any-return]


def test_sdk_otlp_protobuf_spans_read_back_through_the_zipkin_api(lake: ServerProcess) -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.trace import SpanKind, Status, StatusCode

    provider = TracerProvider(resource=Resource.create({"service.name": "Billing"}))
    provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{lake.url}/v1/traces"))
    )
    tracer = provider.get_tracer("billing.api", "3.0")
    with (
        tracer.start_as_current_span(
            "POST /invoices",
            kind=SpanKind.SERVER,
            attributes={"http.method": "POST", "retry": True},
        ) as root,
        tracer.start_as_current_span(
            "charge card", kind=SpanKind.CLIENT, attributes={"peer.service": "Stripe"}
        ) as call,
    ):
        call.add_event("declined", {"code": 51})
        call.set_status(Status(StatusCode.ERROR, "card declined"))
    provider.shutdown()
    trace_id = f"{root.get_span_context().trace_id:032x}"
    spans = {s["name"]: s for s in zipkin_trace(lake, trace_id, 2)}
    top, charge = spans["post /invoices"], spans["charge card"]
    assert top["id"] == f"{root.get_span_context().span_id:016x}" and "parentId" not in top
    assert charge["parentId"] == top["id"] and charge["kind"] == "CLIENT"
    assert top["localEndpoint"] == {"serviceName": "billing"}
    assert charge["remoteEndpoint"] == {"serviceName": "stripe"}
    assert top["tags"]["http.method"] == "POST" and top["tags"]["retry"] == "true"
    assert top["tags"]["otel.scope.name"] == "billing.api"
    assert (
        charge["tags"]["error"] == "card declined" and charge["tags"]["otel.status_code"] == "ERROR"
    )
    assert charge["annotations"][0]["value"] == '{"declined":{"code":51}}'
    assert top["duration"] >= charge["duration"] > 0


def json_body(*spans: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "json-svc"}}]
                },
                "scopeSpans": [{"spans": list(spans)}],
            }
        ]
    }


def json_span(trace_id: str, span_id: str, **more: Any) -> dict[str, Any]:
    start = time.time_ns()
    return {
        "traceId": trace_id,
        "spanId": span_id,
        "name": "op",
        "kind": 2,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + 2_000_000),
        **more,
    }


def test_json_with_bad_spans_keeps_the_good_ones_and_answers_partial_success(
    lake: ServerProcess,
) -> None:
    trace_id = "ab" * 16
    body = json_body(
        json_span(trace_id, "01" * 8),
        json_span(trace_id, ""),  # missing id
        json_span(trace_id, "02" * 4),  # wrong length
        json_span(trace_id, "03" * 8, endTimeUnixNano="1"),  # ends before it starts
    )
    r = httpx.post(f"{lake.url}/v1/traces", json=body)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    partial = r.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "3"
    assert "spanId is missing" in partial["errorMessage"]
    assert "spanId must be 16 hex digits" in partial["errorMessage"]
    assert "negative duration" in partial["errorMessage"]
    assert [s["id"] for s in zipkin_trace(lake, trace_id, 1)] == ["01" * 8]


def test_protobuf_partial_success_is_a_protobuf_response(lake: ServerProcess) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add()
    good, bad = spans.spans.add(), spans.spans.add()
    for s in (good, bad):
        s.trace_id, s.span_id, s.name = bytes(range(16)), bytes(range(1, 9)), "pb"
        s.start_time_unix_nano = time.time_ns()
        s.end_time_unix_nano = s.start_time_unix_nano + 1000
    bad.trace_id = b"\x01" * 8
    r = httpx.post(
        f"{lake.url}/v1/traces",
        content=request.SerializeToString(),
        headers={"content-type": "application/x-protobuf"},
    )
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-protobuf"
    response = ExportTraceServiceResponse.FromString(r.content)
    assert response.partial_success.rejected_spans == 1
    assert "traceId must be 16 bytes, got 8" in response.partial_success.error_message


def test_garbage_protobuf_is_a_400_with_a_status_and_unknown_media_a_415(
    lake: ServerProcess,
) -> None:
    r = httpx.post(
        f"{lake.url}/v1/traces",
        content=b"\xff\xff\xff\xff garbage",
        headers={"content-type": "application/x-protobuf"},
    )
    assert r.status_code == 400 and b"not a valid ExportTraceServiceRequest" in r.content
    r = httpx.post(f"{lake.url}/v1/traces", content=b"x", headers={"content-type": "text/plain"})
    assert r.status_code == 415


def test_zipkin_answers_lower_case_names_and_keep_case_answers_them_as_the_spans_carry_them(
    lake: ServerProcess,
) -> None:
    """Zipkin clients get Zipkin's lower-cased names; ``keepCase=true`` (what the UI asks
    for) gets ``POST /charge`` as RED and the Metrics page show it."""
    trace = "ce" * 16
    body = json_body(
        json_span(trace, "0c" * 8, name="POST /charge", kind=3,
                  attributes=[{"key": "peer.service", "value": {"stringValue": "Payments"}}]),
    )  # fmt: skip
    body["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"] = "Orders"
    assert httpx.post(f"{lake.url}/v1/traces", json=body).status_code == 200
    (plain,) = zipkin_trace(lake, trace, 1)
    assert plain["name"] == "post /charge"
    assert plain["localEndpoint"]["serviceName"] == "orders"
    assert plain["remoteEndpoint"]["serviceName"] == "payments"
    api = f"{lake.url}/api/v2"
    (kept,) = httpx.get(f"{api}/trace/{trace}", params={"keepCase": "true"}).json()
    assert kept["name"] == "POST /charge"
    assert kept["localEndpoint"]["serviceName"] == "Orders"
    assert kept["remoteEndpoint"]["serviceName"] == "Payments"
    found = httpx.get(
        f"{api}/traces",
        params={"serviceName": "orders", "spanName": "POST /charge", "keepCase": "true"},
    ).json()
    assert [[s["name"] for s in t] for t in found] == [["POST /charge"]]
    names = {"serviceName": "orders", "keepCase": "true"}
    assert httpx.get(f"{api}/spans", params=names).json() == ["POST /charge"]
    assert httpx.get(f"{api}/spans", params={"serviceName": "orders"}).json() == ["post /charge"]
    assert "Orders" in httpx.get(f"{api}/services", params={"keepCase": "true"}).json()
    assert "orders" in httpx.get(f"{api}/services").json()


def test_red_figures_per_service_and_operation(lake: ServerProcess) -> None:
    trace = "cd" * 16
    spans = [
        json_span(trace, f"{i + 1:016x}", name="GET /red", kind=2, endTimeUnixNano=None)
        for i in range(10)
    ]
    base = time.time_ns()
    for i, s in enumerate(spans):
        s["startTimeUnixNano"] = str(base)
        s["endTimeUnixNano"] = str(base + (i + 1) * 1_000_000)  # 1..10 ms
        s["status"] = {"code": 2} if i < 2 else {}
    body = json_body(*spans)
    body["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"] = "red-svc"
    assert httpx.post(f"{lake.url}/v1/traces", json=body).status_code == 200

    answers: list[dict[str, Any]] = []

    def fetch() -> list[dict[str, Any]]:
        r = httpx.get(f"{lake.url}/api/v1/traces/red", params={"service": "red-svc", "from": "-5m"})
        answers.append(r.json())
        return r.json()["rows"]  # type: ignore[no-any-return]

    rows = wait_for(fetch, lambda rows: rows and rows[0]["requests"] == 10)
    total, op = rows
    covered = answers[-1]["covered"]["seconds"]  # from the first span to now, at least 1 s
    assert total["operation"] is None and op["operation"] == "GET /red"
    assert op["requests"] == 10 and op["errors"] == 2 and op["error_ratio"] == pytest.approx(0.2)
    assert op["rate_per_s"] == pytest.approx(10 / covered)  # per second of the time with spans
    assert op["latency_ms"]["p50"] == pytest.approx(5.5, abs=0.01)
    assert 9 <= op["latency_ms"]["p95"] <= op["latency_ms"]["p99"] <= 10
    r = httpx.get(f"{lake.url}/api/v1/traces/red", params={"kind": "nope"})
    assert r.status_code == 400


def test_logs_of_a_trace_join_by_trace_id_with_64_bit_ids_padded(lake: ServerProcess) -> None:
    short = "0af7651916cd43dd"
    lines = [
        {"message": "first of trace", "trace_id": short, "service": "join", "level": "INFO"},
        {"message": "second of trace", "traceId": "0" * 16 + short, "service": "join"},
        {"message": "another trace", "trace_id": "1" * 32, "service": "join"},
    ]
    body = b"\n".join(orjson.dumps(line) for line in lines)
    assert httpx.post(f"{lake.url}/api/v1/logs", content=body).status_code in (200, 202)

    def fetch() -> dict[str, Any]:
        return httpx.get(f"{lake.url}/api/v1/traces/{short}/logs").json()  # type: ignore[no-any-return]

    result = wait_for(fetch, lambda r: len(r["rows"]) == 2)
    assert [row["message"] for row in result["rows"]] == ["first of trace", "second of trace"]
    search = httpx.get(
        f"{lake.url}/api/v1/search", params={"q": f"trace_id:{'0' * 16 + short}"}
    ).json()
    assert result["columns"] == search["columns"]
    assert set(result["rows"][0]) == set(search["rows"][0])


def test_overload_is_a_503_with_retry_after(
    server_factory: type[ServerProcess], tmp_path: Path
) -> None:
    server = server_factory(
        tmp_path / "busy", env={"TRACELAKE_INGEST_MAX_PENDING_BYTES": "1"}
    ).start()
    r = httpx.post(f"{server.url}/v1/traces", json=json_body(json_span("ef" * 16, "01" * 8)))
    assert r.status_code == 503 and r.headers["retry-after"]
