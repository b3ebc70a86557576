"""Running a query for a route: the store's ``query`` off the event loop, counted."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
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
) -> Results:
    """Execute ``sql`` over ``tables`` (all when None), pruned to [start, end)."""
    started = time.perf_counter()
    try:
        results = await asyncio.to_thread(
            ctx.store.query,
            sql,
            params,
            tables=tables,
            start_us=start_us,
            end_us=end_us,
            max_bytes=ctx.settings.query_max_answer_bytes,
        )
    except TracelakeError:
        ctx.metrics.queries.labels(kind, "error").inc()
        raise
    ctx.metrics.queries.labels(kind, "ok").inc()
    ctx.metrics.query_seconds.labels(kind).observe(time.perf_counter() - started)
    return results
