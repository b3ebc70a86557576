"""The compiler: golden query → SQL + params, the API contract, and injection safety."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from tracelake.errors import QueryError, QuerySyntaxError
from tracelake.model import LOG_COLUMNS
from tracelake.query import CompiledQuery, compile_query
from tracelake.query.sql import COLUMN_KINDS

MSG = 'contains(lower("message"), lower(?))'
ESC = "ESCAPE '\\'"
ATTR = 'json_extract_string("attributes", ?)'
BOTH = f"COALESCE({ATTR}, {ATTR})"
ALL = (
    'SELECT "timestamp", "service", "level", "message", "trace_id", "span_id", "host", '
    '"logger", "attributes"'
)
T = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
LEVELS = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"]


def sql(*lines: str) -> str:
    return "\n".join(lines)


# query text → (where_sql, where_params): every filter feature and precedence rule
FILTERS: list[tuple[str, str, list[Any]]] = [
    # free text: case-insensitive substring of message; wildcards become ILIKE
    ("timeout", MSG, ["timeout"]),
    ('"Disk Full"', MSG, ["Disk Full"]),
    ("time*", f'"message" ILIKE ? {ESC}', ["%time%%"]),
    ("a?c", f'"message" ILIKE ? {ESC}', ["%a_c%"]),
    ("100%_done", MSG, ["100%_done"]),
    (r"50\%\_off\*", MSG, ["50%_off*"]),
    ("x%_*", f'"message" ILIKE ? {ESC}', ["%x\\%\\_%%"]),
    # boolean logic and precedence: NOT > AND > OR, juxtaposition is AND
    ("error timeout", f"{MSG} AND {MSG}", ["error", "timeout"]),
    ("a AND b", f"{MSG} AND {MSG}", ["a", "b"]),
    ("a OR b", f"{MSG} OR {MSG}", ["a", "b"]),
    ("a OR b c", f"{MSG} OR ({MSG} AND {MSG})", ["a", "b", "c"]),
    ("a b OR c", f"({MSG} AND {MSG}) OR {MSG}", ["a", "b", "c"]),
    ("(a OR b) c", f"({MSG} OR {MSG}) AND {MSG}", ["a", "b", "c"]),
    ("NOT a", f"({MSG}) IS NOT TRUE", ["a"]),
    ("-a", f"({MSG}) IS NOT TRUE", ["a"]),
    ("NOT a b", f"({MSG}) IS NOT TRUE AND {MSG}", ["a", "b"]),
    ("-(a OR b)", f"({MSG} OR {MSG}) IS NOT TRUE", ["a", "b"]),
    ("NOT NOT a", f"(({MSG}) IS NOT TRUE) IS NOT TRUE", ["a"]),
    ("a OR -b c", f"{MSG} OR (({MSG}) IS NOT TRUE AND {MSG})", ["a", "b", "c"]),
    ("*", "TRUE", []),
    # message and attributes are text fields
    ("message:oops", MSG, ["oops"]),
    ("attributes:secret", 'contains(lower("attributes"), lower(?))', ["secret"]),
    # level: case-insensitive, wildcards, groups, severity comparisons
    ("level:error", '"level" = ?', ["ERROR"]),
    ("level:ERR*", f'"level" ILIKE ? {ESC}', ["ERR%"]),
    ("level:(error OR warn)", '"level" = ? OR "level" = ?', ["ERROR", "WARN"]),
    ("level:>=warn", '"level" IN (?, ?, ?)', ["WARN", "ERROR", "FATAL"]),
    ("level:<debug", '"level" IN (?)', ["TRACE"]),
    ("level:>fatal", "FALSE", []),
    # other known columns match exactly; ids compare lower-case
    ("service:api", '"service" = ?', ["api"]),
    ('service:"api gw"', '"service" = ?', ["api gw"]),
    ("service:api-*", f'"service" LIKE ? {ESC}', ["api-%"]),
    ("host:web?", f'"host" LIKE ? {ESC}', ["web_"]),
    ("logger:app.db", '"logger" = ?', ["app.db"]),
    ("trace_id:ABCDEF", '"trace_id" = ?', ["abcdef"]),
    ("span_id:AB*", f'"span_id" LIKE ? {ESC}', ["ab%"]),
    # existence, and its negation as IS NULL
    ("trace_id:*", '"trace_id" IS NOT NULL', []),
    ("-trace_id:*", '"trace_id" IS NULL', []),
    ("error.kind:*", f"{BOTH} IS NOT NULL", ['$."error"."kind"', '$."error.kind"']),
    ("-error.kind:*", f"{BOTH} IS NULL", ['$."error"."kind"', '$."error.kind"']),
    # timestamp: ISO 8601 values become aware UTC datetimes
    ("timestamp:>=2024-05-01T10:00:00Z", '"timestamp" >= ?', [T]),
    ("timestamp:<2024-05-01T10:00", '"timestamp" < ?', [T]),
    ("@timestamp:>2024-05-01T12:00:00+02:00", '"timestamp" > ?', [T]),
    ("timestamp:<=2024-05-01", '"timestamp" <= ?', [T.replace(hour=0)]),
    ("timestamp:2024-05-01T10:00:00Z", '"timestamp" = ?', [T]),
    # attributes: nested and flat keys; numbers match JSON numbers and strings
    ("user:alice", f"{ATTR} = ?", ['$."user"', "alice"]),
    ("ok:true", f"{ATTR} = ?", ['$."ok"', "true"]),
    (
        "http.status:500",
        f"TRY_CAST({BOTH} AS DOUBLE) = ?",
        ['$."http"."status"', '$."http.status"', 500.0],
    ),
    ('http.status:"500"', f"{BOTH} = ?", ['$."http"."status"', '$."http.status"', "500"]),
    ("user.id:42", f"TRY_CAST({BOTH} AS DOUBLE) = ?", ['$."user"."id"', '$."user.id"', 42.0]),
    ("a.b.c:x", f"{BOTH} = ?", ['$."a"."b"."c"', '$."a.b.c"', "x"]),
    ("@meta-x:1", f"TRY_CAST({ATTR} AS DOUBLE) = ?", ['$."@meta-x"', 1.0]),
    ("http.path:/api/*", f"{BOTH} LIKE ? {ESC}", ['$."http"."path"', '$."http.path"', "/api/%"]),
    ("latency_ms:>500", f"TRY_CAST({ATTR} AS DOUBLE) > ?", ['$."latency_ms"', 500.0]),
    ("latency_ms:>=500", f"TRY_CAST({ATTR} AS DOUBLE) >= ?", ['$."latency_ms"', 500.0]),
    ("latency_ms:<1e3", f"TRY_CAST({ATTR} AS DOUBLE) < ?", ['$."latency_ms"', 1000.0]),
    ("latency_ms:<=1.5", f"TRY_CAST({ATTR} AS DOUBLE) <= ?", ['$."latency_ms"', 1.5]),
    ("temp:<-5", f"TRY_CAST({ATTR} AS DOUBLE) < ?", ['$."temp"', -5.0]),
    # a realistic mix
    (
        'level:error (service:api OR service:web) -"health check"',
        f'"level" = ? AND ("service" = ? OR "service" = ?) AND ({MSG}) IS NOT TRUE',
        ["ERROR", "api", "web", "health check"],
    ),
]


@pytest.mark.parametrize(("text", "where", "params"), FILTERS, ids=[c[0] for c in FILTERS])
def test_filter_compiles_to_golden_where_clause(text: str, where: str, params: list[Any]) -> None:
    q = compile_query(text)
    assert (q.where_sql, q.where_params) == (where, params)
    assert q.sql.count("?") == len(q.params)


# query text → (full SQL, params): rows layout, every pipe and their combinations
PIPES: list[tuple[str, str, list[Any]]] = [
    ("", sql(ALL, "FROM logs", 'ORDER BY "timestamp" DESC', "LIMIT ?"), [100]),
    (
        "error",
        sql(ALL, "FROM logs", f"WHERE {MSG}", 'ORDER BY "timestamp" DESC', "LIMIT ?"),
        ["error", 100],
    ),
    ("| limit 5", sql(ALL, "FROM logs", 'ORDER BY "timestamp" DESC', "LIMIT ?"), [5]),
    ("| limit 500", sql(ALL, "FROM logs", 'ORDER BY "timestamp" DESC', "LIMIT ?"), [100]),
    ("| limit 50 | limit 20", sql(ALL, "FROM logs", 'ORDER BY "timestamp" DESC', "LIMIT ?"), [20]),
    (
        "| fields service, http.status, message",
        sql(
            f'SELECT "service", {BOTH} AS "http.status", "message"',
            "FROM logs",
            'ORDER BY "timestamp" DESC',
            "LIMIT ?",
        ),
        ['$."http"."status"', '$."http.status"', 100],
    ),
    (
        "| sort service",
        sql(ALL, "FROM logs", 'ORDER BY "service" ASC, "timestamp" DESC', "LIMIT ?"),
        [100],
    ),
    ("| sort +timestamp", sql(ALL, "FROM logs", 'ORDER BY "timestamp" ASC', "LIMIT ?"), [100]),
    (
        "| sort -latency_ms",
        sql(
            ALL,
            "FROM logs",
            f'ORDER BY TRY_CAST({ATTR} AS DOUBLE) DESC, {ATTR} DESC, "timestamp" DESC',
            "LIMIT ?",
        ),
        ['$."latency_ms"', '$."latency_ms"', 100],
    ),
    (
        "| sort -level",
        sql(
            ALL,
            "FROM logs",
            'ORDER BY list_position(?, "level") DESC, "level" DESC, "timestamp" DESC',
            "LIMIT ?",
        ),
        [LEVELS, 100],
    ),
    (
        "x | sort service | sort -host",
        sql(
            ALL,
            "FROM logs",
            f"WHERE {MSG}",
            'ORDER BY "host" DESC, "service" ASC, "timestamp" DESC',
            "LIMIT ?",
        ),
        ["x", 100],
    ),
    (
        "user.id:42 | fields timestamp, user.id | sort -timestamp | limit 5",
        sql(
            f'SELECT "timestamp", {BOTH} AS "user.id"',
            "FROM logs",
            f"WHERE TRY_CAST({BOTH} AS DOUBLE) = ?",
            'ORDER BY "timestamp" DESC',
            "LIMIT ?",
        ),
        ['$."user"."id"', '$."user.id"', '$."user"."id"', '$."user.id"', 42.0, 5],
    ),
    (
        "| stats count()",
        sql('SELECT count(*) AS "count()"', "FROM logs", 'ORDER BY "count()" DESC', "LIMIT ?"),
        [100],
    ),
    (
        "| stats count(*) by service",
        sql(
            'SELECT "service", count(*) AS "count()"',
            "FROM logs",
            "GROUP BY ALL",
            'ORDER BY "count()" DESC, "service" ASC',
            "LIMIT ?",
        ),
        [100],
    ),
    (
        "level:error | stats count() by bin(1m)",
        sql(
            'SELECT time_bucket(?::INTERVAL, "timestamp") AS "bin(1m)", count(*) AS "count()"',
            "FROM logs",
            'WHERE "level" = ?',
            "GROUP BY ALL",
            'ORDER BY "bin(1m)" ASC',
            "LIMIT ?",
        ),
        ["1 minute", "ERROR", 100],
    ),
    (
        "| stats count(), avg(latency_ms), p95(latency_ms) by service, bin(5m)",
        sql(
            'SELECT "service", time_bucket(?::INTERVAL, "timestamp") AS "bin(5m)", '
            f'count(*) AS "count()", avg(TRY_CAST({ATTR} AS DOUBLE)) AS "avg(latency_ms)", '
            f'quantile_cont(TRY_CAST({ATTR} AS DOUBLE), ?) AS "p95(latency_ms)"',
            "FROM logs",
            "GROUP BY ALL",
            'ORDER BY "bin(5m)" ASC, "service" ASC',
            "LIMIT ?",
        ),
        ["5 minutes", '$."latency_ms"', '$."latency_ms"', 0.95, 100],
    ),
    (
        "| stats min(ms), max(ms), sum(bytes), p50(ms), p90(ms), p99(ms)",
        sql(
            f'SELECT min(TRY_CAST({ATTR} AS DOUBLE)) AS "min(ms)", '
            f'max(TRY_CAST({ATTR} AS DOUBLE)) AS "max(ms)", '
            f'sum(TRY_CAST({ATTR} AS DOUBLE)) AS "sum(bytes)", '
            f'quantile_cont(TRY_CAST({ATTR} AS DOUBLE), ?) AS "p50(ms)", '
            f'quantile_cont(TRY_CAST({ATTR} AS DOUBLE), ?) AS "p90(ms)", '
            f'quantile_cont(TRY_CAST({ATTR} AS DOUBLE), ?) AS "p99(ms)"',
            "FROM logs",
            'ORDER BY "min(ms)" DESC',
            "LIMIT ?",
        ),
        ['$."ms"', '$."ms"', '$."bytes"', '$."ms"', 0.5, '$."ms"', 0.9, '$."ms"', 0.99, 100],
    ),
    (
        "| stats count(user.id) as users, count_distinct(user.id) by http.status",
        sql(
            f'SELECT {BOTH} AS "http.status", count({BOTH}) AS "users", '
            f'count(DISTINCT {BOTH}) AS "count_distinct(user.id)"',
            "FROM logs",
            "GROUP BY ALL",
            'ORDER BY "users" DESC, "http.status" ASC',
            "LIMIT ?",
        ),
        ['$."http"."status"', '$."http.status"', *(['$."user"."id"', '$."user.id"'] * 2), 100],
    ),
    (
        "| stats max(timestamp), min(service) by level",
        sql(
            'SELECT "level", max("timestamp") AS "max(timestamp)", '
            'min("service") AS "min(service)"',
            "FROM logs",
            "GROUP BY ALL",
            'ORDER BY "max(timestamp)" DESC, "level" ASC',
            "LIMIT ?",
        ),
        [100],
    ),
    (
        "| stats count() as n by service | sort -n | limit 3",
        sql(
            'SELECT "service", count(*) AS "n"',
            "FROM logs",
            "GROUP BY ALL",
            'ORDER BY "n" DESC',
            "LIMIT ?",
        ),
        [3],
    ),
    (
        "| stats count() by service, bin(1h) | sort -count(), +service",
        sql(
            'SELECT "service", time_bucket(?::INTERVAL, "timestamp") AS "bin(1h)", '
            'count(*) AS "count()"',
            "FROM logs",
            "GROUP BY ALL",
            'ORDER BY "count()" DESC, "service" ASC',
            "LIMIT ?",
        ),
        ["1 hour", 100],
    ),
]


@pytest.mark.parametrize(("text", "expected", "params"), PIPES, ids=[c[0] for c in PIPES])
def test_query_compiles_to_golden_sql(text: str, expected: str, params: list[Any]) -> None:
    q = compile_query(text)
    assert q.sql == expected
    assert q.params == params
    assert q.sql.count("?") == len(q.params)


@pytest.mark.parametrize(
    ("width", "interval"),
    [
        ("30s", "30 seconds"),
        ("1s", "1 second"),
        ("1m", "1 minute"),
        ("2h", "2 hours"),
        ("1d", "1 day"),
    ],
)
def test_bin_width_becomes_an_interval_parameter(width: str, interval: str) -> None:
    assert compile_query(f"| stats count() by bin({width})").params[0] == interval


# --- the API contract --------------------------------------------------------------


def test_every_log_column_has_a_field_kind() -> None:
    assert set(COLUMN_KINDS) == set(LOG_COLUMNS)


def test_rows_query_reports_kind_and_standard_columns() -> None:
    q = compile_query("error")
    assert q.kind == "rows"
    assert q.columns == [
        "timestamp",
        "service",
        "level",
        "message",
        "trace_id",
        "span_id",
        "host",
        "logger",
        "attributes",
    ]


def test_fields_choose_the_columns_and_at_timestamp_is_timestamp() -> None:
    q = compile_query("| fields @timestamp, http.status")
    assert q.columns == ["timestamp", "http.status"]


def test_stats_query_reports_kind_and_group_keys_then_aggregates() -> None:
    q = compile_query("| stats count(), p99(ms) as slow by bin(1m), service")
    assert q.kind == "stats"
    assert q.columns == ["bin(1m)", "service", "count()", "slow"]


def test_time_range_is_bound_first_and_wraps_an_or_in_parentheses() -> None:
    start, end = T, T + timedelta(hours=1)
    q = compile_query("a OR b", start=start, end=end)
    assert q.where_sql == f'"timestamp" >= ? AND "timestamp" < ? AND ({MSG} OR {MSG})'
    assert q.where_params == [start, end, "a", "b"]
    assert (q.start, q.end) == (start, end)
    assert f"\nWHERE {q.where_sql}\n" in q.sql
    assert q.params == [*q.where_params, 100]


def test_time_range_alone_is_the_whole_where_clause() -> None:
    q = compile_query("", start=T)
    assert (q.where_sql, q.where_params) == ('"timestamp" >= ?', [T])
    assert compile_query("", end=T).where_sql == '"timestamp" < ?'


def test_empty_query_without_range_has_no_where_and_where_sql_true() -> None:
    q = compile_query("")
    assert (q.where_sql, q.where_params) == ("TRUE", [])
    assert "WHERE" not in q.sql


def test_naive_range_is_taken_as_utc_and_aware_range_is_converted_to_utc() -> None:
    plus2 = timezone(timedelta(hours=2))
    q = compile_query(
        "", start=datetime(2024, 5, 1, 10), end=datetime(2024, 5, 1, 14, tzinfo=plus2)
    )
    assert q.where_params == [T, T + timedelta(hours=2)]
    assert all(p.utcoffset() == timedelta(0) for p in q.where_params)


def test_empty_time_range_is_rejected() -> None:
    with pytest.raises(QueryError, match="start must be before end"):
        compile_query("", start=T, end=T)


def test_limit_argument_caps_pipe_limit_and_must_be_positive() -> None:
    assert compile_query("| limit 7", limit=5).params[-1] == 5
    assert compile_query("| limit 3", limit=5).params[-1] == 3
    assert compile_query("| stats count() by service", limit=9).params[-1] == 9
    with pytest.raises(QueryError):
        compile_query("", limit=0)


def test_compiled_query_is_frozen() -> None:
    q = compile_query("")
    assert isinstance(q, CompiledQuery)
    with pytest.raises(dataclasses.FrozenInstanceError):
        q.sql = "DROP TABLE logs"  # type: ignore[misc]


# --- semantic errors ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "column", "expected"),
    [
        ("latency_ms:>fast", 13, "expected a number after 'latency_ms:>'"),
        ("timestamp:>yesterday", 12, "expected an ISO 8601 time"),
        ("timestamp:2024*", 11, "wildcards do not apply to timestamp"),
        ("level:>=loud", 9, "unknown level 'loud'; expected one of TRACE, DEBUG"),
        ("timestamp:>0001-01-01T00:00:00+14:00", 12, "outside the years 1 to 9999"),
        ("timestamp:<9999-12-31T23:00:00-14:00", 12, "outside the years 1 to 9999"),
    ],
)
def test_bad_value_is_a_syntax_error_at_the_value(text: str, column: int, expected: str) -> None:
    """A value the field cannot take — including a time whose offset moves it out of the
    years a datetime holds (an OverflowError before) — is a syntax error at the value."""
    with pytest.raises(QuerySyntaxError) as exc:
        compile_query(text)
    assert exc.value.column == column
    assert expected in exc.value.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("service:>a", "'service' is text: comparisons"),
        ("| stats avg(service)", "avg() needs a numeric attribute field"),
        ("| stats p95(message)", "p95() needs a numeric attribute field"),
        ("| stats count(), count(*)", "two columns named 'count()'"),
        ("| stats count() by service, service", "two columns named 'service'"),
        ("| stats count() by bin(1m), bin(5m)", "one bin()"),
        ("| stats count() | stats count()", "only one 'stats'"),
        ("| limit 5 | stats count()", "'stats' must come before"),
        ("| sort service | stats count()", "'stats' must come before"),
        ("| stats count() | fields service", "'fields' cannot follow 'stats'"),
        ("| stats count() by service | sort host", "stats columns are service, count()"),
        ("| limit 5 | sort service", "'sort' after 'limit' is not supported"),
        ("| fields a, b | fields c", "'c' was dropped by an earlier 'fields'"),
        ("| fields a, a", "lists 'a' twice"),
        ("| sort -count()", "cannot sort rows by 'count()'"),
    ],
)
def test_query_that_parses_but_cannot_run_is_a_query_error(text: str, expected: str) -> None:
    with pytest.raises(QueryError) as exc:
        compile_query(text)
    assert expected in exc.value.message


def test_fields_may_narrow_an_earlier_fields() -> None:
    assert compile_query("| fields a, b | fields b").columns == ["b"]


# --- injection ---------------------------------------------------------------------

NASTY = [
    "'; DROP TABLE logs; --",
    "read_csv('/etc/passwd')",
    "x' OR '1'='1",
    '" OR 1=1 --',
    "$$; COPY logs TO 'x.csv'",
    "\\'; SELECT 1; --",
]


def assert_sql_is_ours(q: CompiledQuery) -> None:
    """No quote (except our LIKE escape), no statement separator, no comment in the text."""
    text = q.sql.replace(ESC, "")
    assert "'" not in text
    assert ";" not in text
    assert "--" not in text
    assert "read_csv" not in text and "passwd" not in text and "DROP" not in text


@pytest.mark.parametrize("payload", NASTY)
@pytest.mark.parametrize("template", ['message:"{}"', 'service:"{}"', 'http.status:"{}"', '"{}"'])
def test_quoted_payload_ends_up_only_in_params(template: str, payload: str) -> None:
    escaped = payload.replace("\\", "\\\\").replace('"', '\\"')
    q = compile_query(template.format(escaped))
    assert_sql_is_ours(q)
    assert payload in q.params


@pytest.mark.parametrize(
    "text",
    [
        "read_csv('/etc/passwd')",
        "message:'; DROP TABLE logs; --",
        "x' OR 1=1",
        "level:(x' OR 1=1)",
        "a.b:read_csv('/etc/passwd') | fields a.b",
        "x | stats count() as n by service | sort -n",
    ],
)
def test_unquoted_payload_ends_up_only_in_params(text: str) -> None:
    assert_sql_is_ours(compile_query(text))


@pytest.mark.parametrize(
    "text",
    [
        'x") OR 1=1 --',
        "| fields a; DROP TABLE logs",
        '| fields "a"',
        '| stats count() as "x"',
        "| sort 'a'",
        "| limit 1; DROP TABLE logs",
        "| stats count() by bin(1 minute')",
    ],
)
def test_payload_outside_a_value_is_a_syntax_error(text: str) -> None:
    with pytest.raises(QuerySyntaxError):
        compile_query(text)


def test_stats_alias_and_field_names_are_quoted_identifiers() -> None:
    q = compile_query("| stats count() as n by @x-y.z")
    assert '"@x-y.z"' in q.sql and 'AS "n"' in q.sql
