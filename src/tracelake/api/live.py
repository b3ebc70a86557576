"""New ``logs`` batches as they are stored, for the live tails (the search language's
server-sent events, Loki's WebSocket).

A tail outlives any one query: it subscribes to the memtable and runs its filter over
each new batch alone. The subscription's callback comes from the store's writer thread;
batches cross to the event loop through a bounded queue, so a slow client skips batches
instead of holding memory without bound.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from tracelake.api.context import AppContext
from tracelake.store.duck import Results, Source

#: New batches a slow tail client may fall behind by before batches are skipped.
TAIL_BACKLOG = 256
#: How long a tail waits for a batch before it says it is still alive.
TAIL_HEARTBEAT_S = 15.0


class LiveLogs:
    """The ``logs`` batches stored from now on; subscribed until ``close``."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        loop = asyncio.get_running_loop()
        self._batches: asyncio.Queue[pa.RecordBatch] = asyncio.Queue(TAIL_BACKLOG)

        def on_batch(table: str, batch: pa.RecordBatch) -> None:
            if table == "logs":
                loop.call_soon_threadsafe(self._offer, batch)

        self._unsubscribe = ctx.store.memtable.subscribe(on_batch)

    def _offer(self, batch: pa.RecordBatch) -> None:
        if not self._batches.full():
            self._batches.put_nowait(batch)

    async def next(self) -> pa.RecordBatch | None:
        """The next new batch, or None after ``TAIL_HEARTBEAT_S`` without one."""
        try:
            return await asyncio.wait_for(self._batches.get(), TAIL_HEARTBEAT_S)
        except TimeoutError:
            return None

    async def query(
        self,
        batch: pa.RecordBatch,
        sql: str,
        params: Sequence[Any],
        *,
        max_rows: int | None = None,
        arrow: bool = False,
    ) -> Results:
        """``sql`` over ``batch`` alone as the ``logs`` table, off the event loop."""
        s = self.ctx.settings
        return await asyncio.to_thread(
            self.ctx.store.engine.run,
            sql,
            params,
            {"logs": Source([], pa.Table.from_batches([batch]))},
            timeout_s=s.query_timeout_s,
            max_rows=s.query_max_rows if max_rows is None else max_rows,
            arrow=arrow,
        )

    def close(self) -> None:
        self._unsubscribe()
