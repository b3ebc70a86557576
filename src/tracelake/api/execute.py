"""Running a query for a route: the store's ``query`` off the event loop, counted."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tracelake.api.context import AppContext
from tracelake.errors import TracelakeError
from tracelake.store.duck import Results


async def run_query(
    ctx: AppContext,
    sql: str,
    params: Sequence[Any],
    *,
    kind: str,
    tables: list[str] | None = None,
    start_us: int | None = None,
    end_us: int | None = None,
    max_rows: int | None = None,
    arrow: bool = False,
    as_of: int | datetime | None = None,
) -> Results:
    """Execute ``sql`` over ``tables`` (all when None), pruned to [start, end).

    ``max_rows`` replaces the row cap for answers that are not rows (LogQL's time
    buckets); ``arrow`` returns them as one Arrow table (no byte budget then: the caller
    aggregates them); ``as_of`` (a table version or a time) reads the tables as their
    commit logs had them then (``Store.sources``)."""
    started = time.perf_counter()
    try:
        results = await asyncio.to_thread(
            ctx.store.query,
            sql,
            params,
            tables=tables,
            start_us=start_us,
            end_us=end_us,
            max_rows=max_rows,
            max_bytes=None if arrow else ctx.settings.query_max_answer_bytes,
            arrow=arrow,
            as_of=as_of,
        )
    except TracelakeError:
        ctx.metrics.queries.labels(kind, "error").inc()
        raise
    ctx.metrics.queries.labels(kind, "ok").inc()
    ctx.metrics.query_seconds.labels(kind).observe(time.perf_counter() - started)
    return results
