"""Zipkin v2: ``POST /api/v2/spans`` in, the whole query API out, as Zipkin answers.

Why a faithful copy: Zipkin Lens, Grafana's Zipkin data source and every Zipkin
reporter work against it unmodified. Routes are served under ``/api/v2`` and, for
Lens, under ``/zipkin/api/v2`` too, with ``/zipkin/config.json``. Errors are plain
text with Zipkin's status codes (400 bad parameters, 404 unknown trace), because
Grafana relays non-2xx bodies as text. Ingest answers 202 with an empty body; spans
it refuses are named in a 400 text while the good spans of the request are kept.

Every answer made of traces goes through ``merge_trace`` (Zipkin's ``Trace.merge``):
a span a reporter sent twice is stored twice and answered once, and a trace is its id's
low 64 bits, so a 128-bit client and a 64-bit server read back as one trace.

``keepCase=true`` (a parameter no Zipkin client sends) answers names and service names
as the spans carry them instead of lower-cased: tracelake's UI reads traces here and
shows operations as the Metrics page and the spans do (``POST /charge``).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from tracelake.api.context import AppContext, context
from tracelake.api.endpoints import INGEST, READ, Endpoint
from tracelake.api.execute import run_query
from tracelake.api.params import check_millis, read_body
from tracelake.api.responses import JSON
from tracelake.errors import BadRequest, NotFound
from tracelake.ingest.jobs import body_headers
from tracelake.ingest.tables import spans
from tracelake.tracing.trace_merge import merge_trace
from tracelake.tracing.zipkin_model import zipkin_span
from tracelake.tracing.zipkin_query import (
    AUTOCOMPLETE_LOOKBACK_MS,
    DAY_MS,
    NAMES_LOOKBACK_MS,
    ZERO_HIGH,
    Compiled,
    Window,
    autocomplete_keys_sql,
    autocomplete_values_sql,
    dependencies_sql,
    names_sql,
    positive_int,
    required_name,
    trace_high_sql,
    trace_id_param,
    trace_ids_param,
    trace_sql,
    traces_sql,
    window,
)

Handler = Callable[[Request], Awaitable[Response]]
_REJECTS_SHOWN = 5


def _zipkin_errors(handler: Handler) -> Handler:
    """Bad parameters and unknown traces as Zipkin says them: plain text."""

    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except (BadRequest, NotFound) as e:
            return PlainTextResponse(e.message, status_code=e.status)

    return wrapped


def _now_ms() -> int:
    return int(time.time() * 1000)


def _window(params: Mapping[str, str], now_ms: int, default_lookback_ms: int) -> Window:
    """Zipkin's ``endTs``/``lookback`` window, range-checked as every route's times are."""
    check_millis(params, "endTs")
    check_millis(params, "lookback", duration=True)
    return window(params, now_ms, default_lookback_ms)


async def _rows(ctx: AppContext, query: Compiled, table: str, **window: int) -> list[Any]:
    results = await run_query(
        ctx, query.sql, query.params, kind="zipkin", tables=[table],
        start_us=window.get("start_us"), end_us=window.get("end_us"),
    )  # fmt: skip
    return results.rows


def _keep_case(params: Mapping[str, str]) -> bool:
    """``keepCase=true``: names as stored, not lower-cased as Zipkin answers them."""
    return params.get("keepCase") == "true"


def _traces(rows: list[Any], keep_case: bool) -> list[list[dict[str, Any]]]:
    """Rows as merged traces (by the low 64 bits of their id), in the order the traces
    first appear."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row[0][16:], []).append(zipkin_span(row, keep_case=keep_case))
    return [merge_trace(spans) for spans in grouped.values()]


async def _trace_rows(ctx: AppContext, trace_ids: list[str]) -> list[Any]:
    """The rows of ``trace_ids`` in either width: first by exact id (Bloom-pruned), then,
    for 64-bit ids, the 128-bit fragments sharing their low half near the rows found
    (anywhere when none were)."""
    rows = await _rows(ctx, trace_sql(trace_ids), "spans")
    short = [t for t in trace_ids if t.startswith(ZERO_HIGH)]
    if short:
        times = [r[5] for r in rows if r[5] is not None]
        around = (min(times), max(times)) if times else None
        rows += await _rows(ctx, trace_high_sql(short, around), "spans")
    rows.sort(key=lambda r: (r[0][16:], r[5] or 0, r[2]))  # time order across both forms
    return rows


# -- ingest -------------------------------------------------------------------------


async def post_spans(request: Request) -> Response:
    ctx = context(request)
    body = await read_body(request, ctx.settings.max_body_bytes)
    decoded = await ctx.ingest.submit(
        spans.zipkin_job, body, body_headers(request.headers), "zipkin"
    )
    rejected, count = decoded.result.errors, decoded.result.stored
    if rejected:
        shown = "; ".join(e.error for e in rejected[:_REJECTS_SHOWN])
        more = len(rejected) - _REJECTS_SHOWN
        message = (
            f"{len(rejected)} span(s) rejected: {shown}{f'; and {more} more' if more > 0 else ''}"
            f" ({count} other span(s) stored)"
        )
        return PlainTextResponse(message, status_code=400)
    return Response(status_code=202)


# -- names ----------------------------------------------------------------------------


async def services(request: Request) -> Response:
    win = _window(request.query_params, _now_ms(), NAMES_LOOKBACK_MS)
    query = names_sql("service", None, win, keep_case=_keep_case(request.query_params))
    rows = await _rows(context(request), query, "spans", start_us=win.start_us, end_us=win.end_us)
    return JSON([r[0] for r in rows])


async def span_names(request: Request) -> Response:
    service = required_name(request.query_params, "serviceName")
    win = _window(request.query_params, _now_ms(), NAMES_LOOKBACK_MS)
    query = names_sql("name", service, win, keep_case=_keep_case(request.query_params))
    rows = await _rows(context(request), query, "spans", start_us=win.start_us, end_us=win.end_us)
    return JSON([r[0] for r in rows])


async def remote_services(request: Request) -> Response:
    service = required_name(request.query_params, "serviceName")
    win = _window(request.query_params, _now_ms(), NAMES_LOOKBACK_MS)
    query = names_sql("remote_service", service, win, keep_case=_keep_case(request.query_params))
    rows = await _rows(context(request), query, "spans", start_us=win.start_us, end_us=win.end_us)
    return JSON([r[0] for r in rows])


# -- traces ---------------------------------------------------------------------------


async def traces(request: Request) -> Response:
    ctx = context(request)
    params = request.query_params
    win = _window(params, _now_ms(), DAY_MS)
    limit = positive_int(params, "limit", 10)
    assert limit is not None
    query = traces_sql(params, win, min(limit, ctx.settings.query_max_rows))
    rows = await _rows(ctx, query, "spans")
    return JSON(_traces(rows, _keep_case(params)))


async def trace(request: Request) -> Response:
    raw = request.path_params["trace_id"]
    trace_id = trace_id_param(raw)
    rows = await _trace_rows(context(request), [trace_id])
    if not rows:
        raise NotFound(f"{raw.lower()} not found")
    return JSON(_traces(rows, _keep_case(request.query_params))[0])


async def trace_many(request: Request) -> Response:
    ids = trace_ids_param(request.query_params.get("traceIds"))
    rows = await _trace_rows(context(request), ids)
    return JSON(_traces(rows, _keep_case(request.query_params)))


# -- dependencies and autocomplete ----------------------------------------------------


async def dependencies(request: Request) -> Response:
    params = request.query_params
    if not params.get("endTs"):
        raise BadRequest("endTs is required")
    win = _window(params, _now_ms(), DAY_MS)
    rows = await _rows(context(request), dependencies_sql(win), "dependencies",
                       start_us=win.start_us, end_us=win.end_us)  # fmt: skip
    links = []
    for parent, child, calls, errors in rows:
        link: dict[str, Any] = {"parent": parent, "child": child, "callCount": int(calls)}
        if errors:
            link["errorCount"] = int(errors)
        links.append(link)
    return JSON(links)


async def autocomplete_keys(request: Request) -> Response:
    win = _window(request.query_params, _now_ms(), AUTOCOMPLETE_LOOKBACK_MS)
    rows = await _rows(context(request), autocomplete_keys_sql(win), "spans",
                       start_us=win.start_us, end_us=win.end_us)  # fmt: skip
    return JSON([r[0] for r in rows])


async def autocomplete_values(request: Request) -> Response:
    key = (request.query_params.get("key") or "").strip()
    if not key:
        raise BadRequest("key is required")
    win = _window(request.query_params, _now_ms(), AUTOCOMPLETE_LOOKBACK_MS)
    rows = await _rows(context(request), autocomplete_values_sql(key, win), "spans",
                       start_us=win.start_us, end_us=win.end_us)  # fmt: skip
    return JSON([r[0] for r in rows])


async def config_json(request: Request) -> Response:
    """What Zipkin Lens reads at start-up."""
    return JSON(
        {
            "environment": "",
            "queryLimit": 10,
            "defaultLookback": 900000,
            "searchEnabled": True,
            "logsUrl": None,
            "supportUrl": None,
            "archivePostUrl": None,
            "archiveUrl": None,
            "dependency": {"enabled": True, "lowErrorRate": 0.5, "highErrorRate": 0.75},
        }
    )


_QUERY: list[tuple[str, Handler]] = [
    ("/services", services),
    ("/spans", span_names),
    ("/remoteServices", remote_services),
    ("/traces", traces),
    ("/trace/{trace_id}", trace),
    ("/traceMany", trace_many),
    ("/dependencies", dependencies),
    ("/autocompleteKeys", autocomplete_keys),
    ("/autocompleteValues", autocomplete_values),
]

endpoints = [
    *(
        Endpoint(prefix + path, _zipkin_errors(handler), ("GET",), READ)
        for prefix in ("/api/v2", "/zipkin/api/v2")
        for path, handler in _QUERY
    ),
    *(
        Endpoint(prefix + "/spans", _zipkin_errors(post_spans), ("POST",), INGEST)
        for prefix in ("/api/v2", "/zipkin/api/v2")
    ),
    Endpoint("/zipkin/config.json", config_json, ("GET",), READ),
]
