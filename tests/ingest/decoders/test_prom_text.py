"""Exposition text and OpenMetrics into samples: labels of the target, timestamps, bad input."""

from __future__ import annotations

import math
import re

import orjson
import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest

from tracelake.errors import DecodeError
from tracelake.ingest.decoders.prom_text import parse_exposition
from tracelake.ingest.decoders.sample_rows import SampleRows, SeriesLimits

T_US = 1_767_225_600_000_000
TARGET = {"job": "orders", "service": "orders", "instance": "10.0.0.5:8000"}


def app_registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    Counter("orders_placed", "Orders", ["region"], registry=registry).labels("eu").inc(4)
    Gauge("queue_depth", "Depth", ["job"], registry=registry).labels("worker").set(7)
    Histogram("latency_seconds", "Latency", buckets=(0.1, 1.0), registry=registry).observe(0.5)
    return registry


def by_series(rows: SampleRows) -> dict[tuple[str, str], float]:
    return {
        (n, labels.decode()): v
        for n, labels, v in zip(rows.name, rows.labels, rows.value, strict=True)
    }


@pytest.mark.parametrize(
    ("exposition", "content_type"),
    [
        (generate_latest, "text/plain; version=0.0.4; charset=utf-8"),
        (openmetrics_latest, "application/openmetrics-text; version=1.0.0; charset=utf-8"),
    ],
)
def test_prometheus_client_exposition_in_both_formats_gets_the_target_labels(
    exposition: object, content_type: str
) -> None:
    body = exposition(app_registry())  # type: ignore[operator]
    rows = parse_exposition(body, content_type, target_labels=TARGET, default_time_us=T_US)
    got = by_series(rows)
    base = '"instance":"10.0.0.5:8000","job":"orders"'
    assert got[("orders_placed_total", f'{{{base},"region":"eu","service":"orders"}}')] == 4.0
    # the exposed job label clashes with the target's: kept as exported_job
    key = ("queue_depth", f'{{"exported_job":"worker",{base},"service":"orders"}}')
    assert got[key] == 7.0
    buckets = {
        orjson.loads(labels)["le"]: value
        for (name, labels), value in got.items()
        if name == "latency_seconds_bucket"
    }
    assert buckets == {"0.1": 0.0, "1.0": 1.0, "+Inf": 1.0}
    assert set(rows.service) == {"orders"} and set(rows.timestamp) == {T_US}


def test_timestamps_nan_inf_and_utf8_names_are_kept() -> None:
    text = (
        b"# TYPE temp gauge\n"
        b'temp{room="a"} NaN\n'
        b'temp{room="b"} +Inf 1767225600123\n'
        b'{"my.dotted.metric","error.message"="Not Found"} 1\n'
    )
    rows = parse_exposition(text, "text/plain", target_labels={}, default_time_us=T_US)
    assert math.isnan(rows.value[0]) and rows.value[1] == math.inf
    assert rows.timestamp[:2] == [T_US, 1_767_225_600_123_000]
    assert rows.name[2] == "my.dotted.metric"
    assert orjson.loads(rows.labels[2]) == {"error.message": "Not Found"}


def test_openmetrics_timestamps_are_seconds() -> None:
    body = b"# TYPE x gauge\nx 2 1767225600.5\n# EOF\n"
    rows = parse_exposition(
        body, "application/openmetrics-text", target_labels={}, default_time_us=T_US
    )
    assert rows.timestamp == [1_767_225_600_500_000]


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b'a{b="c} 1\n', "text/plain", "malformed exposition (text format 0.0.4)"),
        (b"a not-a-number\n", "text/plain", "could not convert"),
        (b"x 1\n", "application/openmetrics-text", "Missing # EOF"),
        (b"\xff\xfe x 1\n", "text/plain", "not UTF-8 (byte 0)"),
    ],
)
def test_malformed_expositions_fail_the_scrape_with_a_reason(
    body: bytes, content_type: str, message: str
) -> None:
    with pytest.raises(DecodeError, match=re.escape(message)):
        parse_exposition(body, content_type, target_labels=TARGET, default_time_us=T_US)


def test_a_series_over_the_label_limits_fails_the_scrape() -> None:
    wide = "wide{" + ",".join(f'l{i}="v"' for i in range(20)) + "} 1\n"
    with pytest.raises(DecodeError, match="scrape refused: 24 labels, over max_series_labels"):
        parse_exposition(
            wide.encode(),
            "text/plain",
            target_labels=TARGET,
            default_time_us=T_US,
            limits=SeriesLimits(max_labels=10),
        )
