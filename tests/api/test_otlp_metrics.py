"""OTLP/HTTP metrics from the real OpenTelemetry SDK exporter into the lake's metrics table."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)

from tests.conftest import ServerProcess

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(Path(tmp_path_factory.mktemp("otlpm")) / "data").start()
    yield server
    server.stop()


def series(server: ServerProcess, name_like: str) -> dict[tuple[str, str], float]:
    r = httpx.post(
        f"{server.url}/api/v1/sql",
        json={
            "sql": "SELECT name, labels, value FROM metrics WHERE name LIKE ? ORDER BY timestamp",
            "params": [name_like],
        },
    )
    assert r.status_code == 200, r.text
    return {(name, labels): value for name, labels, value in r.json()["rows"]}


def test_the_sdk_exporter_sends_counters_gauges_and_histograms(lake: ServerProcess) -> None:
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.metrics import Observation
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource

    exporter = OTLPMetricExporter(endpoint=f"{lake.url}/v1/metrics")
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=60_000)
    provider = MeterProvider(
        resource=Resource.create({"service.name": "payments", "service.instance.id": "p-7"}),
        metric_readers=[reader],
    )
    meter = provider.get_meter("payments.api")
    meter.create_counter("sdk.charges", unit="{charge}").add(5, {"outcome": "ok"})
    meter.create_observable_gauge(
        "sdk.pool.size", callbacks=[lambda _: [Observation(12, {"pool": "db"})]]
    )
    latency = meter.create_histogram("sdk.charge.duration", unit="ms")
    for value in (3, 40, 400):
        latency.record(value, {"outcome": "ok"})
    assert reader.force_flush(10_000)  # the exporter got a 2xx answer
    provider.shutdown()

    got = series(lake, "sdk_%")
    job = '"instance":"p-7","job":"payments"'
    assert got[("sdk_charges_total", f'{{{job},"outcome":"ok"}}')] == 5.0
    assert got[("sdk_pool_size", f'{{{job},"pool":"db"}}')] == 12.0
    buckets = {
        orjson.loads(labels)["le"]: value
        for (name, labels), value in got.items()
        if name == "sdk_charge_duration_milliseconds_bucket"
    }
    # the SDK's default bounds: 0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, ...
    assert buckets["0"] == 0 and buckets["5"] == 1 and buckets["50"] == 2
    assert buckets["500"] == 3 and buckets["+Inf"] == 3
    assert got[("sdk_charge_duration_milliseconds_count", f'{{{job},"outcome":"ok"}}')] == 3
    assert got[("sdk_charge_duration_milliseconds_sum", f'{{{job},"outcome":"ok"}}')] == 443


def test_json_points_with_bad_ones_answer_partial_success_in_json(lake: ServerProcess) -> None:
    now = str(time.time_ns())
    good = {"timeUnixNano": now, "asDouble": 1.5}
    body = {
        "resourceMetrics": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "j"}}]
                },
                "scopeMetrics": [
                    {
                        "metrics": [
                            {"name": "json.gauge", "gauge": {"dataPoints": [good]}},
                            {"name": "json.broken", "gauge": {"dataPoints": [{"asDouble": 1}]}},
                        ]
                    }
                ],
            }
        ]
    }
    r = httpx.post(f"{lake.url}/v1/metrics", json=body)
    assert r.status_code == 200
    partial = r.json()["partialSuccess"]
    assert partial["rejectedDataPoints"] == "1"
    assert "timeUnixNano is missing" in partial["errorMessage"]
    assert series(lake, "json_gauge") == {("json_gauge", '{"job":"j"}'): 1.5}


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b"\xff\xff\xff garbage", "application/x-protobuf", 400),
        (b"{not json", "application/json", 400),
        (b"{}", "text/csv", 415),
    ],
)
def test_garbage_is_a_clear_error_in_the_request_encoding(
    lake: ServerProcess, content: bytes, content_type: str, status: int
) -> None:
    r = httpx.post(
        f"{lake.url}/v1/metrics", content=content, headers={"Content-Type": content_type}
    )
    assert r.status_code == status
    if content_type == "application/x-protobuf":
        assert b"not a valid ExportMetricsServiceRequest" in r.content
    elif status == 400:
        assert "not valid JSON" in r.json()["message"]
    ok = httpx.post(
        f"{lake.url}/v1/metrics",
        content=b"",
        headers={"Content-Type": "application/x-protobuf"},
    )
    assert ok.status_code == 200
    assert (
        ExportMetricsServiceResponse.FromString(ok.content).partial_success.rejected_data_points
        == 0
    )
