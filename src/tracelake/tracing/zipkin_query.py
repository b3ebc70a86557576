"""Zipkin's query parameters, checked as Zipkin checks them, and the SQL that answers them.

Why its own module: the rules of ``QueryRequest`` (lower-cased names, ``all`` meaning
any span name, ``maxDuration`` only with ``minDuration``, ``endTs``/``lookback`` in
milliseconds while span times are microseconds, ``annotationQuery`` terms matching
within one span) are the part of the contract Lens and Grafana depend on. Everything
here is plain text in, SQL with bound parameters out; values never reach SQL text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tracelake.errors import BadRequest
from tracelake.ingest.decoders.span_rows import hex_id, is_zero, trace_id_128
from tracelake.tracing.zipkin_model import COLUMNS_SQL

DAY_MS = 86_400_000
#: Names (services, span names, remote services) are looked for this far back.
NAMES_LOOKBACK_MS = 7 * DAY_MS
#: Tag keys and values for autocompletion are looked for this far back.
AUTOCOMPLETE_LOOKBACK_MS = 3_600_000
AUTOCOMPLETE_LIMIT = 100
#: How far outside the query window the other spans of a matching trace are looked for.
TRACE_MARGIN_US = 3_600_000_000


@dataclass(frozen=True, slots=True)
class Window:
    """``[endTs - lookback, endTs]`` in epoch microseconds."""

    start_us: int
    end_us: int


@dataclass(slots=True)
class Compiled:
    sql: str
    params: list[Any] = field(default_factory=list)


def positive_int(params: Mapping[str, str], name: str, default: int | None) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} should be a positive number: {raw!r}") from None
    if value <= 0:
        raise BadRequest(f"{name} should be positive: {value}")
    return value


def window(params: Mapping[str, str], now_ms: int, default_lookback_ms: int) -> Window:
    end_ms = positive_int(params, "endTs", now_ms)
    lookback_ms = positive_int(params, "lookback", default_lookback_ms)
    assert end_ms is not None and lookback_ms is not None
    return Window(max(end_ms - lookback_ms, 0) * 1000, end_ms * 1000 + 999)


def required_name(params: Mapping[str, str], name: str) -> str:
    value = (params.get(name) or "").strip().lower()
    if not value:
        raise BadRequest(f"{name} is required")
    return value


def trace_id_param(raw: str) -> str:
    """A trace id of 1-32 hex digits as stored (32 digits); 400 otherwise."""
    normal = hex_id(raw.strip(), 32)
    if normal is None or is_zero(normal):
        raise BadRequest(f"{raw!r:.60} should be a 1 to 32 character hex string")
    return trace_id_128(normal)


def trace_ids_param(raw: str | None) -> list[str]:
    """``traceIds=a,b``: at least two distinct ids."""
    ids = [trace_id_param(part) for part in (raw or "").split(",") if part.strip()]
    if len(ids) < 2:
        raise BadRequest("traceIds should be at least two comma-separated trace ids")
    if len(set(ids)) != len(ids):
        raise BadRequest("traceIds should not contain duplicates")
    return ids


def names_sql(
    column: str, service: str | None, win: Window, *, keep_case: bool = False
) -> Compiled:
    """Distinct lower-cased values of ``service``, ``name`` or ``remote_service`` (as
    stored with ``keep_case``)."""
    assert column in ("service", "name", "remote_service")
    where = ["timestamp >= epoch_us_to_ts(?)", "timestamp <= epoch_us_to_ts(?)",
             f"{column} IS NOT NULL", f"{column} <> ''"]  # fmt: skip
    params: list[Any] = [win.start_us, win.end_us]
    if service is not None:
        where.append("lower(service) = ?")
        params.append(service)
    value = column if keep_case else f"lower({column})"
    sql = f"SELECT DISTINCT {value} AS v FROM spans WHERE {' AND '.join(where)} ORDER BY v"  # noqa: S608 - fixed column names
    return Compiled(_ts(sql), params)


#: The high half of a 64-bit trace id in its stored (32-digit) form.
ZERO_HIGH = "0" * 16
#: ``details`` of a span stored without a timestamp (see ``ingest/decoders/zipkin.py``).
UNTIMED = "contains(coalesce(details, ''), '\"no_timestamp\":true')"


def trace_sql(trace_ids: list[str]) -> Compiled:
    """The rows stored under ``trace_ids`` exactly, and under the 64-bit form of each
    128-bit one (a server that propagated only the low half): equality, so the
    segments' Bloom filter on ``trace_id`` prunes."""
    forms: list[str] = []
    for trace_id in trace_ids:
        forms.append(trace_id)
        if not trace_id.startswith(ZERO_HIGH):
            forms.append(ZERO_HIGH + trace_id[16:])
    marks = ", ".join("?" for _ in forms)
    sql = f"SELECT {COLUMNS_SQL} FROM spans WHERE trace_id IN ({marks}) ORDER BY trace_id, timestamp, span_id"  # noqa: S608 - placeholders only
    return Compiled(sql, forms)


def trace_high_sql(trace_ids: list[str], around_us: tuple[int, int] | None) -> Compiled:
    """The 128-bit fragments of 64-bit ``trace_ids`` (same low half, Zipkin's rule when
    trace ids are not strict). ``around_us``: the time range of the trace's spans found
    already, widened by ``TRACE_MARGIN_US`` (time partitions prune); None: anywhere."""
    lows = [trace_id[16:] for trace_id in trace_ids]
    marks = ", ".join("?" for _ in lows)
    where = [f"right(trace_id, 16) IN ({marks})", "NOT starts_with(trace_id, ?)"]
    params: list[Any] = [*lows, ZERO_HIGH]
    if around_us is not None:
        where += ["timestamp >= epoch_us_to_ts(?)", "timestamp <= epoch_us_to_ts(?)"]
        params += [around_us[0] - TRACE_MARGIN_US, around_us[1] + TRACE_MARGIN_US]
    sql = f"SELECT {COLUMNS_SQL} FROM spans WHERE {' AND '.join(where)} ORDER BY trace_id, timestamp, span_id"  # noqa: S608 - placeholders and fixed clauses only
    return Compiled(_ts(sql), params)


def traces_sql(params: Mapping[str, str], win: Window, limit: int) -> Compiled:
    """Spans of the ``limit`` traces nearest ``endTs`` with one span matching every filter.

    A trace is its trace id's low 64 bits (Zipkin's rule when ids are not strict), so a
    128-bit client and a 64-bit server come back together. A span stored without a
    timestamp matches no window by itself; its trace is found by its timed spans.
    """
    where = ["timestamp >= epoch_us_to_ts(?)", "timestamp <= epoch_us_to_ts(?)", f"NOT {UNTIMED}"]
    args: list[Any] = [win.start_us, win.end_us]
    service = (params.get("serviceName") or "").strip().lower()
    if service:
        where.append("lower(service) = ?")
        args.append(service)
    remote = (params.get("remoteServiceName") or "").strip().lower()
    if remote:
        where.append("lower(remote_service) = ?")
        args.append(remote)
    span_name = (params.get("spanName") or "").strip().lower()
    if span_name and span_name != "all":
        where.append("lower(name) = ?")
        args.append(span_name)
    min_duration = positive_int(params, "minDuration", None)
    max_duration = positive_int(params, "maxDuration", None)
    if max_duration is not None and min_duration is None:
        raise BadRequest("minDuration is required when specifying maxDuration")
    if min_duration is not None:
        where.append("duration_us >= ?")
        args.append(min_duration)
    if max_duration is not None:
        if max_duration < min_duration:  # type: ignore[operator]
            raise BadRequest("maxDuration should be >= minDuration")
        where.append("duration_us <= ?")
        args.append(max_duration)
    for clause, values in annotation_terms(params.get("annotationQuery") or ""):
        where.append(clause)
        args += values
    sql = f"""
        WITH hits AS (
            SELECT right(trace_id, 16) AS low, max(timestamp) AS last FROM spans
            WHERE {" AND ".join(where)}
            GROUP BY low ORDER BY last DESC LIMIT ?
        )
        SELECT {COLUMNS_SQL} FROM spans JOIN hits ON right(spans.trace_id, 16) = hits.low
        WHERE timestamp >= epoch_us_to_ts(?) AND timestamp <= epoch_us_to_ts(?)
        ORDER BY hits.last DESC, hits.low, timestamp, span_id
    """  # noqa: S608 - placeholders and fixed clauses only
    args += [limit, win.start_us - TRACE_MARGIN_US, win.end_us + TRACE_MARGIN_US]
    return Compiled(_ts(sql), args)


def annotation_terms(query: str) -> list[tuple[str, list[Any]]]:
    """``k=v`` → tag ``k`` is ``v``; a bare word → an annotation value or a tag key.

    ``error`` also matches spans whose status is error (an OTLP span's error tag is
    written at read time, see ``zipkin_model``).
    """
    out: list[tuple[str, list[Any]]] = []
    for term in query.split(" and "):
        term = term.strip()
        if not term:
            continue
        key, eq, value = term.partition("=")
        path = '$."' + key.strip().replace("\\", "\\\\").replace('"', '\\"') + '"'
        if eq:
            clause = "json_extract_string(attributes, ?) = ?"
            values: list[Any] = [path, value.strip()]
            if key.strip() == "error":
                clause = f"({clause} OR (status = 'error' AND coalesce(status_message, '') = ?))"
                values.append(value.strip())
            out.append((clause, values))
        else:
            clause = (
                "(json_exists(attributes, ?) OR "
                "list_contains(json_extract_string(events, '$[*].name'), ?)"
            )
            if term == "error":
                clause += " OR status = 'error'"
            out.append((clause + ")", [path, term]))
    return out


def dependencies_sql(win: Window) -> Compiled:
    sql = """
        SELECT parent, child, sum(call_count) AS calls, sum(error_count) AS errors
        FROM dependencies
        WHERE timestamp >= epoch_us_to_ts(?) AND timestamp <= epoch_us_to_ts(?)
        GROUP BY parent, child ORDER BY parent, child
    """
    return Compiled(_ts(sql), [win.start_us - win.start_us % 60_000_000, win.end_us])


def autocomplete_keys_sql(win: Window) -> Compiled:
    sql = """
        SELECT DISTINCT k FROM (
            SELECT unnest(json_keys(attributes)) AS k FROM spans
            WHERE timestamp >= epoch_us_to_ts(?) AND timestamp <= epoch_us_to_ts(?)
        ) ORDER BY k LIMIT ?
    """
    return Compiled(_ts(sql), [win.start_us, win.end_us, AUTOCOMPLETE_LIMIT])


def autocomplete_values_sql(key: str, win: Window) -> Compiled:
    path = '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
    sql = """
        SELECT DISTINCT v FROM (
            SELECT json_extract_string(attributes, ?) AS v FROM spans
            WHERE timestamp >= epoch_us_to_ts(?) AND timestamp <= epoch_us_to_ts(?)
        ) WHERE v IS NOT NULL ORDER BY v LIMIT ?
    """
    return Compiled(_ts(sql), [path, win.start_us, win.end_us, AUTOCOMPLETE_LIMIT])


def _ts(sql: str) -> str:
    """``epoch_us_to_ts(?)``: a bound µs number as a UTC timestamp DuckDB can prune on."""
    return sql.replace("epoch_us_to_ts(?)", "make_timestamptz(?::BIGINT)")
