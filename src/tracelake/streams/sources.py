"""What a continuous query reads: each source table as the search language sees it.

Filters, group keys and aggregate fields mean what they mean in a search of the same
table: ``logs`` and ``events`` are read with the search language's own shapes of them
(query/sql.py ``SHAPES``: for events, ``type``, ``key``, ``service`` … are columns
and ``payload.<name>`` a key of the payload). ``spans`` has no search shape, so it is
presented in the shape of ``logs``: its own columns become attributes (``name``,
``status``, ``duration_ms`` …) beside its attributes JSON, the columns the log model
shares (service, trace and span ids) stay columns. The views are fixed text; no
configured value reaches them.
"""

from __future__ import annotations

from dataclasses import dataclass

from tracelake.query.sql import SHAPES, Shape


@dataclass(frozen=True, slots=True)
class SourceView:
    """A SELECT presenting a table, and the search shape its fields resolve against."""

    sql: str
    shape: Shape


SOURCES: dict[str, SourceView] = {
    "logs": SourceView(
        'SELECT "timestamp", service, "level", message, trace_id, span_id, host, logger, '
        "attributes FROM logs",
        SHAPES["logs"],
    ),
    "events": SourceView(
        'SELECT "timestamp", "type", "key", service, trace_id, span_id, payload FROM events',
        SHAPES["events"],
    ),
    # A span's text is its name; its level ERROR when its status is error, else INFO.
    "spans": SourceView(
        "SELECT \"timestamp\", service, CASE WHEN status = 'error' THEN 'ERROR' ELSE 'INFO' "
        'END AS "level", "name" AS message, trace_id, span_id, NULL::VARCHAR AS host, '
        "NULL::VARCHAR AS logger, "
        "json_merge_patch(COALESCE(attributes, '{}'), json_object("
        "'name', \"name\", 'kind', kind, 'status', status, 'status_message', status_message, "
        "'duration_us', duration_us, 'duration_ms', duration_us / 1000.0, "
        "'parent_id', parent_id, 'remote_service', remote_service))::VARCHAR AS attributes "
        "FROM spans",
        SHAPES["logs"],
    ),
}
