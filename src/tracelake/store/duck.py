"""DuckDB, sandboxed: every query of every language ends here.

A small pool of in-memory DuckDB connections, one per concurrent query. Each is locked
down before use: file access only below the lake directory, no extensions, no
``ATTACH``, configuration frozen — so even the SQL endpoint cannot read ``/etc/passwd``
or change a setting. Per query, each table name (``logs`` …) is bound to a view over
its pruned Parquet segments plus the memtable's Arrow batches; that binding lives on
the query's own connection, so concurrent queries never see each other's views.
Each query has a time limit (``interrupt``) and a row cap reported as ``truncated``;
each connection a memory limit; and a query that finds every connection busy for longer
than its own time limit is refused as ``Overloaded`` (503) rather than queued unbounded.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from tracelake.errors import Overloaded, QueryError, QueryTimeout


@dataclass(frozen=True, slots=True)
class Source:
    """What a table name means for one query: segment files plus in-memory rows."""

    files: Sequence[str]
    memory: pa.Table


@dataclass(frozen=True, slots=True)
class Results:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool
    elapsed_ms: float = 0.0
    #: With ``run(..., arrow=True)``: the rows as one Arrow table (``rows`` is empty), for
    #: callers that read millions of values and must not make a Python object of each.
    table: pa.Table | None = None


class QueryEngine:
    """Runs SQL with bound parameters over named sources, within time and row limits."""

    def __init__(
        self, lake_dir: Path, *, threads: int, memory_limit: str, concurrency: int
    ) -> None:
        self._lake_dir = lake_dir
        self._concurrency = concurrency
        self._memory_limit = memory_limit
        self._pool: queue.SimpleQueue[duckdb.DuckDBPyConnection] = queue.SimpleQueue()
        for _ in range(concurrency):
            self._pool.put(self._connect(threads, memory_limit))

    def _connect(self, threads: int, memory_limit: str) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(config={"threads": threads, "memory_limit": memory_limit})
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET parquet_metadata_cache = true")
        con.execute("SET allowed_directories = ?", [[str(self._lake_dir.resolve()) + "/"]])
        con.execute("SET autoinstall_known_extensions = false")
        con.execute("SET autoload_known_extensions = false")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        return con

    def run(
        self,
        sql: str,
        params: Sequence[Any],
        sources: Mapping[str, Source],
        *,
        timeout_s: float,
        max_rows: int,
        arrow: bool = False,
    ) -> Results:
        """Execute one statement; raise QueryTimeout past ``timeout_s``.

        Waits at most ``timeout_s`` for a free connection, then raises ``Overloaded``.
        """
        try:
            con = self._pool.get(timeout=timeout_s)
        except queue.Empty:
            raise Overloaded(
                f"all {self._concurrency} query slots (query_concurrency) stayed busy for "
                f"{timeout_s:g} s: retry later",
                retry_after=max(1, round(timeout_s)),
            ) from None
        timed_out = threading.Event()

        def interrupt() -> None:
            timed_out.set()
            con.interrupt()

        timer = threading.Timer(timeout_s, interrupt)
        started = time.perf_counter()
        try:
            for name, source in sources.items():
                self._bind(con, name, source)
            timer.start()
            table = None
            if arrow:
                table = con.sql(sql, params=list(params)).limit(max_rows + 1).to_arrow_table()
                columns, rows = table.column_names, []
            else:
                cursor = con.execute(sql, list(params))
                columns = [d[0] for d in cursor.description or ()]
                rows = cursor.fetchmany(max_rows + 1)
        except duckdb.InterruptException as e:
            raise QueryTimeout(
                f"query ran past its time limit of {timeout_s:g} s: narrow the time range or filter more"
            ) from e
        except duckdb.OutOfMemoryException as e:
            raise QueryError(
                f"query needs more memory than query_memory_limit ({self._memory_limit}): "
                "narrow the time range, filter or aggregate more"
            ) from e
        except duckdb.Error as e:
            if timed_out.is_set():
                raise QueryTimeout(f"query ran past its time limit of {timeout_s:g} s") from e
            raise QueryError(_first_line(e)) from e
        finally:
            timer.cancel()
            con.abort()  # drop the unread rest of a capped result
            for name in sources:
                con.unregister(f"tl_mem_{name}")
            self._pool.put(con)
        elapsed_ms = (time.perf_counter() - started) * 1000
        if table is not None:
            truncated = table.num_rows > max_rows
            return Results(columns, [], truncated, elapsed_ms, table.slice(0, max_rows))
        truncated = len(rows) > max_rows
        return Results(columns, rows[:max_rows], truncated, elapsed_ms)

    @staticmethod
    def _bind(con: duckdb.DuckDBPyConnection, name: str, source: Source) -> None:
        mem_name = f"tl_mem_{name}"
        con.register(mem_name, source.memory)
        relation = con.table(mem_name)
        if source.files:
            relation = con.read_parquet(list(source.files), union_by_name=True).union(relation)
        relation.create_view(name, replace=True)


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
