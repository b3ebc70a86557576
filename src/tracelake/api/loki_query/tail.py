"""Loki's live tail over a WebSocket: recent lines, then each new line as it is stored.

A tail outlives any one query: it follows the new ``logs`` batches (``api/live.py``) and
runs its LogQL over each alone, so it is kept apart from the request-and-answer handlers.
"""

from __future__ import annotations

import asyncio
import time

import pyarrow as pa
from starlette.websockets import WebSocket, WebSocketDisconnect

from tracelake.api.context import AppContext
from tracelake.api.live import LiveLogs
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
from tracelake.store.duck import Results


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
    live = LiveLogs(ctx)
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
        engine = _BatchEngine(live)
        while not closed.is_set():
            batch = await live.next()
            if batch is None:
                continue
            engine.batch = batch
            entries = await engine.engine.logs(
                tree, now, LATEST_NS, ctx.settings.query_max_rows, True, Stats()
            )
            if entries:
                await websocket.send_text(dumps({"streams": streams_json(entries, False)}).decode())
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        live.close()
        watcher.cancel()


class _BatchEngine:
    """A LogQL engine whose ``logs`` is one new batch: what the tail runs over."""

    def __init__(self, live: LiveLogs) -> None:
        self.batch: pa.RecordBatch | None = None

        async def runner(
            sql: Sql, *, start_ns: int | None, end_ns: int | None, max_rows: int, arrow: bool
        ) -> Results:
            assert self.batch is not None
            return await live.query(
                self.batch, sql.text, sql.params, max_rows=max_rows, arrow=arrow
            )

        self.engine = LogQLEngine(runner, max_rows=live.ctx.settings.query_max_rows)
