"""The handlers of Loki's query API, and ``endpoints``: each at both prefixes.

A handler reads its parameters (``params``), runs its query (``run``) and answers in
Loki's shapes (``answers``); ``endpoint`` turns its errors into Loki's plain-text bodies.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable

import numpy as np
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from tracelake import __version__
from tracelake.api.context import AppContext, context
from tracelake.api.endpoints import PUBLIC, READ, Endpoint
from tracelake.api.loki_query.answers import answer_data, categorized, query_answer, success
from tracelake.api.loki_query.params import (
    Params,
    bounds,
    default_step,
    duration_param,
    entry_limit,
    forward,
    loki_time,
    one,
    query_text,
)
from tracelake.api.loki_query.run import logql_engine, sql_rows
from tracelake.api.loki_query.tail import tail
from tracelake.api.params import form_params
from tracelake.api.responses import JSON
from tracelake.errors import BadRequest, Overloaded, TracelakeError
from tracelake.query.logql import ast
from tracelake.query.logql.engine import Answer, Stats
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
from tracelake.query.logql.vectors import Series
from tracelake.query.sql import Sql

#: Loki refuses a range query with more points than this per series.
MAX_POINTS = 11_000
#: The Loki version we answer as: Grafana picks its query features by it.
LOKI_VERSION = "3.4.0"
_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

Handler = Callable[[Request, AppContext, Params], Awaitable[Response]]


def endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A route answering Loki's way: errors as a plain-text line with their status."""

    async def route(request: Request) -> Response:
        ctx = context(request)
        try:
            return await handler(request, ctx, await form_params(request))
        except Overloaded as e:
            return PlainTextResponse(
                e.message, e.status, headers={"Retry-After": str(e.retry_after)}
            )
        except TracelakeError as e:
            return PlainTextResponse(e.message, e.status)

    return route


# --- query and query_range ---------------------------------------------------------------


async def query_range(request: Request, ctx: AppContext, params: Params) -> Response:
    text = query_text(params)
    start, end = bounds(params)
    step = duration_param(params, "step") or default_step(start, end)
    if step <= 0:
        raise BadRequest(
            "zero or negative query resolution step widths are not accepted. Try a positive integer"
        )
    if (end - start) // step > MAX_POINTS:
        raise BadRequest(
            "exceeded maximum resolution of 11,000 points per timeseries. Try increasing "
            "the value of the step parameter"
        )
    answer = await logql_engine(ctx).query(
        text,
        start_ns=start,
        end_ns=end,
        step_ns=step,
        limit=entry_limit(params, ctx),
        forward=forward(params),
        interval_ns=duration_param(params, "interval"),
    )
    return await query_answer(ctx, answer, categorized(request))


async def query(request: Request, ctx: AppContext, params: Params) -> Response:
    text = query_text(params)
    at = loki_time(one(params, "time"), "time", time.time_ns())
    tree = parse(text)
    if isinstance(tree, ast.LogQuery):
        raise BadRequest(
            "log queries are not supported as an instant query type, please change your "
            "query to a range query type"
        )
    answer = await logql_engine(ctx).query(
        text,
        start_ns=at,
        end_ns=at,
        step_ns=0,
        limit=entry_limit(params, ctx),
        forward=forward(params),
        instant=True,
    )
    return await query_answer(ctx, answer, categorized(request))


# --- labels, series, index ------------------------------------------------------------


def _selector_where(params: Params, start: int, end: int, name: str = "query") -> Sql:
    text = one(params, name)
    matchers: tuple[ast.Matcher, ...] = ()
    filters: list[ast.LineFilter] = []
    if text and text != "{}":
        tree = parse(text)
        if not isinstance(tree, ast.LogQuery):
            raise BadRequest(f'{name} must be a stream selector, such as {{service="api"}}')
        matchers = tree.matchers
        filters = [s for s in tree.stages if isinstance(s, ast.LineFilter)]
    return where_sql(matchers, filters, from_ns=start, until_ns=end)


async def labels(request: Request, ctx: AppContext, params: Params) -> Response:
    start, end = bounds(params)
    where = _selector_where(params, start, end)
    counts = (await sql_rows(ctx, present_sql(where), start, end))[0]
    names = {n for n, c in zip(STREAM_LABELS, counts, strict=True) if c}
    keys = await sql_rows(ctx, attribute_keys_sql(where, ctx.settings.query_max_rows), start, end)
    names |= {k for (k,) in keys if _LABEL_NAME.fullmatch(k)}
    return success(sorted(names))


async def label_values(request: Request, ctx: AppContext, params: Params) -> Response:
    start, end = bounds(params)
    where = _selector_where(params, start, end)
    sql = label_values_sql(request.path_params["name"], where, ctx.settings.query_max_rows)
    values = [v for (v,) in await sql_rows(ctx, sql, start, end) if v != ""]
    return success(values)


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
    start, end = bounds(params)
    sql = series_sql(_match_where(params, start, end), ctx.settings.query_max_rows)
    data = [
        {n: v for n, v in zip(STREAM_LABELS, row, strict=True) if v}
        for row in await sql_rows(ctx, sql, start, end)
    ]
    return success(data)


async def index_stats(request: Request, ctx: AppContext, params: Params) -> Response:
    start, end = bounds(params)
    sql = index_stats_sql(_selector_where(params, start, end))
    streams, entries, size = (await sql_rows(ctx, sql, start, end))[0]
    return JSON({"streams": streams, "chunks": streams, "entries": entries, "bytes": int(size)})


def _volume_query(params: Params) -> tuple[tuple[ast.Matcher, ...], tuple[str, ...]]:
    text = query_text(params)
    matchers = parse_selector(text)
    targets = tuple(t.strip() for t in one(params, "targetLabels").split(",") if t.strip())
    if not targets:
        targets = tuple(dict.fromkeys(m.name for m in matchers))
    return matchers, targets


async def _volume(request: Request, ctx: AppContext, params: Params, *, ranged: bool) -> Response:
    """Bytes of lines per label set: ``sum by (targets) (bytes_over_time(...))``."""
    matchers, targets = _volume_query(params)
    start, end = bounds(params)
    if ranged:
        step = duration_param(params, "step") or default_step(start, end)
        range_ns, instant = step, False
    else:
        step, range_ns, instant = 0, max(end - start, 1), True
    tree = ast.VectorAggregation(
        "sum",
        ast.RangeAggregation("bytes_over_time", ast.LogQuery(matchers), range_ns),
        ast.Grouping(False, targets),
    )
    engine = logql_engine(ctx)
    stats = Stats()
    steps = (
        np.array([end], dtype=np.int64)
        if instant
        else np.arange(start, end + 1, step, dtype=np.int64)
    )
    value = await engine.evaluate(tree, steps, stats)
    assert isinstance(value, Series)  # a sum is a vector
    series = {k: v for k, v in value.data.items() if not np.isnan(v).all()}
    limit = entry_limit(params, ctx)
    answer = Answer("vector" if instant else "matrix", series=series, steps=steps, stats=stats)
    data = answer_data(answer, False)
    if instant:
        data["result"].sort(key=lambda r: -float(r["value"][1]))
    data["result"] = data["result"][:limit]
    return success(data)


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
    text = query_text(params)
    start, end = bounds(params)
    tree = parse(text)
    if not isinstance(tree, ast.LogQuery):
        raise BadRequest('detected_fields needs a log query, such as {service="api"}')
    limit = entry_limit(params, ctx, 1000)
    line_limit = int(one(params, "line_limit") or limit)
    stats = Stats()
    entries = await logql_engine(ctx).logs(
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
    return JSON({"fields": out, "limit": limit})


async def buildinfo(request: Request, ctx: AppContext, params: Params) -> Response:
    return JSON(
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
