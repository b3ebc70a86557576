"""A window's statement, run by the real DuckDB engine over Arrow rows of each source."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest

from tracelake.schema import EVENTS, LOGS, SPANS
from tracelake.store.duck import QueryEngine, Source
from tracelake.streams.config import parse_continuous_queries
from tracelake.streams.statement import WindowStatement
from tracelake.streams.windows import Window

S = 1_000_000
T0 = 1_767_225_600 * S  # 2026-01-01T00:00:00Z


@pytest.fixture
def engine(tmp_path: Path) -> QueryEngine:
    return QueryEngine(tmp_path, threads=1, memory_limit="256MB", concurrency=1)


def run(engine: QueryEngine, table: dict[str, Any], source: pa.Table, window: Window) -> dict:
    [query] = parse_continuous_queries([{"name": "q", "window": "1m", **table}], 0.0)
    statement = WindowStatement.of(query)
    results = engine.run(
        statement.sql,
        statement.params(window),
        {query.source: Source([], source)},
        timeout_s=10,
        max_rows=1000,
    )
    out = {}
    for row in results.rows:
        labels, values = statement.split(row)
        out[tuple(sorted(labels.items()))] = dict(values)
    return out


def events(rows: list[tuple[int, str, dict[str, Any]]]) -> pa.Table:
    n = len(rows)
    return pa.table(
        {
            "timestamp": pa.array([r[0] for r in rows], EVENTS.field("timestamp").type),
            "type": [r[1] for r in rows],
            "key": [f"k{i}" for i in range(n)],
            "service": ["orders"] * n,
            "trace_id": [None] * n,
            "span_id": [None] * n,
            "payload": [orjson.dumps(r[2]).decode() for r in rows],
        },
        schema=EVENTS,
    )


def test_events_are_counted_per_group_within_the_window_only(engine: QueryEngine) -> None:
    source = events(
        [
            (T0 - 1, "order_placed", {"status": "paid"}),  # before the window
            (T0, "order_placed", {"status": "paid", "amount": 10}),
            (T0 + 5 * S, "order_placed", {"status": "paid", "amount": 30}),
            (T0 + 6 * S, "order_placed", {"status": "failed", "amount": 5}),
            (T0 + 7 * S, "order_shipped", {"status": "paid"}),  # another type
            (T0 + 60 * S, "order_placed", {"status": "paid"}),  # end is exclusive
        ]
    )
    table = {
        "source": "events",
        "filter": "type:order_placed",
        "group_by": ["payload.status"],
        "aggregates": ["count() as orders", "sum(payload.amount)", "max(payload.amount)"],
        "ratios": {"big": "payload.amount:>=10"},
    }
    got = run(engine, table, source, Window(T0, T0 + 60 * S))
    assert got == {
        (("status", "paid"),): {
            "orders": 2.0,
            "sum_payload_amount": 40.0,
            "max_payload_amount": 30.0,
            "big": 1.0,
        },
        (("status", "failed"),): {
            "orders": 1.0,
            "sum_payload_amount": 5.0,
            "max_payload_amount": 5.0,
            "big": 0.0,
        },
    }


def test_an_empty_window_without_group_keys_counts_zero(engine: QueryEngine) -> None:
    source = events([(T0, "order_placed", {"latency_ms": 3})])
    table = {"source": "events", "aggregates": ["count()", "avg(payload.latency_ms)"]}
    assert run(engine, table, source, Window(T0 + 60 * S, T0 + 120 * S)) == {(): {"count": 0.0}}


def test_log_percentiles_and_error_ratio_per_service(engine: QueryEngine) -> None:
    rows = [(T0 + i * S, "api", "ERROR" if i % 4 == 0 else "INFO", i) for i in range(1, 41)]
    source = pa.table(
        {
            "timestamp": pa.array([r[0] for r in rows], LOGS.field("timestamp").type),
            "service": [r[1] for r in rows],
            "level": [r[2] for r in rows],
            "message": ["m"] * len(rows),
            "trace_id": [None] * len(rows),
            "span_id": [None] * len(rows),
            "host": [None] * len(rows),
            "logger": [None] * len(rows),
            "attributes": [orjson.dumps({"latency_ms": r[3]}).decode() for r in rows],
            "_id": [None] * len(rows),
        },
        schema=LOGS,
    )
    table = {
        "source": "logs",
        "group_by": ["service"],
        "aggregates": ["p50(latency_ms)", "count_distinct(latency_ms) as distinct"],
        "ratios": {"error_ratio": "level:error"},
    }
    got = run(engine, table, source, Window(T0, T0 + 60 * S))
    assert got == {
        (("service", "api"),): {"p50_latency_ms": 20.5, "distinct": 40.0, "error_ratio": 0.25}
    }


def test_spans_expose_name_status_and_duration_ms_as_fields(engine: QueryEngine) -> None:
    durations = [1000 * d for d in range(1, 101)]  # 1..100 ms
    n = len(durations)
    source = pa.table(
        {
            "timestamp": pa.array([T0 + i for i in range(n)], SPANS.field("timestamp").type),
            "trace_id": ["a" * 32] * n,
            "span_id": [f"{i:016x}" for i in range(n)],
            "parent_id": [None] * n,
            "service": ["shop"] * n,
            "name": ["checkout"] * (n - 1) + ["browse"],
            "kind": ["server"] * n,
            "duration_us": durations,
            "status": ["error" if i < 10 else "ok" for i in range(n)],
            "status_message": [None] * n,
            "remote_service": [None] * n,
            "attributes": ["{}"] * n,
            "events": [None] * n,
            "resource": [None] * n,
            "details": [None] * n,
        },
        schema=SPANS,
    )
    table = {
        "source": "spans",
        "filter": "name:checkout",
        "aggregates": ["p95(duration_ms)", "count()"],
        "ratios": {"errors": "level:error"},
    }
    got = run(engine, table, source, Window(T0, T0 + 60 * S))
    assert got[()]["count"] == 99.0
    assert got[()]["p95_duration_ms"] == pytest.approx(94.1)
    assert got[()]["errors"] == pytest.approx(10 / 99)


def test_filter_values_are_bound_parameters_not_sql(engine: QueryEngine) -> None:
    hostile = "x' OR 1=1 --"
    source = events(
        [(T0, "order_placed", {"status": hostile}), (T0, "order_placed", {"status": "y"})]
    )
    table = {"source": "events", "filter": f'payload.status:"{hostile}"', "aggregates": ["count()"]}
    [query] = parse_continuous_queries([{"name": "q", "window": "1m", **table}], 0.0)
    assert hostile not in WindowStatement.of(query).sql
    assert run(engine, table, source, Window(T0, T0 + 60 * S)) == {(): {"count": 1.0}}
