"""Loki's query API, for Grafana's Loki data source and logcli: LogQL over ``logs``.

Served twice: at Loki's own paths (``/loki/api/v1/...``, data source URL
``http://host:7700``) and under ``/loki`` (``/loki/loki/api/v1/...``, data source URL
``http://host:7700/loki``, beside ``/prometheus`` and ``/zipkin``): Grafana appends
``/loki/api/v1/...`` to the URL it is given. Answers use Loki's JSON envelope
``{"status":"success","data":{"resultType":…,"result":[…],"stats":{…}}}``; errors are
Loki's plain-text bodies (400 for a query that does not parse or is not supported,
naming what). Times are Loki's: epoch nanoseconds (seconds when ten digits or fewer),
float seconds or RFC 3339. Every query runs through ``api.execute.run_query`` with the
server's time limit, row cap and answer budget; docs/loki.md describes it all.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

import numpy as np
import pyarrow as pa
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.websockets import WebSocket, WebSocketDisconnect

from tracelake import __version__
from tracelake.api.context import AppContext, context
from tracelake.api.endpoints import PUBLIC, READ, Endpoint
from tracelake.api.execute import run_query
from tracelake.api.params import read_body
from tracelake.api.responses import JSON, dumps
from tracelake.errors import BadRequest, Overloaded, PayloadTooLarge, TracelakeError
from tracelake.query.bounds import LATEST_S, TIME_RANGE
from tracelake.query.logql import ast
from tracelake.query.logql.engine import Answer, LogQLEngine, Stats
from tracelake.query.logql.errors import LogQLError
from tracelake.query.logql.labels import STREAM_LABELS, Entry
from tracelake.query.logql.parser import parse, parse_selector
from tracelake.query.logql.pipeline import compile_pipeline, run_pipeline
from tracelake.query.logql.sql import (
    attribute_keys_sql,
    index_stats_sql,
    label_values_sql,
    present_sql,
    series_sql,
    where_sql,
)
from tracelake.query.logql.units import bytes_value, duration_ns
from tracelake.query.logql.vectors import Labels, Series, labels_of
from tracelake.query.promql.format import format_time, format_value
from tracelake.query.sql import Sql
from tracelake.store.duck import Results, Source

MAX_FORM_BYTES = 1024 * 1024
#: Loki's defaults: a query reads the last hour and returns 100 lines.
DEFAULT_SINCE_NS = 3600 * 10**9
DEFAULT_LIMIT = 100
#: Loki refuses a range query with more points than this per series.
MAX_POINTS = 11_000
#: The Loki version we answer as: Grafana picks its query features by it.
LOKI_VERSION = "3.4.0"
CATEGORIZE = "categorize-labels"
_LATEST_NS = int(LATEST_S) * 10**9
_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
TAIL_BACKLOG = 256
TAIL_HEARTBEAT_S = 15.0

Params = dict[str, list[str]]
Handler = Callable[[Request, AppContext, Params], Awaitable[Response]]


# --- requests ------------------------------------------------------------------------


async def _params(request: Request) -> Params:
    """Query-string and form-body parameters together, as Go's ParseForm reads them."""
    params: Params = {}
    if request.method == "POST":
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind not in ("", "application/x-www-form-urlencoded"):
            raise BadRequest(f"POST bodies must be application/x-www-form-urlencoded, not {kind!r}")
        body = await read_body(request, MAX_FORM_BYTES)
        for key, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
            params.setdefault(key, []).append(value)
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    return params


def _one(params: Params, name: str) -> str:
    values = params.get(name)
    return values[0].strip() if values else ""


def loki_time(text: str, name: str, default_ns: int) -> int:
    """Epoch ns (or s when ten digits or fewer), float seconds or RFC 3339, as Loki."""
    if not text:
        return default_ns
    ns: int | None = None
    try:
        if "." in text and not text.count("-"):
            ns = round(float(text) * 1e9)
        elif text.isdigit():
            ns = int(text) * 10**9 if len(text) <= 10 else int(text)
    except ValueError:
        ns = None
    if ns is None:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise BadRequest(
                f'invalid parameter "{name}": cannot parse "{text}" to a valid timestamp: '
                "give epoch nanoseconds, seconds or RFC 3339 (2026-01-02T03:04:05Z)"
            ) from None
        if moment.tzinfo is None:
            raise BadRequest(f'invalid parameter "{name}": RFC 3339 times need a zone ({text})')
        ns = round(moment.timestamp() * 1e6) * 1000
    if not 0 <= ns <= _LATEST_NS or math.isnan(ns):
        raise BadRequest(f'invalid parameter "{name}": {text} is outside {TIME_RANGE}')
    return ns


def _bounds(params: Params) -> tuple[int, int]:
    """``start``/``end`` (or ``since`` before ``end``), defaulting to the last hour."""
    now = time.time_ns()
    end = loki_time(_one(params, "end"), "end", now)
    since = _one(params, "since")
    default_start = end - DEFAULT_SINCE_NS
    if since:
        default_start = end - loki_duration(since, "since")
    start = loki_time(_one(params, "start"), "start", max(default_start, 0))
    if end < start:
        raise BadRequest("end timestamp must not be before start time")
    return start, end


def _limit(params: Params, ctx: AppContext, default: int = DEFAULT_LIMIT) -> int:
    text = _one(params, "limit")
    if not text:
        return min(default, ctx.settings.query_max_rows)
    try:
        value = int(text)
    except ValueError:
        raise BadRequest(f'invalid parameter "limit": {text!r} is not a whole number') from None
    if value <= 0:
        raise BadRequest("limit must be a positive value")
    cap = ctx.settings.query_max_rows
    if value > cap:
        raise BadRequest(
            f"max entries limit per query exceeded, limit > max_entries_limit ({value} > {cap})"
        )
    return value


def _forward(params: Params) -> bool:
    text = _one(params, "direction").lower() or "backward"
    if text not in ("forward", "backward"):
        raise BadRequest(f"invalid direction '{text}': forward or backward")
    return text == "forward"


def _query(params: Params) -> str:
    text = _one(params, "query")
    if not text:
        raise BadRequest('invalid parameter "query": no query given')
    return text


def loki_duration(text: str, name: str) -> int:
    """Nanoseconds of float seconds or a duration (Prometheus's ``1m30s`` or Go's
    ``1.5s``/``1m0s``, which Grafana sends), as Loki reads ``step``/``since``/``interval``."""
    try:
        seconds = float(text)
    except ValueError:
        ns = duration_ns(text)
    else:
        ns = round(seconds * 1e9) if math.isfinite(seconds) else None
    if ns is None or abs(ns) > _LATEST_NS:
        raise BadRequest(
            f'invalid parameter "{name}": cannot parse "{text}" to a valid duration: '
            "give seconds (15) or a duration (15s, 1m30s)"
        )
    return ns


def _ns_param(params: Params, name: str) -> int:
    text = _one(params, name)
    return 0 if not text else loki_duration(text, name)


def _default_step(start: int, end: int) -> int:
    """Loki's default step: the range in 250 points, whole seconds, at least one."""
    return max(math.floor((end - start) / 1e9 / 250), 1) * 10**9


# --- running ------------------------------------------------------------------------


def _engine(ctx: AppContext) -> LogQLEngine:
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


def _stats(stats: Stats) -> dict[str, Any]:
    """Loki's ``stats`` object: the summary Grafana shows, the rest present and zero."""
    elapsed = max(stats.elapsed(), 1e-9)
    return {
        "summary": {
            "bytesProcessedPerSecond": int(stats.bytes / elapsed),
            "linesProcessedPerSecond": int(stats.lines / elapsed),
            "totalBytesProcessed": stats.bytes,
            "totalLinesProcessed": stats.lines,
            "execTime": elapsed,
            "queueTime": 0,
            "subqueries": 0,
            "totalEntriesReturned": stats.returned,
            "splits": 0,
            "shards": 0,
            "totalPostFilterLines": stats.returned,
            "totalStructuredMetadataBytesProcessed": 0,
        },
        "querier": {"store": {"totalChunksRef": 0, "totalChunksDownloaded": 0}},
        "ingester": {
            "totalReached": 0,
            "totalChunksMatched": 0,
            "totalBatches": 0,
            "totalLinesSent": 0,
        },
        "cache": {},
    }


def streams_json(entries: list[Entry], categorize: bool) -> list[dict[str, Any]]:
    """Entries grouped into streams; with ``categorize`` the stream is the stream labels
    and each entry carries its structured metadata and parsed labels, as Loki 3 does."""
    groups: dict[Labels, list[list[Any]]] = {}
    for e in entries:
        if categorize:
            extra: dict[str, dict[str, str]] = {}
            if e.meta:
                extra["structuredMetadata"] = e.meta
            if e.parsed:
                extra["parsed"] = e.parsed
            value: list[Any] = [str(e.ts), e.line, extra] if extra else [str(e.ts), e.line]
            groups.setdefault(labels_of(e.stream), []).append(value)
        else:
            groups.setdefault(labels_of(e.labels()), []).append([str(e.ts), e.line])
    return [{"stream": dict(k), "values": v} for k, v in sorted(groups.items())]


def _points(steps: np.ndarray, values: np.ndarray) -> list[list[Any]]:
    return [
        [format_time(int(t) // 10**6), format_value(float(v))]
        for t, v in zip(steps, values, strict=True)
        if not math.isnan(v)
    ]


def answer_data(answer: Answer, categorize: bool) -> dict[str, Any]:
    data: dict[str, Any] = {"resultType": answer.kind}
    if answer.kind == "streams":
        data["result"] = streams_json(answer.entries, categorize)
        if categorize:
            data["encodingFlags"] = [CATEGORIZE]
    elif answer.kind == "scalar":
        assert answer.scalar is not None
        t = format_time(int(answer.steps[-1]) // 10**6)
        data["result"] = [t, format_value(float(answer.scalar[-1]))]
    elif answer.kind == "vector":
        t = format_time(int(answer.steps[-1]) // 10**6)
        data["result"] = [
            {"metric": dict(k), "value": [t, format_value(float(v[-1]))]}
            for k, v in sorted(answer.series.items())
        ]
    else:
        data["result"] = [
            {"metric": dict(k), "values": _points(answer.steps, v)}
            for k, v in sorted(answer.series.items())
        ]
    data["stats"] = _stats(answer.stats)
    return data


def _categorize(request: Request) -> bool:
    flags = request.headers.get("x-loki-response-encoding-flags", "")
    return CATEGORIZE in (f.strip() for f in flags.split(","))


def endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A route answering Loki's way: errors as a plain-text line with their status."""

    async def route(request: Request) -> Response:
        ctx = context(request)
        try:
            return await handler(request, ctx, await _params(request))
        except Overloaded as e:
            return PlainTextResponse(
                e.message, e.status, headers={"Retry-After": str(e.retry_after)}
            )
        except TracelakeError as e:
            return PlainTextResponse(e.message, e.status)

    return route


def _json(body: Any) -> Response:
    return JSON(body)


# --- query and query_range ---------------------------------------------------------------


async def query_range(request: Request, ctx: AppContext, params: Params) -> Response:
    text = _query(params)
    start, end = _bounds(params)
    step = _ns_param(params, "step") or _default_step(start, end)
    if step <= 0:
        raise BadRequest(
            "zero or negative query resolution step widths are not accepted. Try a positive integer"
        )
    if (end - start) // step > MAX_POINTS:
        raise BadRequest(
            "exceeded maximum resolution of 11,000 points per timeseries. Try increasing "
            "the value of the step parameter"
        )
    answer = await _engine(ctx).query(
        text,
        start_ns=start,
        end_ns=end,
        step_ns=step,
        limit=_limit(params, ctx),
        forward=_forward(params),
        interval_ns=_ns_param(params, "interval"),
    )
    return await _answer(ctx, answer, _categorize(request))


async def query(request: Request, ctx: AppContext, params: Params) -> Response:
    text = _query(params)
    at = loki_time(_one(params, "time"), "time", time.time_ns())
    tree = parse(text)
    if isinstance(tree, ast.LogQuery):
        raise BadRequest(
            "log queries are not supported as an instant query type, please change your "
            "query to a range query type"
        )
    answer = await _engine(ctx).query(
        text,
        start_ns=at,
        end_ns=at,
        step_ns=0,
        limit=_limit(params, ctx),
        forward=_forward(params),
        instant=True,
    )
    return await _answer(ctx, answer, _categorize(request))


async def _answer(ctx: AppContext, answer: Answer, categorize: bool) -> Response:
    body = {"status": "success", "data": answer_data(answer, categorize)}
    encoded = await asyncio.to_thread(dumps, body)
    budget = ctx.settings.query_max_answer_bytes
    if len(encoded) > budget:
        raise PayloadTooLarge(
            f"the answer passed query_max_answer_bytes ({budget} bytes): lower the limit, "
            "narrow the selector or aggregate"
        )
    return Response(encoded, media_type="application/json")


# --- labels, series, index ------------------------------------------------------------


def _selector_where(params: Params, start: int, end: int, name: str = "query") -> Sql:
    text = _one(params, name)
    matchers: tuple[ast.Matcher, ...] = ()
    filters: list[ast.LineFilter] = []
    if text and text != "{}":
        tree = parse(text)
        if not isinstance(tree, ast.LogQuery):
            raise BadRequest(f'{name} must be a stream selector, such as {{service="api"}}')
        matchers = tree.matchers
        filters = [s for s in tree.stages if isinstance(s, ast.LineFilter)]
    return where_sql(matchers, filters, from_ns=start, until_ns=end)


async def _rows(ctx: AppContext, sql: Sql, start: int, end: int) -> list[tuple[Any, ...]]:
    results = await run_query(
        ctx, sql.text, sql.params, kind="logql", tables=["logs"],
        start_us=start // 1000, end_us=end // 1000 + 1,
    )  # fmt: skip
    return results.rows


async def labels(request: Request, ctx: AppContext, params: Params) -> Response:
    start, end = _bounds(params)
    where = _selector_where(params, start, end)
    counts = (await _rows(ctx, present_sql(where), start, end))[0]
    names = {n for n, c in zip(STREAM_LABELS, counts, strict=True) if c}
    keys = await _rows(ctx, attribute_keys_sql(where, ctx.settings.query_max_rows), start, end)
    names |= {k for (k,) in keys if _LABEL_NAME.fullmatch(k)}
    return _json({"status": "success", "data": sorted(names)})


async def label_values(request: Request, ctx: AppContext, params: Params) -> Response:
    start, end = _bounds(params)
    where = _selector_where(params, start, end)
    sql = label_values_sql(request.path_params["name"], where, ctx.settings.query_max_rows)
    values = [v for (v,) in await _rows(ctx, sql, start, end) if v != ""]
    return _json({"status": "success", "data": values})


def _match_where(params: Params, start: int, end: int) -> Sql:
    groups = params.get("match[]") or params.get("match") or []
    if not groups:
        return where_sql((), (), from_ns=start, until_ns=end)
    ors = [where_sql(parse_selector(g), ()).wrap("(", ")") for g in groups]
    return Sql.join(
        " AND ",
        [where_sql((), (), from_ns=start, until_ns=end), Sql.join(" OR ", ors).wrap("(", ")")],
    )


async def series(request: Request, ctx: AppContext, params: Params) -> Response:
    start, end = _bounds(params)
    sql = series_sql(_match_where(params, start, end), ctx.settings.query_max_rows)
    data = [
        {n: v for n, v in zip(STREAM_LABELS, row, strict=True) if v}
        for row in await _rows(ctx, sql, start, end)
    ]
    return _json({"status": "success", "data": data})


async def index_stats(request: Request, ctx: AppContext, params: Params) -> Response:
    start, end = _bounds(params)
    sql = index_stats_sql(_selector_where(params, start, end))
    streams, entries, size = (await _rows(ctx, sql, start, end))[0]
    return _json({"streams": streams, "chunks": streams, "entries": entries, "bytes": int(size)})


def _volume_query(params: Params) -> tuple[tuple[ast.Matcher, ...], tuple[str, ...]]:
    text = _query(params)
    matchers = parse_selector(text)
    targets = tuple(t.strip() for t in _one(params, "targetLabels").split(",") if t.strip())
    if not targets:
        targets = tuple(dict.fromkeys(m.name for m in matchers))
    return matchers, targets


async def _volume(request: Request, ctx: AppContext, params: Params, *, ranged: bool) -> Response:
    """Bytes of lines per label set: ``sum by (targets) (bytes_over_time(...))``."""
    matchers, targets = _volume_query(params)
    start, end = _bounds(params)
    if ranged:
        step = _ns_param(params, "step") or _default_step(start, end)
        range_ns, instant = step, False
    else:
        step, range_ns, instant = 0, max(end - start, 1), True
    tree = ast.VectorAggregation(
        "sum",
        ast.RangeAggregation("bytes_over_time", ast.LogQuery(matchers), range_ns),
        ast.Grouping(False, targets),
    )
    engine = _engine(ctx)
    stats = Stats()
    steps = (
        np.array([end], dtype=np.int64)
        if instant
        else np.arange(start, end + 1, step, dtype=np.int64)
    )
    value = await engine.evaluate(tree, steps, stats)
    assert isinstance(value, Series)  # a sum is a vector
    series = {k: v for k, v in value.data.items() if not np.isnan(v).all()}
    limit = _limit(params, ctx)
    answer = Answer("vector" if instant else "matrix", series=series, steps=steps, stats=stats)
    data = answer_data(answer, False)
    if instant:
        data["result"].sort(key=lambda r: -float(r["value"][1]))
    data["result"] = data["result"][:limit]
    return _json({"status": "success", "data": data})


async def volume(request: Request, ctx: AppContext, params: Params) -> Response:
    return await _volume(request, ctx, params, ranged=False)


async def volume_range(request: Request, ctx: AppContext, params: Params) -> Response:
    return await _volume(request, ctx, params, ranged=True)


_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?")


def _field_type(values: set[str]) -> str:
    if all(_INT.fullmatch(v) for v in values):
        return "int"
    if all(_FLOAT.fullmatch(v) for v in values):
        return "float"
    if all(v in ("true", "false") for v in values):
        return "boolean"
    if all(duration_ns(v) is not None for v in values):
        return "duration"
    if all(bytes_value(v) is not None and not _FLOAT.fullmatch(v) for v in values):
        return "bytes"
    return "string"


async def detected_fields(request: Request, ctx: AppContext, params: Params) -> Response:
    """The fields of recent lines, as Grafana's Explore asks for them: structured
    metadata, and what ``| json`` or ``| logfmt`` would extract."""
    text = _query(params)
    start, end = _bounds(params)
    tree = parse(text)
    if not isinstance(tree, ast.LogQuery):
        raise BadRequest('detected_fields needs a log query, such as {service="api"}')
    limit = _limit(params, ctx, 1000)
    line_limit = int(_one(params, "line_limit") or limit)
    stats = Stats()
    entries = await _engine(ctx).logs(
        tree, start, end, min(line_limit, ctx.settings.query_max_rows), False, stats
    )
    fields: dict[str, tuple[set[str], set[str]]] = {}
    parsers = {
        "json": compile_pipeline([ast.JsonParser()]),
        "logfmt": compile_pipeline([ast.LogfmtParser()]),
    }
    for entry in entries:
        for name, value in entry.meta.items():
            fields.setdefault(name, (set(), set()))[0].add(value)
        kind = "json" if entry.line.lstrip().startswith("{") else "logfmt"
        probe = Entry(entry.ts, entry.line, {}, {})
        run_pipeline(parsers[kind], probe)
        if "__error__" in probe.parsed:
            continue
        for name, value in probe.parsed.items():
            values, found = fields.setdefault(name, (set(), set()))
            values.add(value)
            found.add(kind)
    out = [
        {
            "label": name,
            "type": _field_type(values),
            "cardinality": len(values),
            "parsers": sorted(found) or None,
        }
        for name, (values, found) in sorted(fields.items())
    ][:limit]
    return _json({"fields": out, "limit": limit})


async def buildinfo(request: Request, ctx: AppContext, params: Params) -> Response:
    return _json(
        {
            "version": LOKI_VERSION,
            "revision": f"tracelake-{__version__}",
            "branch": "tracelake",
            "buildUser": "tracelake",
            "buildDate": "",
            "goVersion": "",
        }
    )


async def ready(request: Request) -> Response:
    """Loki's ``/ready``: ready once the server accepts requests."""
    ctx = context(request)
    if not ctx.state.ready:
        return PlainTextResponse("Ingester not ready: starting", 503)
    return PlainTextResponse("ready\n")


# --- tail -----------------------------------------------------------------------------


async def tail(websocket: WebSocket) -> None:
    """``/loki/api/v1/tail``: the lines since ``start`` (``limit`` of them), then each new
    matching line as it is stored, as Loki's WebSocket frames ``{"streams": [...]}``."""
    ctx: AppContext = websocket.app.state.ctx
    params: Params = {k: [v] for k, v in websocket.query_params.items()}
    try:
        tree = parse(_query(params))
        if not isinstance(tree, ast.LogQuery):
            raise LogQLError("tail needs a log query, not a metric query")
        limit = _limit(params, ctx)
        now = time.time_ns()
        start = loki_time(_one(params, "start"), "start", now - DEFAULT_SINCE_NS)
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
        backfill = await _engine(ctx).logs(tree, start, now, limit, False, Stats())
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
                tree, now, _LATEST_NS, ctx.settings.query_max_rows, True, Stats()
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


# --- routes -----------------------------------------------------------------------------

_BOTH = ("GET", "POST")
#: Loki's own paths, and the same under ``/loki`` for a data source URL ending in /loki.
PREFIXES = ("/loki/api/v1", "/loki/loki/api/v1")
#: (path under the prefix, handler, methods)
_ENDPOINTS: tuple[tuple[str, Handler, tuple[str, ...]], ...] = (
    ("/query_range", query_range, _BOTH),
    ("/query", query, _BOTH),
    ("/labels", labels, _BOTH),
    ("/label/{name}/values", label_values, ("GET",)),
    ("/series", series, _BOTH),
    ("/index/stats", index_stats, _BOTH),
    ("/index/volume", volume, _BOTH),
    ("/index/volume_range", volume_range, _BOTH),
    ("/detected_fields", detected_fields, ("GET",)),
    ("/status/buildinfo", buildinfo, ("GET",)),
)

endpoints = [
    *(
        Endpoint(prefix + path, endpoint(handler), methods, READ)
        for prefix in PREFIXES
        for path, handler, methods in _ENDPOINTS
    ),
    *(Endpoint(prefix + "/tail", tail, ("GET",), READ, websocket=True) for prefix in PREFIXES),
    Endpoint("/loki/ready", ready, ("GET",), PUBLIC),  # as /-/ready: probes carry no token
]
