"""The query compilers fed generated text (hypothesis): the search language either
compiles to SQL that DuckDB runs over the real table, or says what is wrong with a 4xx;
PromQL either evaluates over a real (small) store or raises ``QueryError``. Never
another exception, never a hang."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.store.conftest import ipc_of, settings_for
from tracelake.errors import QueryError, TracelakeError
from tracelake.query import compile_query
from tracelake.query.promql import PromQLEngine
from tracelake.store import Store

FUZZ = settings(
    max_examples=200,
    deadline=3000,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)

SEARCH_TOKENS = [
    "timeout",
    '"disk full"',
    "time*",
    "h?st",
    "service:checkout",
    'service:"api gw"',
    "service:check*",
    "latency_ms:>500",
    "latency_ms:<=2",
    "timestamp:>=2024-05-01T10:00:00Z",
    "timestamp:>2024-05-01",
    "trace_id:*",
    "level:(error OR warn)",
    "AND",
    "OR",
    "NOT",
    "-",
    "(",
    ")",
    "|",
    "stats",
    "count()",
    "avg(latency_ms)",
    "p95(latency_ms)",
    "sum(x)",
    "count_distinct(user.id)",
    "as",
    "users",
    "by",
    "bin(5m)",
    "bin(1x)",
    "service",
    ",",
    "sort",
    "-users",
    "+service",
    "fields",
    "message",
    "limit",
    "10",
    "-1",
    "99999999999999999999",
    "user.id:42",
    "a\\*b",
    "50\\%",
    ":",
    "*",
    '"',
    "\\",
    "level:",
    "x:>abc",
    "@timestamp:<now",
]
search_text = st.one_of(
    st.lists(st.sampled_from(SEARCH_TOKENS), max_size=12).map(" ".join),
    st.text(max_size=60),
)

PROMQL_TOKENS = [
    "up",
    "http_requests_total",
    '{job="api"}',
    '{job=~"a.*"}',
    '{__name__!=""}',
    "[5m]",
    "[1m:30s]",
    "rate(",
    "irate(",
    "increase(",
    "sum(",
    "avg(",
    "max by (job) (",
    "topk(3,",
    "histogram_quantile(0.9,",
    "count_over_time(",
    "abs(",
    "clamp_min(",
    "vector(1)",
    "scalar(",
    "time()",
    ")",
    "(",
    "+",
    "-",
    "*",
    "/",
    "%",
    "^",
    "==",
    "!=",
    ">",
    "<",
    "and",
    "or",
    "unless",
    "on(job)",
    "ignoring(job)",
    "group_left",
    "by (job)",
    "without (instance)",
    "offset 5m",
    "@ 100",
    "1",
    "0",
    "-1",
    "1e308",
    "NaN",
    "Inf",
    '"text"',
    ",",
    "bool",
    "label_replace(",
    "absent(",
    "sort_desc(",
    "quantile(0.5,",
]
promql_text = st.one_of(
    st.lists(st.sampled_from(PROMQL_TOKENS), max_size=10).map(" ".join),
    st.lists(st.sampled_from(PROMQL_TOKENS), max_size=10).map("".join),
    st.text(max_size=60),
)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A real store holding a few log lines."""
    path: Path = tmp_path_factory.mktemp("fuzzq") / "data"
    opened = Store(settings_for(path, query_timeout_s=2.0))
    opened.open()
    asyncio.run(opened.append("logs", ipc_of("timeout a", "disk full", "ok")))
    yield opened
    opened.close()


def test_search_language_compiles_to_runnable_sql_or_a_clear_4xx(store: Store) -> None:
    sources = store.sources(["logs"])
    ran = []

    @FUZZ
    @given(search_text)
    def check(text: str) -> None:
        try:
            compiled = compile_query(text, start=datetime(2020, 1, 1, tzinfo=UTC), limit=50)
        except TracelakeError as e:
            assert e.status == 400 and e.message.strip(), repr(e)
            return
        try:
            store.engine.run(compiled.sql, compiled.params, sources, timeout_s=2, max_rows=50)
        except QueryError as e:  # the compiler accepted it: DuckDB must, too
            raise AssertionError(f"{text!r} compiled to SQL DuckDB refuses: {e}") from e
        ran.append(text)

    check()
    assert len(ran) >= 20, "the generator should reach the SQL stage often"


def test_promql_evaluates_or_raises_query_error(store: Store) -> None:
    engine = PromQLEngine(store, store.settings)
    evaluated = []

    @FUZZ
    @given(promql_text)
    def check(text: str) -> None:
        try:
            engine.instant(text, 1_767_225_600.0)
            engine.range(text, 1_767_225_000.0, 1_767_225_600.0, 60.0)
        except TracelakeError as e:
            assert e.status == 400 and e.message.strip(), f"{text!r}: {e!r}"
        else:
            evaluated.append(text)

    check()
    assert len(evaluated) >= 10, "the generator should reach evaluation often"
