"""End to end: compiled SQL run by DuckDB over a small known ``logs`` table.

Golden SQL proves what we emit; this proves that what we emit finds the right rows,
including the parts only the engine can check (JSON paths, NULL handling, casts).
Rows are identified by ``span_id``, which holds their number.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

duckdb = pytest.importorskip("duckdb")
pa = pytest.importorskip("pyarrow")

from tracelake.query import compile_query  # noqa: E402

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)

# n, service, level, message, trace_id?, host, logger, attributes
ROWS: list[tuple[int, str, str, str | None, bool, str, str, dict[str, Any] | None]] = [
    (1, "api", "INFO", "GET /users ok", True, "web-1", "app.http",
     {"http": {"status": 200}, "latency_ms": 12, "user": {"id": 42}}),
    (2, "api", "ERROR", "GET /orders failed: Timeout talking to db", True, "web-1", "app.http",
     {"http": {"status": 500}, "latency_ms": 950}),
    (3, "web", "WARN", "slow response 100% cpu", False, "web-2", "app.ui",
     {"http.status": "503", "latency_ms": "620.5"}),
    (4, "web", "DEBUG", "cache hit", False, "web-2", "app.cache",
     {"user.id": "42", "cache": {"hit": True}}),
    (5, "worker", "FATAL", "disk full on /var", False, "worker-1", "app.jobs",
     {"error": {"kind": "io"}}),
    (6, "worker", "INFO", "job done in 5s", True, "worker-1", "app.jobs", None),
    (7, "api", "ERROR", "health check failed", False, "web-1", "app.health",
     {"http": {"status": 503}, "latency_ms": "fast"}),
    (8, "api", "TRACE", "timeout_retry scheduled", False, "web-3", "app.http",
     {"http": {"path": "/api/v1/users"}}),
    (9, "api-gw", "INFO", "Proxy TIMEOUT", False, "gw", "app.gw", {"latency_ms": 50}),
    (10, "web", "INFO", None, False, "web-2", "app.ui", {"user": {"id": 7}}),
]  # fmt: skip


def at(n: int) -> datetime:
    """Row n was logged n-1 minutes after T0 (30 s in, so bins are unambiguous)."""
    return T0 + timedelta(minutes=n - 1, seconds=30)


@pytest.fixture(scope="module")
def con() -> Iterator[Any]:
    table = pa.table(
        {
            "timestamp": pa.array([at(r[0]) for r in ROWS], pa.timestamp("us", tz="UTC")),
            "service": [r[1] for r in ROWS],
            "level": [r[2] for r in ROWS],
            "message": [r[3] for r in ROWS],
            "trace_id": [f"{r[0]:032x}" if r[4] else None for r in ROWS],
            "span_id": [f"{r[0]:016x}" for r in ROWS],
            "host": [r[5] for r in ROWS],
            "logger": [r[6] for r in ROWS],
            "attributes": [json.dumps(r[7]) if r[7] is not None else None for r in ROWS],
        }
    )
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.register("logs", table)
    yield connection
    connection.close()


def run(con: Any, text: str, **kwargs: Any) -> list[tuple[Any, ...]]:
    q = compile_query(text, **kwargs)
    return [tuple(row) for row in con.execute(q.sql, q.params).fetchall()]


def ids(con: Any, text: str, **kwargs: Any) -> list[int]:
    """Row numbers a rows query returns, in the order returned."""
    q = compile_query(text, **kwargs)
    assert q.columns[5] == "span_id"
    return [int(row[5], 16) for row in con.execute(q.sql, q.params).fetchall()]


CASES: list[tuple[str, list[int]]] = [
    # everything, newest first
    ("", [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]),
    ("*", [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]),
    # words and phrases: case-insensitive substrings of message
    ("timeout", [9, 8, 2]),
    ("TimeOut db", [2]),
    ('"health check"', [7]),
    ('"check health"', []),
    ("100%", [3]),
    ("h_c", []),  # _ is literal, not a LIKE wildcard
    ("h?c", [7]),  # ? is the single-character wildcard
    ("time*sch", [8]),
    ("message:TIMEOUT", [9, 8, 2]),
    # known columns
    ("service:api", [8, 7, 2, 1]),
    ("service:API", []),
    ("service:api*", [9, 8, 7, 2, 1]),
    ("host:web-?", [10, 8, 7, 4, 3, 2, 1]),
    ("logger:app.jobs", [6, 5]),
    ("level:error", [7, 2]),
    ("level:Err*", [7, 2]),
    ("level:(debug OR trace)", [8, 4]),
    ("level:>=warn", [7, 5, 3, 2]),
    ("level:<info", [8, 4]),
    (f"trace_id:{2:032X}", [2]),
    ("span_id:*0A", [10]),  # ids are stored lower-case; the value is lowered
    # existence
    ("trace_id:*", [6, 2, 1]),
    ("-trace_id:*", [10, 9, 8, 7, 5, 4, 3]),
    ("error.kind:*", [5]),
    ("attributes:*", [10, 9, 8, 7, 5, 4, 3, 2, 1]),
    # attributes: nested and flat keys, numbers as JSON numbers or strings
    ("http.status:500", [2]),
    ("http.status:503", [7, 3]),
    ('http.status:"503"', [7, 3]),
    ("user.id:42", [4, 1]),
    ("user.id:42.0", [4, 1]),
    ("cache.hit:true", [4]),
    ("error.kind:io", [5]),
    ("http.path:/api/*", [8]),
    ("latency_ms:>500", [3, 2]),
    ("latency_ms:<=50", [9, 1]),
    ("latency_ms:fast", [7]),
    ("http.status:>=500 http.status:<600", [7, 3, 2]),
    # timestamp
    ("timestamp:>=2024-05-01T10:05:00Z", [10, 9, 8, 7, 6]),
    ("timestamp:<2024-05-01T12:02:00+02:00", [2, 1]),
    # boolean logic and precedence
    ('level:error -"health check"', [2]),
    ("service:web OR service:worker level:fatal", [10, 5, 4, 3]),
    ("(service:web OR service:worker) level:info", [10, 6]),
    ("NOT service:api", [10, 9, 6, 5, 4, 3]),
    ("-timeout", [10, 7, 6, 5, 4, 3, 1]),  # a NULL message does not contain "timeout"
    ("-http.status:500", [10, 9, 8, 7, 6, 5, 4, 3, 1]),  # no status is "not 500"
    ("NOT NOT timeout", [9, 8, 2]),
    ("NOT (level:error OR level:info) service:api", [8]),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] or "<empty>" for c in CASES])
def test_filter_returns_exactly_the_matching_rows_newest_first(
    con: Any, text: str, expected: list[int]
) -> None:
    assert ids(con, text) == expected


def test_time_range_is_start_inclusive_end_exclusive(con: Any) -> None:
    assert ids(con, "", start=at(3), end=at(5)) == [4, 3]
    assert ids(con, "service:api", start=at(2)) == [8, 7, 2]


def test_where_sql_alone_filters_a_batch_like_the_live_tail(con: Any) -> None:
    q = compile_query("service:api OR level:fatal", start=at(2), end=at(8))
    rows = con.execute(
        f"SELECT span_id FROM logs WHERE {q.where_sql} ORDER BY span_id", q.where_params
    ).fetchall()
    assert [int(r[0], 16) for r in rows] == [2, 5, 7]


# --- pipes -------------------------------------------------------------------------


def test_limit_pipe_and_limit_argument_take_the_smaller(con: Any) -> None:
    assert ids(con, "| limit 3") == [10, 9, 8]
    assert ids(con, "| limit 3", limit=2) == [10, 9]


def test_sort_ascending_by_timestamp(con: Any) -> None:
    assert ids(con, "service:api | sort +timestamp") == [1, 2, 7, 8]


def test_sort_by_attribute_is_numeric_not_lexicographic(con: Any) -> None:
    # 950 > 620.5 > 50 > 12; "fast" and missing values come last
    assert ids(con, "latency_ms:* | sort -latency_ms")[:4] == [2, 3, 9, 1]


def test_sort_by_level_follows_severity(con: Any) -> None:
    assert ids(con, "| sort -level | limit 3") == [5, 7, 2]


def test_later_sort_is_primary_and_timestamp_breaks_ties(con: Any) -> None:
    # by service, then by severity within a service, then newest first
    assert ids(con, "| sort level | sort service") == [8, 1, 7, 2, 9, 4, 10, 3, 6, 5]


def test_fields_extracts_attributes_by_name_as_columns(con: Any) -> None:
    q = compile_query("http.status:* | fields service, http.status, user.id | sort +timestamp")
    assert q.columns == ["service", "http.status", "user.id"]
    assert con.execute(q.sql, q.params).fetchall() == [
        ("api", "200", "42"),
        ("api", "500", None),
        ("web", "503", None),
        ("api", "503", None),
    ]


def test_stats_count_by_service_orders_by_count_then_key(con: Any) -> None:
    assert run(con, "| stats count() by service") == [
        ("api", 4),
        ("web", 3),
        ("worker", 2),
        ("api-gw", 1),
    ]


def test_stats_without_by_is_one_row(con: Any) -> None:
    assert run(con, "level:error | stats count(), count_distinct(host)") == [(2, 1)]


def test_stats_by_bin_counts_per_time_bucket_ascending(con: Any) -> None:
    assert run(con, "service:api* | stats count() by bin(5m)") == [
        (T0, 2),
        (T0 + timedelta(minutes=5), 3),
    ]


def test_stats_numeric_aggregates_over_nested_and_flat_attributes(con: Any) -> None:
    (row,) = run(
        con,
        "| stats count(latency_ms), min(latency_ms), max(latency_ms), sum(latency_ms), "
        "avg(latency_ms), p50(latency_ms)",
    )
    # "fast" is counted as present but is not a number
    assert row[:4] == (5, 12.0, 950.0, 1632.5)
    assert row[4] == pytest.approx(1632.5 / 4)
    assert row[5] == pytest.approx((50 + 620.5) / 2)


def test_stats_by_attribute_field_groups_nested_and_flat_keys_together(con: Any) -> None:
    assert run(
        con, "http.status:* | stats count() as n by http.status | sort -n, +http.status"
    ) == [
        ("503", 2),
        ("200", 1),
        ("500", 1),
    ]


def test_stats_multiple_aggregates_by_key_and_bin(con: Any) -> None:
    rows = run(con, "service:api | stats count(), p95(latency_ms) by service, bin(5m)")
    assert [r[:3] for r in rows] == [
        ("api", T0, 2),
        ("api", T0 + timedelta(minutes=5), 2),
    ]
    assert rows[0][3] == pytest.approx(12 + 0.95 * (950 - 12))
    assert rows[1][3] is None


def test_stats_sort_and_limit(con: Any) -> None:
    assert run(con, "| stats count() by service | sort +count(), -service | limit 2") == [
        ("api-gw", 1),
        ("worker", 2),
    ]


def test_injection_payload_is_just_a_value(con: Any) -> None:
    assert ids(con, 'message:"\'; DROP TABLE logs; --"') == []
    assert ids(con, "read_csv('/etc/passwd')") == []
    assert len(ids(con, "")) == len(ROWS)  # the table is still there
