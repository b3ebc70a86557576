"""Drop/sample rules: the Python evaluator agrees with the SQL compiler on DuckDB."""

from __future__ import annotations

import copy
import random
import time
from typing import Any

import duckdb
import pytest

from tracelake.errors import QueryError
from tracelake.ingest.tables.logs import logs_batch
from tracelake.model import IngestResult
from tracelake.pipeline.rules import Rules, compile_filter, trace_keeps
from tracelake.query import compile_query

RECORDS: list[dict[str, Any]] = [
    {"level": "debug", "service": "chatty", "message": "Heartbeat OK", "http": {"status": 200}},
    {"severity": "ERR", "app": "orders", "msg": "Payment FAILED for order 7", "status": "500"},
    {"level": "warning", "service": {"name": "users"}, "message": "slow", "latency_ms": 912.5},
    {"levelname": 20, "logger": "app.db", "message": "query done", "http.status": 404},
    {
        "level": "info",
        "service": "orders",
        "trace_id": "ABCDEF0123456789",
        "message": "x",
        "user": {"id": 7, "name": "bob"},
        "tags": ["a", "b"],
        "ok": True,
    },
    {"message": {"nested": "text"}, "host": {"name": "node-1"}, "span_id": "00F067AA0BA902B7"},
    {"level": "nonsense", "service": "chatty", "message": None, "status": 503},
    {"service": "pay-api", "message": "card declined", "status": "n/a", "region": "eu-west"},
]

QUERIES = [
    "level:debug",
    "level:DEBUG service:chatty",
    "level:>=warn",
    "level:<info",
    "level:err*",
    "service:orders",
    "service:users",
    "service:app.db",
    "service:pay-*",
    "service:*-api",
    "failed",
    '"payment failed"',
    "pay*",
    "message:slow",
    "-level:info",
    "status:500",
    "status:>=500",
    "status:<500",
    'status:"500"',
    "http.status:404",
    "http.status:200",
    "latency_ms:>900",
    "user.name:bob",
    "user.id:7",
    "ok:true",
    "trace_id:00000000000000000abcdef0123456789",
    "trace_id:abcdef0123456789",
    "trace_id:*abcdef*",
    "span_id:00f067aa0ba902b7",
    "host:node-1",
    "service.name:users",
    "region:*",
    "-region:*",
    "status:* AND NOT status:500",
    "level:info OR level:debug",
    "(service:orders OR service:chatty) -level:error",
    "attributes:bob",
    "nested",
    "original_level:*",
    "logger:app.db",
    "host.name:node-1",
    "region:eu?west",
]


def sql_matches(records: list[dict[str, Any]], query: str) -> list[int]:
    """Indexes of the records the SQL compiler selects once they are stored."""
    objects = [dict(copy.deepcopy(r), line=i) for i, r in enumerate(records)]
    batch = logs_batch(
        objects, list(range(1, len(objects) + 1)), IngestResult(), int(time.time() * 1e6)
    )
    con = duckdb.connect()
    con.register("logs", batch)
    compiled = compile_query(query)
    rows = con.execute(
        f"SELECT json_extract(attributes, '$.line')::INT FROM logs WHERE {compiled.where_sql}",
        compiled.where_params,
    ).fetchall()
    return sorted(r[0] for r in rows)


@pytest.mark.parametrize("query", QUERIES)
def test_the_evaluator_selects_what_the_search_selects_after_storage(query: str) -> None:
    matches = compile_filter(query)
    python = [i for i, r in enumerate(RECORDS) if matches(copy.deepcopy(r))]
    assert python == sql_matches(RECORDS, query), query


def test_attributes_text_search_finds_attribute_values() -> None:
    assert compile_filter("attributes:bob")(RECORDS[4])
    assert not compile_filter("attributes:bob")(RECORDS[0])


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("timestamp:>2024-01-01", "timestamp"),
        ("service:>3", "is text"),
        ("status:>high", "expected a number"),
        ("level:>loud", "unknown level"),
        ("x | limit 3", "without pipes"),
    ],
)
def test_filters_rules_cannot_evaluate_are_refused(query: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        compile_filter(query)


def test_drop_rules_drop_what_they_match() -> None:
    rules = Rules(["level:debug service:chatty"], [])
    assert not rules.keep({"level": "DEBUG", "service": "chatty"})
    assert rules.keep({"level": "info", "service": "chatty"})


def test_sampling_keeps_a_trace_whole_and_at_about_the_rate() -> None:
    rng = random.Random(1)
    rules = Rules([], [("level:info", 0.25)])
    traces = [f"{rng.getrandbits(128):032x}" for _ in range(4000)]
    decisions = {t: rules.keep({"trace_id": t, "message": "a"}) for t in traces}
    assert all(
        rules.keep({"traceId": t.upper(), "message": "b"}) == d for t, d in decisions.items()
    )
    assert 0.22 < sum(decisions.values()) / len(traces) < 0.28


def test_sampling_agrees_with_opentelemetrys_trace_id_ratio_sampler() -> None:
    sampling = pytest.importorskip("opentelemetry.sdk.trace.sampling")
    sampler = sampling.TraceIdRatioBased(0.3)
    rng = random.Random(2)
    for _ in range(500):
        trace_id = rng.getrandbits(128)
        otel = sampler.should_sample(None, trace_id, "span").decision.is_sampled()
        assert trace_keeps(f"{trace_id:032x}", 0.3) == otel


def test_records_without_a_trace_are_sampled_at_random() -> None:
    draws = iter([0.05, 0.5])
    rules = Rules([], [("*", 0.1)], rng=lambda: next(draws))
    assert rules.keep({"message": "a"}) and not rules.keep({"message": "b"})


def test_the_first_matching_sample_rule_decides_and_others_pass() -> None:
    rules = Rules([], [("service:a", 0.0), ("*", 1.0)])
    assert not rules.keep({"service": "a"}) and rules.keep({"service": "b"})
