"""``GET /api/v1/search`` and ``GET /api/v1/tail``: the search language over ``logs``
(search also over ``events`` with ``table=events``).

Both compile the query once (``tracelake.query``); search runs it over the segments
that overlap the time range plus the memtable, tail runs its filter over every new
batch as the WAL applies it and streams matches as server-sent events.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from tracelake.api.context import context
from tracelake.api.endpoints import READ, Endpoint
from tracelake.api.execute import run_query
from tracelake.api.live import LiveLogs
from tracelake.api.openapi import TIME, answer, error_answers, query_param, schema
from tracelake.api.params import bounded_int, parse_time
from tracelake.api.responses import JSON, dumps
from tracelake.errors import BadRequest
from tracelake.query import compile_query
from tracelake.store.duck import Results

DEFAULT_ROWS = 100


def _micros(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1_000_000)


def rows_as_objects(results: Results) -> list[dict[str, Any]]:
    """Rows keyed by column; ``attributes`` and ``payload`` JSON text is embedded as
    JSON, not a string."""
    columns = results.columns
    out = []
    for row in results.rows:
        item = dict(zip(columns, row, strict=True))
        for name in ("attributes", "payload"):
            value = item.get(name)
            if isinstance(value, str):
                item[name] = orjson.Fragment(value)
        out.append(item)
    return out


async def search(request: Request) -> Response:
    ctx = context(request)
    params = request.query_params
    now = datetime.now(UTC)
    text = params.get("q", "")
    table = params.get("table", "logs")
    start = parse_time(params.get("from"), "from", now)
    end = parse_time(params.get("to"), "to", now)
    if start is not None and end is not None and start >= end:
        raise BadRequest(f"from ({start.isoformat()}) must be before to ({end.isoformat()})")
    cap = ctx.settings.query_max_rows
    limit = bounded_int(request, "limit", 0, 1, cap)
    compiled = compile_query(text, start=start, end=end, limit=limit or cap, table=table)
    if not limit and compiled.kind == "rows":  # rows default to a page; stats to every bucket
        compiled = compile_query(text, start=start, end=end, limit=DEFAULT_ROWS, table=table)
    results = await run_query(
        ctx,
        compiled.sql,
        compiled.params,
        kind="search",
        tables=[table],
        start_us=_micros(compiled.start),
        end_us=_micros(compiled.end),
    )
    body: dict[str, Any] = {
        "kind": compiled.kind,
        "columns": results.columns,
        "rows": rows_as_objects(results),
        "truncated": results.truncated,
        "took_ms": round(results.elapsed_ms, 2),
    }
    if params.get("explain") in ("1", "true"):
        body["sql"] = compiled.sql
        body["params"] = compiled.params
    return JSON(body)


async def tail(request: Request) -> Response:
    """Matching new lines as server-sent events (``data: {row}``), oldest first."""
    ctx = context(request)
    compiled = compile_query(request.query_params.get("q", ""), limit=ctx.settings.query_max_rows)
    sql = f"SELECT * FROM logs WHERE {compiled.where_sql} ORDER BY timestamp"  # noqa: S608 - compiler output, values are bound
    live = LiveLogs(ctx)

    async def events() -> AsyncIterator[bytes]:
        try:
            yield b": tail started\n\n"
            while True:
                batch = await live.next()
                if batch is None:
                    yield b": ping\n\n"
                    continue
                results = await live.query(batch, sql, compiled.where_params)
                for row in rows_as_objects(results):
                    yield b"data: " + dumps(row) + b"\n\n"
        finally:
            live.close()

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


endpoints = [
    Endpoint(
        "/api/v1/search",
        search,
        ("GET",),
        READ,
        doc={
            "operationId": "search",
            "summary": "Run the search language over logs (or events)",
            "tags": ["query"],
            "parameters": [
                query_param(
                    "q",
                    "search language, e.g. service:orders level:error | stats count() by bin(5m)",
                    {"type": "string"},
                ),
                query_param("from", "start of the time range", TIME),
                query_param("to", "end of the time range", TIME),
                query_param(
                    "limit",
                    "rows to return, 1 to query_max_rows",
                    {"type": "integer", "minimum": 1},
                ),
                query_param(
                    "table", "table searched", {"type": "string", "enum": ["logs", "events"]}
                ),
                query_param(
                    "explain",
                    "also return the SQL and its bound parameters",
                    {"type": "string", "enum": ["1", "true", "0", "false"]},
                ),
            ],
            "responses": {
                "200": answer(schema("SearchResult")),
                **error_answers("BadRequest", "AnswerTooLarge", "Overloaded", "QueryTimeout"),
            },
        },
    ),
    Endpoint(
        "/api/v1/tail",
        tail,
        ("GET",),
        READ,
        doc={
            "operationId": "tail",
            "summary": "New matching log lines as server-sent events (data: {row}), until the"
            " client leaves",
            "tags": ["query"],
            "parameters": [query_param("q", "search language filter", {"type": "string"})],
            "responses": {
                "200": {
                    "description": "an endless text/event-stream",
                    "content": {"text/event-stream": {"schema": {"type": "string"}}},
                },
                **error_answers("BadRequest"),
            },
        },
    ),
]
