"""The query engine's sandbox, time limit and row cap."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

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


def test_queries_spill_inside_the_data_directory_and_read_only_the_lake_there(
    make_store: Callable[..., Store], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB's default spill directory is ``.tmp`` under the working directory, which it
    then lets every query read: the engine spills inside the data directory instead, one
    directory per connection, and allows nothing else besides the lake."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".tmp").mkdir()
    (tmp_path / ".tmp" / "s.txt").write_text("cwd secret")
    store = make_store()
    data = store.root.resolve()
    allowed = store.engine.run(
        "SELECT current_setting('allowed_directories')", [], {}, timeout_s=10, max_rows=1
    ).rows[0][0]
    # the connection that ran it: any of the pool's (the store's own queries at open
    # took turns on them)
    lake, spill = sorted(allowed)
    assert lake == f"{data}/lake/"
    assert re.fullmatch(re.escape(f"{data}/tmp/duckdb/") + r"\d+/", spill)
    for path in (".tmp/s.txt", f"{tmp_path}/.tmp/s.txt", f"{data}/wal/*", "/etc/passwd"):
        with pytest.raises(QueryError, match="Permission"):
            store.engine.run(f"SELECT * FROM read_text('{path}')", [], {}, timeout_s=10, max_rows=1)


def test_errors_name_the_lake_never_its_path_on_the_server(
    make_store: Callable[..., Store],
) -> None:
    """A DuckDB error may quote a file path; the user sees ``<lake>`` in its place."""
    store = make_store()
    lake = str(store.lake.resolve())
    with pytest.raises(QueryError) as caught:
        store.engine.run(
            f"SELECT * FROM read_parquet('{lake}/logs/missing.parquet')",
            [],
            {},
            timeout_s=10,
            max_rows=1,
        )
    assert "<lake>/logs/missing.parquet" in caught.value.message
    assert lake not in caught.value.message
