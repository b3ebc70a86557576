"""Loki's live tail over a WebSocket: recent lines, then each new line as it is stored.

A tail outlives any one query: it subscribes to the memtable and runs its LogQL over each
new batch alone, so it is kept apart from the request-and-answer handlers.
"""

from __future__ import annotations

import asyncio
import time

import pyarrow as pa
from starlette.websockets import WebSocket, WebSocketDisconnect

from tracelake.api.context import AppContext
from tracelake.api.loki_query.answers import streams_json
from tracelake.api.loki_query.params import (
    DEFAULT_SINCE_NS,
    LATEST_NS,
    Params,
    entry_limit,
    loki_time,
    one,
    query_text,
)
from tracelake.api.loki_query.run import logql_engine
from tracelake.api.responses import dumps
from tracelake.errors import TracelakeError
from tracelake.query.logql import ast
from tracelake.query.logql.engine import LogQLEngine, Stats
from tracelake.query.logql.errors import LogQLError
from tracelake.query.logql.parser import parse
from tracelake.query.sql import Sql
from tracelake.store.duck import Results, Source

TAIL_BACKLOG = 256
TAIL_HEARTBEAT_S = 15.0


async def tail(websocket: WebSocket) -> None:
    """``/loki/api/v1/tail``: the lines since ``start`` (``limit`` of them), then each new
    matching line as it is stored, as Loki's WebSocket frames ``{"streams": [...]}``."""
    ctx: AppContext = websocket.app.state.ctx
    params: Params = {k: [v] for k, v in websocket.query_params.items()}
    try:
        tree = parse(query_text(params))
        if not isinstance(tree, ast.LogQuery):
            raise LogQLError("tail needs a log query, not a metric query")
        limit = entry_limit(params, ctx)
        now = time.time_ns()
        start = loki_time(one(params, "start"), "start", now - DEFAULT_SINCE_NS)
    except TracelakeError as e:
        await websocket.accept()
        await websocket.send_text(e.message)
        await websocket.close(code=1008, reason=e.message[:120])
        return
    loop = asyncio.get_running_loop()
    batches: asyncio.Queue[pa.RecordBatch] = asyncio.Queue(TAIL_BACKLOG)

    def on_batch(table: str, batch: pa.RecordBatch) -> None:
        if table == "logs":
            loop.call_soon_threadsafe(_offer, batches, batch)

    unsubscribe = ctx.store.memtable.subscribe(on_batch)
    await websocket.accept()
    closed = asyncio.Event()

    async def watch() -> None:
        try:
            while True:
                await websocket.receive_text()
        except (WebSocketDisconnect, RuntimeError):
            closed.set()

    watcher = asyncio.create_task(watch())
    try:
        backfill = await logql_engine(ctx).logs(tree, start, now, limit, False, Stats())
        if backfill:
            await websocket.send_bytes(dumps({"streams": streams_json(backfill[::-1], False)}))
        live = _BatchEngine(ctx)
        while not closed.is_set():
            try:
                batch = await asyncio.wait_for(batches.get(), TAIL_HEARTBEAT_S)
            except TimeoutError:
                continue
            live.batch = batch
            entries = await live.engine.logs(
                tree, now, LATEST_NS, ctx.settings.query_max_rows, True, Stats()
            )
            if entries:
                await websocket.send_text(dumps({"streams": streams_json(entries, False)}).decode())
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        unsubscribe()
        watcher.cancel()


class _BatchEngine:
    """An engine whose ``logs`` is one memtable batch: what the tail runs over."""

    def __init__(self, ctx: AppContext) -> None:
        self.batch: pa.RecordBatch | None = None

        async def runner(
            sql: Sql, *, start_ns: int | None, end_ns: int | None, max_rows: int, arrow: bool
        ) -> Results:
            assert self.batch is not None
            source = {"logs": Source([], pa.Table.from_batches([self.batch]))}
            return await asyncio.to_thread(
                ctx.store.engine.run,
                sql.text,
                sql.params,
                source,
                timeout_s=ctx.settings.query_timeout_s,
                max_rows=max_rows,
                arrow=arrow,
            )

        self.engine = LogQLEngine(runner, max_rows=ctx.settings.query_max_rows)


def _offer(queue: asyncio.Queue[pa.RecordBatch], batch: pa.RecordBatch) -> None:
    if not queue.full():
        queue.put_nowait(batch)
