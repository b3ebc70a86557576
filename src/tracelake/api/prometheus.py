"""Prometheus's HTTP query API under ``/prometheus/api/v1/``, for Grafana and promtool.

query, query_range, labels, label values, series, metadata, status/buildinfo,
status/runtimeinfo, format_query and an empty query_exemplars; each answers GET and
form-encoded POST
(Grafana's default) with Prometheus's envelope: ``{"status":"success","data":…}`` or
``{"status":"error","errorType":…,"error":…}`` — 400 ``bad_data`` for a bad parameter
or query, 422 ``execution`` when evaluation fails on the data, 503 ``timeout``, and 503
``unavailable`` with Retry-After when every query slot stays busy.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tracelake import __version__
from tracelake.api.context import AppContext, context
from tracelake.api.endpoints import READ, Endpoint
from tracelake.api.params import Params, form_params, step_seconds, unix_time
from tracelake.api.responses import JSON
from tracelake.errors import BadRequest, Overloaded, QueryTimeout, TracelakeError
from tracelake.query.bounds import EARLIEST_S, LATEST_S
from tracelake.query.promql import EvaluationError, QueryResult
from tracelake.query.promql.engine import parse
from tracelake.query.promql.format import format_time, format_value
from tracelake.query.promql.values import (
    LABEL_NAME,
    Floats,
    Labels,
    Mask,
    Matrix,
    Scalar,
    String,
    Vector,
)

#: The earliest and latest times a request may leave open: the accepted times' ends.
MIN_TIME = EARLIEST_S
MAX_TIME = LATEST_S
#: The Prometheus version we answer as: Grafana picks its query features by it.
PROMETHEUS_VERSION = "2.53.0"

Handler = Callable[[Request, AppContext, Params], Awaitable[Any]]
#: Prometheus's warning when ``limit`` cut a list short.
TRUNCATED = "results truncated due to limit"


@dataclass(frozen=True, slots=True)
class Warned:
    """An answer with Prometheus's ``warnings`` beside its ``data``."""

    data: Any
    warnings: list[str]


def _one(params: Params, name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


def _error(kind: str, message: str, status: int) -> Response:
    return JSON({"status": "error", "errorType": kind, "error": message}, status_code=status)


def endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A route in Prometheus's envelope, with our errors as Prometheus's error types."""

    async def route(request: Request) -> Response:
        ctx = context(request)
        try:
            data = await handler(request, ctx, await form_params(request))
        except EvaluationError as e:
            return _error("execution", e.message, 422)
        except QueryTimeout as e:
            return _error("timeout", e.message, 503)
        except Overloaded as e:
            answer = _error("unavailable", e.message, 503)
            answer.headers["Retry-After"] = str(e.retry_after)
            return answer
        except TracelakeError as e:
            kind = "bad_data" if 400 <= e.status < 500 else "internal"
            return _error(kind, e.message, e.status)
        if isinstance(data, Warned):
            return JSON({"status": "success", "data": data.data, "warnings": data.warnings})
        return JSON({"status": "success", "data": data})

    return route


async def _evaluate(ctx: AppContext, fn: Callable[[], QueryResult]) -> QueryResult:
    started = time.perf_counter()
    try:
        result = await asyncio.to_thread(fn)
    except TracelakeError:
        ctx.metrics.queries.labels("promql", "error").inc()
        raise
    ctx.metrics.queries.labels("promql", "ok").inc()
    ctx.metrics.query_seconds.labels("promql").observe(time.perf_counter() - started)
    return result


def _query_text(params: Params) -> str:
    query = _one(params, "query")
    if query is None or query.strip() == "":
        raise BadRequest('invalid parameter "query": no query given')
    return query


def instant_json(result: QueryResult) -> dict[str, Any]:
    t = format_time(int(result.steps[0]))
    value = result.value
    if isinstance(value, Scalar):
        return {"resultType": "scalar", "result": [t, format_value(float(value.values[0]))]}
    if isinstance(value, String):
        return {"resultType": "string", "result": [t, value.value]}
    if isinstance(value, Matrix):
        return {
            "resultType": "matrix",
            "result": [
                {
                    "metric": dict(s.labels),
                    "values": [
                        [format_time(int(ts)), format_value(float(v))]
                        for ts, v in zip(s.times, s.values, strict=True)
                    ],
                }
                for s in value.series
            ],
        }
    assert isinstance(value, Vector)
    return {
        "resultType": "vector",
        "result": [
            {"metric": dict(s.labels), "value": [t, format_value(float(s.values[0]))]}
            for s in value.series
            if s.present[0]
        ],
    }


def range_json(result: QueryResult) -> dict[str, Any]:
    times = [format_time(int(ms)) for ms in result.steps]
    value = result.value
    series: list[tuple[Labels, Floats, Mask | None]]
    if isinstance(value, Scalar):
        series = [((), value.values, None)]
    else:
        assert isinstance(value, Vector)
        series = [(s.labels, s.values, s.present) for s in value.series]
    out = []
    for labels, values, present in series:
        listed = values.tolist()
        steps = range(len(times)) if present is None else present.nonzero()[0].tolist()
        out.append(
            {"metric": dict(labels), "values": [[times[i], format_value(listed[i])] for i in steps]}
        )
    return {"resultType": "matrix", "result": out}


async def query(request: Request, ctx: AppContext, params: Params) -> Any:
    text = _query_text(params)
    at = unix_time(_one(params, "time"), "time", time.time())
    return instant_json(await _evaluate(ctx, lambda: ctx.promql.instant(text, at)))


async def query_range(request: Request, ctx: AppContext, params: Params) -> Any:
    text = _query_text(params)
    start = unix_time(_one(params, "start"), "start", math.nan)
    end = unix_time(_one(params, "end"), "end", math.nan)
    if math.isnan(start) or math.isnan(end):
        raise BadRequest('invalid parameter "start"/"end": both are required for a range query')
    step = step_seconds(_one(params, "step"), "step")
    result = await _evaluate(ctx, lambda: ctx.promql.range(text, start, end, step))
    return await asyncio.to_thread(range_json, result)


def _limit(params: Params) -> int | None:
    text = _one(params, "limit")
    if text is None or text == "" or text == "0":
        return None
    if not text.isdigit():
        raise BadRequest(f'invalid parameter "limit": {text!r} is not a positive whole number')
    return int(text)


def _span(params: Params) -> tuple[float, float]:
    return (
        unix_time(_one(params, "start"), "start", MIN_TIME),
        unix_time(_one(params, "end"), "end", MAX_TIME),
    )


def _limited(values: list[Any], params: Params) -> list[Any] | Warned:
    """The first ``limit`` values, with Prometheus's warning when that left some out
    (Prometheus 2.51 on: 2.42 ignores ``limit`` on labels, values and series)."""
    limit = _limit(params)
    if limit is None or len(values) <= limit:
        return values
    return Warned(values[:limit], [TRUNCATED])


async def labels(request: Request, ctx: AppContext, params: Params) -> Any:
    start, end = _span(params)
    names = await asyncio.to_thread(ctx.promql.label_names, params.get("match[]", []), start, end)
    return _limited(names, params)


async def label_values(request: Request, ctx: AppContext, params: Params) -> Any:
    name = request.path_params["name"]
    if not LABEL_NAME.fullmatch(name):
        raise BadRequest(
            f'invalid label name: "{name}": use letters, digits and underscores, '
            "not starting with a digit"
        )
    start, end = _span(params)
    values = await asyncio.to_thread(
        ctx.promql.label_values, name, params.get("match[]", []), start, end
    )
    return _limited(values, params)


async def series(request: Request, ctx: AppContext, params: Params) -> Any:
    selectors = params.get("match[]", [])
    if not selectors:
        raise BadRequest("no match[] parameter provided: give a series selector such as match[]=up")
    start, end = _span(params)
    return _limited(await asyncio.to_thread(ctx.promql.series, selectors, start, end), params)


def metric_type(name: str, names: set[str]) -> str:
    """The type a metric's name implies: the lake keeps samples, not TYPE lines."""
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and name.removesuffix(suffix) + "_bucket" in names:
            return "histogram"
    if name.endswith("_total"):
        return "counter"
    return "unknown"


def _metadata_limit(params: Params) -> int | None:
    """Prometheus's ``limit`` of metadata: any whole number, below 0 meaning none."""
    text = _one(params, "limit")
    if text is None or text == "":
        return None
    try:
        limit = int(text)
    except ValueError:
        raise BadRequest("limit must be a number") from None
    return None if limit < 0 else limit


async def metadata(request: Request, ctx: AppContext, params: Params) -> Any:
    """One entry per metric (``limit_per_metric`` never cuts one: there is one each)."""
    limit = _metadata_limit(params)
    names = await asyncio.to_thread(ctx.promql.label_values, "__name__", [], MIN_TIME, MAX_TIME)
    wanted = _one(params, "metric")
    known = set(names)
    chosen = [n for n in names if wanted in (None, "", n)]
    if limit is not None:
        chosen = chosen[:limit]
    return {n: [{"type": metric_type(n, known), "help": "", "unit": ""}] for n in chosen}


async def buildinfo(request: Request, ctx: AppContext, params: Params) -> Any:
    return {
        "version": PROMETHEUS_VERSION,
        "revision": f"tracelake-{__version__}",
        "branch": "tracelake",
        "buildUser": "tracelake",
        "buildDate": "",
        "goVersion": "",
    }


async def runtimeinfo(request: Request, ctx: AppContext, params: Params) -> Any:
    """Prometheus's runtime facts, with this server's where it has them."""
    settings = ctx.settings
    started = datetime.fromtimestamp(ctx.state.started_at or time.time(), UTC)
    return {
        "startTime": started.isoformat().replace("+00:00", "Z"),
        "CWD": os.getcwd(),
        "reloadConfigSuccess": True,
        "lastConfigTime": started.replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "corruptionCount": 0,
        "goroutineCount": 0,
        "GOMAXPROCS": os.cpu_count() or 1,
        "GOGC": "",
        "GODEBUG": "",
        "storageRetention": f"{settings.retention_days}d" if settings.retention_days else "",
    }


async def format_query(request: Request, ctx: AppContext, params: Params) -> Any:
    return parse(_query_text(params)).prettify()


async def query_exemplars(request: Request, ctx: AppContext, params: Params) -> Any:
    _query_text(params)
    return []  # the lake keeps no exemplars


_BOTH = ("GET", "POST")  # Grafana's form POSTs are queries too: read
_GET = ("GET",)
_PREFIX = "/prometheus/api/v1"

endpoints = [
    Endpoint(f"{_PREFIX}/query", endpoint(query), _BOTH, READ),
    Endpoint(f"{_PREFIX}/query_range", endpoint(query_range), _BOTH, READ),
    Endpoint(f"{_PREFIX}/labels", endpoint(labels), _BOTH, READ),
    Endpoint(f"{_PREFIX}/label/{{name}}/values", endpoint(label_values), _GET, READ),
    Endpoint(f"{_PREFIX}/series", endpoint(series), _BOTH, READ),
    Endpoint(f"{_PREFIX}/metadata", endpoint(metadata), _GET, READ),
    Endpoint(f"{_PREFIX}/status/buildinfo", endpoint(buildinfo), _GET, READ),
    Endpoint(f"{_PREFIX}/status/runtimeinfo", endpoint(runtimeinfo), _GET, READ),
    Endpoint(f"{_PREFIX}/format_query", endpoint(format_query), _BOTH, READ),
    Endpoint(f"{_PREFIX}/query_exemplars", endpoint(query_exemplars), _BOTH, READ),
]
