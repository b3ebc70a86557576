"""DuckDB, sandboxed: every query of every language ends here.

A small pool of in-memory DuckDB connections, one per concurrent query. Each is locked
down before use: file access only below the lake directory (and its own spill directory,
which DuckDB always allows; the SQL endpoint's statement check keeps users out of it), no
extensions, no ``ATTACH``, configuration frozen — so even the SQL endpoint cannot read
``/etc/passwd`` or change a setting. Per query, each table name (``logs`` …) is bound to a view over
its pruned Parquet segments plus the memtable's Arrow batches; that binding lives on
the query's own connection, so concurrent queries never see each other's views.
Each query has a time limit (``interrupt``) that covers fetching the rows too, a row cap
reported as ``truncated`` and, when asked, a byte budget for its answer, checked while the
rows are fetched in growing chunks so an oversized answer is never built whole;
each connection a memory limit; and a query that finds every connection busy for longer
than its own time limit is refused as ``Overloaded`` (503) rather than queued unbounded.
"""

from __future__ import annotations

import queue
import shutil
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa

from tracelake.errors import Overloaded, PayloadTooLarge, QueryError, QueryTimeout

#: Rows asked of DuckDB at most per fetch: the chunks start at one row and double.
MAX_FETCH_ROWS = 4096


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
        self,
        lake_dir: Path,
        *,
        threads: int,
        memory_limit: str,
        concurrency: int,
        temp_dir: Path | None = None,
    ) -> None:
        """``temp_dir`` is where queries spill past ``memory_limit`` (one subdirectory per
        connection, emptied here: it is the engine's own); without it nothing spills.
        DuckDB's default, ``.tmp`` under the process's working directory, is never used:
        DuckDB lets queries read its spill directory, which must not be the server's cwd."""
        self._lake_dir = lake_dir
        self._concurrency = concurrency
        self._memory_limit = memory_limit
        #: Server paths as DuckDB may write them in an error, and what a user sees instead.
        self._hidden = {str(lake_dir.resolve()): "<lake>"}
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)
            temp_dir.mkdir(parents=True)
            self._hidden[str(temp_dir.resolve())] = "<spill>"
        self._pool: queue.SimpleQueue[duckdb.DuckDBPyConnection] = queue.SimpleQueue()
        for i in range(concurrency):
            spill = "" if temp_dir is None else str((temp_dir / str(i)).resolve())
            self._pool.put(self._connect(threads, memory_limit, spill))

    def _connect(self, threads: int, memory_limit: str, spill: str) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(
            config={"threads": threads, "memory_limit": memory_limit, "temp_directory": spill}
        )
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
        max_bytes: int | None = None,
        arrow: bool = False,
    ) -> Results:
        """Execute one statement; raise QueryTimeout past ``timeout_s``, fetching included.

        Waits at most ``timeout_s`` for a free connection, then raises ``Overloaded``. With
        ``max_bytes``, rows whose JSON would pass it raise ``PayloadTooLarge`` (413) as soon
        as the fetched part does: a client asking for gigabytes gets a one-line answer, and
        the server never holds more than about the budget plus one chunk of DuckDB's.
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
        deadline = started + timeout_s
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
                rows = _fetch(cursor, max_rows, max_bytes, deadline)
            if time.perf_counter() > deadline:
                timed_out.set()
                raise duckdb.InterruptException("time limit")
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
            raise QueryError(self._hide_paths(_first_line(e))) from e
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

    def _hide_paths(self, message: str) -> str:
        """An error is for the user: it names the lake, never where the server keeps it."""
        for path, name in self._hidden.items():
            message = message.replace(path, name)
        return message

    @staticmethod
    def _bind(con: duckdb.DuckDBPyConnection, name: str, source: Source) -> None:
        mem_name = f"tl_mem_{name}"
        con.register(mem_name, source.memory)
        relation = con.table(mem_name)
        if source.files:
            files = con.read_parquet(list(source.files), union_by_name=True)
            if files.columns != relation.columns:
                # files written before a column existed (``logs._id``) read it as null
                have = set(files.columns)
                files = files.project(
                    ", ".join(
                        _quoted(c) if c in have else f"CAST(NULL AS {t}) AS {_quoted(c)}"
                        for c, t in zip(relation.columns, relation.types, strict=True)
                    )
                )
            relation = files.union(relation)
        relation.create_view(name, replace=True)


def _fetch(
    cursor: duckdb.DuckDBPyConnection, max_rows: int, max_bytes: int | None, deadline: float
) -> list[tuple[Any, ...]]:
    """Up to ``max_rows + 1`` rows, in chunks that start at one row and grow while the
    answer stays within ``max_bytes``; past it, or past the deadline, stop fetching."""
    if max_bytes is None:
        return cursor.fetchmany(max_rows + 1)
    rows: list[tuple[Any, ...]] = []
    size = 0
    want = 1
    while len(rows) <= max_rows:
        chunk = cursor.fetchmany(min(want, max_rows + 1 - len(rows)))
        if not chunk:
            break
        size += answer_bytes(chunk[: max_rows - len(rows)])
        rows.extend(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(
                f"the answer passed query_max_answer_bytes ({max_bytes} bytes) after "
                f"{len(rows)} rows: select fewer or narrower columns, aggregate, or add a LIMIT"
            )
        if time.perf_counter() > deadline:
            raise duckdb.InterruptException("time limit")
        # The next chunk should fit the budget left, going by the rows seen so far.
        fits = int((max_bytes - size) * len(rows) / max(size, 1))
        want = max(1, min(want * 2, fits, MAX_FETCH_ROWS))
    return rows


def answer_bytes(rows: Sequence[tuple[Any, ...]]) -> int:
    """About the size of ``rows`` as the JSON of an answer (types orjson lacks, as text)."""
    option = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
    return len(orjson.dumps(rows, default=str, option=option))


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
