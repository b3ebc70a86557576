"""The query engine's sandbox, time limit and row cap."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.store.conftest import append, ipc_of
from tracelake.errors import QueryError, QueryTimeout
from tracelake.store import Store


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/passwd')",
        "ATTACH '/tmp/other.db'",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "COPY (SELECT 1) TO '/tmp/out.csv'",
    ],
)
def test_files_outside_the_lake_extensions_and_settings_are_refused(
    make_store: Callable[..., Store], sql: str
) -> None:
    store = make_store()
    with pytest.raises(QueryError):
        store.engine.run(sql, [], store.sources(), timeout_s=10, max_rows=10)


def test_row_cap_is_reported_as_truncated(make_store: Callable[..., Store]) -> None:
    store = make_store()
    append(store, ipc_of("a", "b", "c"))
    results = store.engine.run("SELECT * FROM logs", [], store.sources(), timeout_s=10, max_rows=2)
    assert len(results.rows) == 2 and results.truncated


def test_a_query_past_its_time_limit_is_interrupted(make_store: Callable[..., Store]) -> None:
    store = make_store()
    slow = "SELECT count(*) FROM range(100000000000) a"
    with pytest.raises(QueryTimeout):
        store.engine.run(slow, [], store.sources(), timeout_s=0.2, max_rows=10)


def test_values_are_bound_parameters(make_store: Callable[..., Store]) -> None:
    store = make_store()
    append(store, ipc_of("it's"))
    results = store.engine.run(
        "SELECT count(*) FROM logs WHERE message = ?",
        ["it's"],
        store.sources(),
        timeout_s=10,
        max_rows=10,
    )
    assert results.rows == [(1,)]
