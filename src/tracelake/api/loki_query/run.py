"""Running Loki's queries: LogQL, and the SQL of the label, series and index endpoints.

Both go through ``api.execute.run_query`` over ``logs``, so the server's time limit, row
cap and answer budget hold for Loki's queries as for every other.
"""

from __future__ import annotations

from typing import Any

from tracelake.api.context import AppContext
from tracelake.api.execute import run_query
from tracelake.query.logql.engine import LogQLEngine
from tracelake.query.sql import Sql
from tracelake.store.duck import Results


def logql_engine(ctx: AppContext) -> LogQLEngine:
    """A LogQL engine whose SQL runs as a ``logql`` query of the server."""

    async def runner(
        sql: Sql, *, start_ns: int | None, end_ns: int | None, max_rows: int, arrow: bool
    ) -> Results:
        return await run_query(
            ctx,
            sql.text,
            sql.params,
            kind="logql",
            tables=["logs"],
            start_us=None if start_ns is None else start_ns // 1000,
            end_us=None if end_ns is None else end_ns // 1000 + 1,
            max_rows=max_rows,
            arrow=arrow,
        )

    return LogQLEngine(runner, max_rows=ctx.settings.query_max_rows)


async def sql_rows(ctx: AppContext, sql: Sql, start: int, end: int) -> list[tuple[Any, ...]]:
    """The rows of ``sql`` over the lines from ``start`` to ``end`` (ns)."""
    results = await run_query(
        ctx, sql.text, sql.params, kind="logql", tables=["logs"],
        start_us=start // 1000, end_us=end // 1000 + 1,
    )  # fmt: skip
    return results.rows
