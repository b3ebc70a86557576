"""Rows of ``spans`` as Zipkin v2 JSON spans: the shape Lens, Grafana and Zipkin clients read.

Why here and not in the route: the mapping (which columns become which field, how an
OTLP span's attributes, status and events become Zipkin tags and annotations) is the
contract of the Zipkin API, and tests exercise it on its own.

The field order is Zipkin's writer order; names and service names are lower-cased as
Zipkin's builder does (``keep_case``: as stored, for tracelake's own UI, which shows names
as the spans carry them on every page); a 128-bit trace id whose high half is zero is written as 16 hex
digits; an OTLP span's status becomes the ``otel.status_code`` and ``error`` tags, as
OpenTelemetry's Zipkin exporter writes them. Tags come back sorted by key, as Zipkin
keeps them (a ``TreeMap``). A span stored without a timestamp (``details.no_timestamp``:
its row's ``timestamp`` is only where the lake files it) is answered without one, as
Zipkin answers it.
"""

from __future__ import annotations

from typing import Any

import orjson

#: The columns :func:`zipkin_span` reads, in this order (``ts_us`` = epoch µs).
COLUMNS_SQL = (
    "trace_id, parent_id, span_id, kind, name, epoch_us(timestamp) AS ts_us, duration_us, "
    "service, remote_service, attributes, events, details, status, status_message"
)

_ZIPKIN_KINDS = frozenset({"CLIENT", "SERVER", "PRODUCER", "CONSUMER"})


def zipkin_trace_id(trace_id: str) -> str:
    """16 hex digits when the high 64 bits are zero (Zipkin's reader does the same)."""
    return trace_id[16:] if trace_id.startswith("0000000000000000") else trace_id


def tag_value(value: Any) -> str:
    """Zipkin tags are strings: booleans lower-case, numbers as text, the rest as JSON."""
    if type(value) is str:
        return value
    if type(value) is bool:
        return "true" if value else "false"
    if type(value) in (int, float):
        return str(value)
    return orjson.dumps(value).decode()


def zipkin_span(row: tuple[Any, ...], *, keep_case: bool = False) -> dict[str, Any]:
    """One row selected with :data:`COLUMNS_SQL` as a Zipkin v2 span object; names and
    service names lower-cased as Zipkin answers them unless ``keep_case``."""
    (trace_id, parent_id, span_id, kind, name, ts_us, duration_us, service, remote_service,
     attributes, events, details, status, status_message) = row  # fmt: skip
    extra: dict[str, Any] = orjson.loads(details) if details else {}
    case = _as_stored if keep_case else str.lower
    span: dict[str, Any] = {"traceId": zipkin_trace_id(trace_id)}
    if parent_id:
        span["parentId"] = parent_id
    span["id"] = span_id
    if kind in _ZIPKIN_KINDS:
        span["kind"] = kind
    if name:
        span["name"] = case(name)
    if ts_us and not extra.get("no_timestamp"):
        span["timestamp"] = ts_us
    if duration_us:
        span["duration"] = duration_us
    local = {"serviceName": case(service)} if service else {}
    local.update(extra.get("local") or {})
    if local:
        span["localEndpoint"] = local
    remote = {"serviceName": case(remote_service)} if remote_service else {}
    remote.update(extra.get("remote") or {})
    if remote:
        span["remoteEndpoint"] = remote
    if events:
        span["annotations"] = [_annotation(e) for e in orjson.loads(events)]
    tags = {k: tag_value(v) for k, v in orjson.loads(attributes or "{}").items()}
    if "scope" in extra:  # an OTLP span: say what OpenTelemetry's Zipkin exporter says
        tags.setdefault("otel.scope.name", extra["scope"])
        if "scope_version" in extra:
            tags.setdefault("otel.scope.version", extra["scope_version"])
        if status != "unset":
            tags.setdefault("otel.status_code", status.upper())
    if status == "error":
        tags.setdefault("error", status_message or "")
    if tags:
        span["tags"] = dict(sorted(tags.items()))
    if extra.get("debug"):
        span["debug"] = True
    if extra.get("shared"):
        span["shared"] = True
    return span


def _as_stored(name: str) -> str:
    return name


def _annotation(event: dict[str, Any]) -> dict[str, Any]:
    attributes = event.get("attributes")
    value = event.get("name", "")
    if attributes:
        value = orjson.dumps({value: attributes}, option=orjson.OPT_SORT_KEYS).decode()
    return {"timestamp": event.get("timestamp", 0), "value": value}
