"""Native trace views: RED figures per service and operation, and the logs of a trace.

``GET /api/v1/traces/red?service=&from=&to=&kind=`` gives rate, error ratio and
p50/p95/p99 latency (the rate per second of ``covered``, the part of the range that
has spans: from the first span of any service to the range's end or now) from the
spans of any time range (computed by DuckDB over the pruned segments, so any range
works, not just the recent past). By default the
requests a service *serves* count: SERVER and CONSUMER spans and root spans;
``kind=all`` counts every span. ``GET /api/v1/traces/{trace_id}/logs`` answers the
log lines of one trace in the row shape of ``/api/v1/search``, oldest first, with 16-
hex (64-bit) ids padded as ``logs.trace_id`` is.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tracelake.api.context import context
from tracelake.api.endpoints import READ, Endpoint
from tracelake.api.execute import run_query
from tracelake.api.openapi import TIME, answer, error_answers, path_param, query_param
from tracelake.api.params import bounded_int, parse_time
from tracelake.api.responses import JSON
from tracelake.api.search import rows_as_objects
from tracelake.errors import BadRequest
from tracelake.model import LOG_COLUMNS
from tracelake.tracing.red import first_span_sql, red_sql
from tracelake.tracing.zipkin_query import trace_id_param

DEFAULT_RANGE = timedelta(hours=1)
DEFAULT_LOG_ROWS = 1000
#: Shortest time a rate is taken over: one span alone is not a rate of millions per second.
MIN_COVERED_S = 1.0


def _micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


async def red(request: Request) -> Response:
    ctx = context(request)
    params = request.query_params
    now = datetime.now(UTC)
    end = parse_time(params.get("to"), "to", now) or now
    start = parse_time(params.get("from"), "from", now) or end - DEFAULT_RANGE
    if start >= end:
        raise BadRequest(f"from ({start.isoformat()}) must be before to ({end.isoformat()})")
    kind = params.get("kind", "entry")
    if kind not in ("entry", "all"):
        raise BadRequest(f"kind={kind!r} must be entry (served requests) or all (every span)")
    start_us, end_us = _micros(start), _micros(end)
    query = red_sql(start_us, end_us, params.get("service") or None, every_span=kind == "all")
    results = await run_query(
        ctx, query.sql, query.params, kind="red", tables=["spans"], start_us=start_us, end_us=end_us
    )
    earliest = first_span_sql(start_us, end_us)
    first = await run_query(
        ctx, earliest.sql, earliest.params, kind="red", tables=["spans"],
        start_us=start_us, end_us=end_us,
    )  # fmt: skip
    covered_from, covered_to = covered(start_us, end_us, first.rows[0][0] if first.rows else None)
    seconds = max(MIN_COVERED_S, (covered_to - covered_from) / 1e6)
    rows: list[dict[str, Any]] = []
    for service, operation, calls, errors, p50, p95, p99 in results.rows:
        rows.append(
            {
                "service": service,
                "operation": operation,
                "requests": calls,
                "rate_per_s": calls / seconds,
                "errors": errors,
                "error_ratio": errors / calls if calls else 0.0,
                "latency_ms": {"p50": _ms(p50), "p95": _ms(p95), "p99": _ms(p99)},
            }
        )
    return JSON(
        {
            "from": start,
            "to": end,
            "kind": kind,
            "covered": {
                "from": datetime.fromtimestamp(covered_from / 1e6, UTC),
                "to": datetime.fromtimestamp(covered_to / 1e6, UTC),
                "seconds": seconds,
            },
            "rows": rows,
            "truncated": results.truncated,
            "took_ms": round(results.elapsed_ms, 2),
        }
    )


def covered(start_us: int, end_us: int, first_us: int | None) -> tuple[int, int]:
    """The part of the range that has data: from its first span (or its start) to its
    end or now, whichever is earlier. Rates are per second of this, not of the range."""
    now_us = _micros(datetime.now(UTC))
    stop = min(end_us, now_us)
    begin = start_us if first_us is None else max(start_us, first_us)
    return begin, max(begin, stop)


def _ms(micros: float | None) -> float | None:
    return None if micros is None else round(micros / 1000, 3)


async def trace_logs(request: Request) -> Response:
    ctx = context(request)
    trace_id = trace_id_param(request.path_params["trace_id"])
    params = request.query_params
    now = datetime.now(UTC)
    start = parse_time(params.get("from"), "from", now)
    end = parse_time(params.get("to"), "to", now)
    limit = bounded_int(request, "limit", DEFAULT_LOG_ROWS, 1, ctx.settings.query_max_rows)
    where = ['"trace_id" = ?']
    args: list[Any] = [trace_id]
    if start is not None:
        where.append('"timestamp" >= ?')
        args.append(start)
    if end is not None:
        where.append('"timestamp" < ?')
        args.append(end)
    columns = ", ".join(f'"{c}"' for c in LOG_COLUMNS)
    sql = f'SELECT {columns} FROM logs WHERE {" AND ".join(where)} ORDER BY "timestamp" LIMIT ?'  # noqa: S608 - fixed columns, values bound
    results = await run_query(
        ctx, sql, [*args, limit], kind="trace_logs", tables=["logs"],
        start_us=None if start is None else _micros(start),
        end_us=None if end is None else _micros(end),
    )  # fmt: skip
    return JSON(
        {
            "kind": "rows",
            "columns": results.columns,
            "rows": rows_as_objects(results),
            "truncated": results.truncated or len(results.rows) >= limit,
            "took_ms": round(results.elapsed_ms, 2),
        }
    )


_QUERY_ERRORS = error_answers("BadRequest", "AnswerTooLarge", "Overloaded", "QueryTimeout")

endpoints = [
    Endpoint(
        "/api/v1/traces/red",
        red,
        ("GET",),
        READ,
        doc={
            "operationId": "red",
            "summary": "Rate, errors and duration per service and operation",
            "tags": ["traces"],
            "parameters": [
                query_param("from", "start (default: an hour before to)", TIME),
                query_param("to", "end (default: now)", TIME),
                query_param("service", "only this service", {"type": "string"}),
                query_param(
                    "kind",
                    "entry: served requests; all: every span",
                    {"type": "string", "enum": ["entry", "all"]},
                ),
            ],
            "responses": {
                "200": answer(
                    {
                        "type": "object",
                        "required": ["from", "to", "kind", "rows"],
                        "properties": {
                            "from": {"type": "string"},
                            "to": {"type": "string"},
                            "kind": {"type": "string"},
                            "rows": {"type": "array", "items": {"type": "object"}},
                        },
                    }
                ),
                **_QUERY_ERRORS,
            },
        },
    ),
    Endpoint(
        "/api/v1/traces/{trace_id}/logs",
        trace_logs,
        ("GET",),
        READ,
        doc={
            "operationId": "traceLogs",
            "summary": "The log lines of one trace",
            "tags": ["traces"],
            "parameters": [
                path_param("trace_id", "16 or 32 hex digits"),
                query_param("from", "start", TIME),
                query_param("to", "end", TIME),
                query_param(
                    "limit", "rows, 1 to query_max_rows", {"type": "integer", "minimum": 1}
                ),
            ],
            "responses": {"200": answer({"type": "object"}), **_QUERY_ERRORS},
        },
    ),
]
