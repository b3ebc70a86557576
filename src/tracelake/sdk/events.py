"""Publish business events from a service: ``publish_event("order_placed", {...})``.

Why a call of its own: an event is data the business wants kept and analysed (the
Kafka-into-the-lake role), not a log line, so it goes to ``POST /api/v1/events`` and
the ``events`` table, partitioned by type. The call never blocks and never does I/O:
it encodes the event, stamps it with the time, the service and the current
OpenTelemetry trace and span ids (when a span is active), and queues it on a
:class:`~tracelake.sdk._export.BatchExporter`, whose thread sends gzip'd NDJSON
batches, retrying connection errors, 429 and 5xx. The server answers only once a batch
is fsync'd, so an event the exporter counts as ``sent`` is durable; ``flush_events``
waits for that. Events the server refuses (bad type, payload over its limit) are
counted as ``rejected`` and noted on stderr.

Example::

    from tracelake.sdk import configure_events, publish_event

    configure_events(service="orders", endpoint="http://collector:7700")
    publish_event("order_placed", {"order_id": "o-17", "amount": 120.5}, key="o-17")

Without ``configure_events`` the first ``publish_event`` sets up a publisher for
``$TRACELAKE_ENDPOINT`` (else ``http://127.0.0.1:7700``) and ``$OTEL_SERVICE_NAME``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any, Final

import orjson

from tracelake.sdk._export import BatchExporter

__all__ = ["EVENTS_PATH", "configure_events", "flush_events", "publish_event"]

#: Where a tracelake server listens by default.
DEFAULT_ENDPOINT: Final = "http://127.0.0.1:7700"
#: The server's event intake.
EVENTS_PATH: Final = "/api/v1/events"

_lock = threading.Lock()
_exporter: BatchExporter | None = None
_service: str | None = None


def configure_events(
    service: str | None = None,
    endpoint: str | None = None,
    *,
    token: str | None = None,
    **exporter_options: Any,
) -> BatchExporter:
    """Set up (or replace) the process's event publisher; returns its exporter.

    Args:
        service: Written as ``service`` on every event; defaults to
            ``$OTEL_SERVICE_NAME``.
        endpoint: Base URL of the tracelake server; defaults to ``$TRACELAKE_ENDPOINT``
            or ``http://127.0.0.1:7700``.
        token: Bearer token, if the server wants one.
        exporter_options: Passed to :class:`~tracelake.sdk._export.BatchExporter`
            (``batch_size``, ``flush_interval``, ``queue_size``, ``max_retries`` ...).
    """
    global _exporter, _service
    exporter = _new_exporter(endpoint, token, exporter_options)
    with _lock:
        old, _exporter = _exporter, exporter
        _service = service or os.environ.get("OTEL_SERVICE_NAME") or None
    if old is not None:
        old.close()
    return exporter


def publish_event(type: str, payload: Mapping[str, Any], key: str | None = None) -> None:
    """Queue one event of ``type`` with ``payload`` (a JSON-able mapping). Never blocks.

    ``key`` names the entity the event is about (an order id), for joins and ordering.
    A full queue drops the event and counts it (``tracelake_sdk_dropped_records_total``).

    Values JSON has no type for (``Decimal``, ``set``, objects) are sent as their
    ``str()``; a payload that cannot be encoded at all (a cycle, an integer over 64 bits)
    is dropped with a note on stderr, never raised into the service.

    Raises:
        TypeError: ``type`` is not a string or ``payload`` not a mapping (a bug at the
            call site, reported there rather than as a server rejection later).
    """
    if not isinstance(type, str):
        raise TypeError(f"event type must be a string, got {type!r}")
    if not isinstance(payload, Mapping):
        raise TypeError(f"event payload must be a mapping, got {payload.__class__.__name__}")
    exporter = _exporter if _exporter is not None else _default_exporter()
    if exporter.is_full():
        exporter.drop()
        return
    event: dict[str, Any] = {
        "type": type,
        "payload": payload,
        "timestamp": time.time_ns() // 1000,
    }
    if key is not None:
        event["key"] = key
    if _service is not None:
        event["service"] = _service
    ids = _current_ids()
    if ids is not None:
        event["trace_id"], event["span_id"] = ids
    try:
        encoded = orjson.dumps(event, default=_as_text, option=orjson.OPT_NON_STR_KEYS)
    except (TypeError, ValueError) as e:  # orjson.JSONEncodeError is a TypeError
        with contextlib.suppress(Exception):
            sys.stderr.write(f"tracelake sdk (events): {type!r} not sent, its payload {e}\n")
        return
    exporter.submit(encoded)


def flush_events(timeout: float | None = None) -> bool:
    """Wait until every event published so far is acknowledged (or given up on)."""
    exporter = _exporter
    return True if exporter is None else exporter.flush(timeout)


def _new_exporter(
    endpoint: str | None, token: str | None, options: Mapping[str, Any]
) -> BatchExporter:
    return BatchExporter(
        endpoint or os.environ.get("TRACELAKE_ENDPOINT") or DEFAULT_ENDPOINT,
        EVENTS_PATH,
        signal="events",
        token=token,
        **options,
    )


def _default_exporter() -> BatchExporter:
    """The publisher made on first use; made under the lock, so threads that publish
    their first events at once share one exporter instead of closing each other's."""
    global _exporter, _service
    with _lock:
        if _exporter is None:
            _exporter = _new_exporter(None, None, {})
            _service = os.environ.get("OTEL_SERVICE_NAME") or None
        return _exporter


def _as_text(value: object) -> str:
    """What orjson cannot encode, as text (``str`` itself may fail on odd objects)."""
    try:
        return str(value)
    except Exception:
        return f"<unprintable {type(value).__name__}>"


def _current_ids() -> tuple[str, str] | None:
    """The active span's trace and span ids as lower hex, if OpenTelemetry has one."""
    try:
        from opentelemetry import trace
    except ImportError:  # pragma: no cover - the API is a dependency of the SDK
        return None
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")
