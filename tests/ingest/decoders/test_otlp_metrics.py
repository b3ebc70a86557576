"""The OTLP metrics decoder: SDK counters, gauges, histograms become Prometheus-style series."""

from __future__ import annotations

import gzip
import math
import struct
from typing import Any

import orjson
import pytest
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.metrics import Observation
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource

from tracelake.errors import DecodeError, PayloadTooLarge
from tracelake.ingest.decoders.otlp_metrics import (
    decode_metrics,
    export_response,
    format_float,
    label_name,
    metric_name,
)
from tracelake.ingest.decoders.sample_rows import SampleRows

PB = "application/x-protobuf"
JSON = "application/json"
T_NS = 1_767_225_600_000_000_000


def samples(rows: SampleRows) -> dict[tuple[str, str], float]:
    """``{(name, labels JSON): value}`` of decoded rows."""
    return {
        (name, labels.decode()): value
        for name, labels, value in zip(rows.name, rows.labels, rows.value, strict=True)
    }


def sdk_export(temporality: AggregationTemporality = AggregationTemporality.CUMULATIVE) -> bytes:
    """What OTLPMetricExporter would send: a counter, an up-down counter, a gauge, a histogram."""
    reader = InMemoryMetricReader(
        preferred_temporality={Counter: temporality, Histogram: temporality}
    )
    provider = MeterProvider(
        resource=Resource.create(
            {
                "service.name": "checkout",
                "service.instance.id": "c-1",
                "deployment.environment": "prod",
            }
        ),
        metric_readers=[reader],
        views=[
            View(
                instrument_name="*duration*",
                aggregation=ExplicitBucketHistogramAggregation((0.1, 0.5, 1.0)),
            )
        ],
    )
    meter = provider.get_meter("shop", "1.2")
    meter.create_counter("http.server.requests", unit="{request}").add(3, {"http.method": "GET"})
    meter.create_up_down_counter("queue.depth").add(-2, {"queue": "q1"})
    meter.create_observable_gauge(
        "cpu.utilization", callbacks=[lambda _: [Observation(0.25, {"cpu": 0})]], unit="1"
    )
    duration = meter.create_histogram("http.server.duration", unit="s")
    for value in (0.05, 0.3, 0.3, 2.0):
        duration.record(value, {"route": "/cart"})
    data = reader.get_metrics_data()
    assert data is not None
    return encode_metrics(data).SerializeToString()


def test_sdk_instruments_become_counters_gauges_and_histogram_series() -> None:
    rows, errors = decode_metrics(sdk_export(), PB)
    assert errors == []
    got = samples(rows)
    job = '"instance":"c-1","job":"checkout"'
    assert got[("http_server_requests_total", f'{{"http_method":"GET",{job}}}')] == 3.0
    assert got[("queue_depth", f'{{{job},"queue":"q1"}}')] == -2.0
    assert got[("cpu_utilization_ratio", f'{{"cpu":"0",{job}}}')] == 0.25
    route = f'{job},"route":"/cart"'
    buckets = {
        orjson.loads(labels)["le"]: value
        for (name, labels), value in got.items()
        if name == "http_server_duration_seconds_bucket"
    }
    assert buckets == {"0.1": 1.0, "0.5": 3.0, "1": 3.0, "+Inf": 4.0}
    assert got[("http_server_duration_seconds_count", f"{{{route}}}")] == 4.0
    assert got[("http_server_duration_seconds_sum", f"{{{route}}}")] == pytest.approx(2.65)
    info = [labels for (name, labels) in got if name == "target_info"]
    assert len(info) == 1 and '"deployment_environment":"prod"' in info[0]
    assert set(rows.service) == {"checkout"}


def test_delta_counters_and_histograms_are_rejected_per_point_with_the_fix() -> None:
    rows, errors = decode_metrics(sdk_export(AggregationTemporality.DELTA), PB)
    assert {n for n in rows.name} >= {"queue_depth", "cpu_utilization_ratio"}
    assert len(errors) == 2
    assert all("delta temporality is not supported" in e.error for e in errors)
    assert "http.server.requests" in errors[0].error or "http_server" in errors[0].error


def point(**fields: Any) -> dict[str, Any]:
    return {
        "timeUnixNano": str(T_NS),
        "attributes": [{"key": "k", "value": {"stringValue": "v"}}],
        **fields,
    }


def json_request(*metrics: dict[str, Any], resource: dict[str, Any] | None = None) -> bytes:
    return orjson.dumps(
        {
            "resourceMetrics": [
                {
                    "resource": resource
                    or {"attributes": [{"key": "service.name", "value": {"stringValue": "web"}}]},
                    "scopeMetrics": [{"scope": {"name": "s"}, "metrics": list(metrics)}],
                }
            ]
        }
    )


def test_json_gauges_sums_summaries_nan_and_no_recorded_value() -> None:
    body = json_request(
        {"name": "temp", "unit": "Cel", "gauge": {"dataPoints": [point(asDouble=21.5)]}},
        {"name": "bad.value", "gauge": {"dataPoints": [point(asDouble="NaN")]}},
        {"name": "jobs", "sum": {"aggregationTemporality": 2, "isMonotonic": True,
                                 "dataPoints": [point(asInt="7")]}},
        {"name": "gone", "gauge": {"dataPoints": [point(asDouble=1.0, flags=1)]}},
        {"name": "rpc.latency", "unit": "ms", "summary": {"dataPoints": [point(
            count="4", sum=10.0, quantileValues=[{"quantile": 0.5, "value": 2.0},
                                                 {"quantile": 0.99, "value": 5.5}])]}},
    )  # fmt: skip
    rows, errors = decode_metrics(body, JSON)
    assert errors == []
    got = samples(rows)
    labels = '{"job":"web","k":"v"}'
    assert got[("temp_celsius", labels)] == 21.5
    assert math.isnan(got[("bad_value", labels)])
    assert got[("jobs_total", labels)] == 7.0
    stale = got[("gone", labels)]
    assert struct.pack("<d", stale) == struct.pack("<Q", 0x7FF0000000000002)
    assert got[("rpc_latency_milliseconds", '{"job":"web","k":"v","quantile":"0.99"}')] == 5.5
    assert got[("rpc_latency_milliseconds_count", labels)] == 4.0
    assert got[("rpc_latency_milliseconds_sum", labels)] == 10.0
    assert set(rows.timestamp) == {T_NS // 1000}


def test_bad_points_are_rejected_with_where_and_why_and_the_rest_kept() -> None:
    body = json_request(
        {"name": "ok", "gauge": {"dataPoints": [point(asDouble=1.0)]}},
        {"name": "no.time", "gauge": {"dataPoints": [{"asDouble": 1.0}]}},
        {"name": "exp", "exponentialHistogram": {"dataPoints": [point(), point()]}},
        {"name": "h", "histogram": {"aggregationTemporality": 2, "dataPoints": [
            point(count="3", bucketCounts=["1", "2"], explicitBounds=[1.0, 2.0])]}},
        {"name": "wide", "gauge": {"dataPoints": [point(asDouble=1.0, attributes=[
            {"key": f"a{i}", "value": {"intValue": str(i)}} for i in range(80)])]}},
    )  # fmt: skip
    rows, errors = decode_metrics(body, JSON)
    assert rows.name == ["ok"]
    assert [e.line for e in errors] == [2, 3, 4, 5, 6]
    assert "timeUnixNano is missing" in errors[0].error
    assert "exponential histograms are not supported" in errors[1].error
    assert "one more count than bounds" in errors[3].error
    assert "over max_series_labels" in errors[4].error
    response = ExportMetricsServiceResponse.FromString(export_response(errors, as_json=False))
    assert response.partial_success.rejected_data_points == 5
    assert response.partial_success.error_message.startswith("5 data point(s) rejected")
    as_json = orjson.loads(export_response(errors, as_json=True))
    assert as_json["partialSuccess"]["rejectedDataPoints"] == "5"


@pytest.mark.parametrize(
    ("body", "content_type", "error"),
    [
        (b"\xff\xfe garbage", PB, "not a valid ExportMetricsServiceRequest"),
        (b"{nope", JSON, "not valid JSON"),
        (b"[1, 2]", JSON, "must be a JSON ExportMetricsServiceRequest object"),
        (b"{}", "text/plain", "unsupported Content-Type"),
    ],
)
def test_undecodable_bodies_are_decode_errors(body: bytes, content_type: str, error: str) -> None:
    with pytest.raises(DecodeError, match=error):
        decode_metrics(body, content_type)


def test_gzip_bodies_are_inflated_within_the_limit() -> None:
    body = gzip.compress(sdk_export())
    rows, _ = decode_metrics(body, PB, content_encoding="gzip")
    assert len(rows) > 0
    with pytest.raises(PayloadTooLarge):
        decode_metrics(body, PB, content_encoding="gzip", max_body_bytes=100)


@pytest.mark.parametrize(
    ("name", "unit", "counter", "gauge", "expected"),
    [
        ("http.server.duration", "s", False, False, "http_server_duration_seconds"),
        ("process.memory", "By", False, True, "process_memory_bytes"),
        ("requests.total", "1", True, True, "requests_total"),
        ("io", "By/s", False, True, "io_bytes_per_second"),
        ("utilization", "1", False, True, "utilization_ratio"),
        ("queue_seconds", "s", False, True, "queue_seconds"),
        ("2xx.count", "{call}", True, True, "_2xx_count_total"),
    ],
)
def test_names_follow_prometheus_otlp_translation(
    name: str, unit: str, counter: bool, gauge: bool, expected: str
) -> None:
    assert metric_name(name, unit, counter=counter, gauge=gauge) == expected


def test_label_names_and_bucket_bounds_are_written_as_prometheus_writes_them() -> None:
    assert label_name("http.method") == "http_method"
    assert label_name("1st") == "key_1st"
    assert [format_float(x) for x in (0.005, 10.0, 1e-05, math.inf, 2.5e22)] == [
        "0.005", "10", "0.00001", "+Inf", "25000000000000000000000",
    ]  # fmt: skip
