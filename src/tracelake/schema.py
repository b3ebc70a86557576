"""Arrow schemas of the lake's tables: the one place their columns and types are set.

Times are microseconds since the epoch in UTC (Parquet ``TIMESTAMP(MICROS, UTC)``),
which Spark, DuckDB, pandas and Polars all read without conversion.
"""

from __future__ import annotations

import pyarrow as pa

from tracelake.model import LOG_COLUMNS

TIMESTAMP = pa.timestamp("us", tz="UTC")

#: The log columns, then ``_id``: the record's identity where its protocol names one
#: (a ``_bulk`` item's ``_id``, a Loki entry, a forward chunk's record; docs/ingest.md),
#: null otherwise. The store remembers recent ids so a retried record is stored once.
LOGS = pa.schema(
    [pa.field("timestamp", TIMESTAMP, nullable=False)]
    + [pa.field(name, pa.string()) for name in LOG_COLUMNS[1:]]
    + [pa.field("_id", pa.string())]
)

#: One row per span, from OTLP and Zipkin alike (docs/tracing.md). ``timestamp`` is the
#: span's start so the store partitions and prunes spans like logs. Ids are lower hex,
#: trace ids 32 digits (64-bit ids left-padded with zeros, as in ``logs``). ``status``
#: is ok / error / unset. ``attributes``, ``events``, ``resource`` and ``details``
#: (endpoints, Zipkin's shared/debug flags, links, scope) hold JSON text.
SPANS = pa.schema(
    [
        pa.field("timestamp", TIMESTAMP, nullable=False),
        pa.field("trace_id", pa.string(), nullable=False),
        pa.field("span_id", pa.string(), nullable=False),
        pa.field("parent_id", pa.string()),
        pa.field("service", pa.string()),
        pa.field("name", pa.string()),
        pa.field("kind", pa.string()),
        pa.field("duration_us", pa.int64()),
        pa.field("status", pa.string()),
        pa.field("status_message", pa.string()),
        pa.field("remote_service", pa.string()),
        pa.field("attributes", pa.string()),
        pa.field("events", pa.string()),
        pa.field("resource", pa.string()),
        pa.field("details", pa.string()),
    ]
)

#: Service-to-service call counts per minute, maintained as spans arrive
#: (``tracing/dependencies.py``); several rows of one minute and pair add up.
DEPENDENCIES = pa.schema(
    [
        pa.field("timestamp", TIMESTAMP, nullable=False),
        pa.field("parent", pa.string(), nullable=False),
        pa.field("child", pa.string(), nullable=False),
        pa.field("call_count", pa.int64(), nullable=False),
        pa.field("error_count", pa.int64(), nullable=False),
    ]
)

#: One row per sample, from scrapes, remote_write and OTLP metrics (docs/metrics.md).
#: ``name`` is the metric name (``__name__``); ``labels`` the other labels as canonical
#: JSON (keys sorted, no spaces: ``orjson.dumps(labels, option=OPT_SORT_KEYS)``), so
#: ``name`` + ``labels`` is the series' identity. ``service`` repeats the ``service``
#: (else ``job``) label for pruning. Segments are sorted by name, labels, time, so a
#: selector on a name reads the row groups of that name only.
METRICS = pa.schema(
    [
        pa.field("timestamp", TIMESTAMP, nullable=False),
        pa.field("name", pa.string(), nullable=False),
        pa.field("labels", pa.string(), nullable=False),
        pa.field("value", pa.float64(), nullable=False),
        pa.field("service", pa.string()),
    ]
)

#: Business events published by services (docs/events.md). ``type`` names the event
#: (``order_placed``) and partitions the table; ``payload`` is the event's JSON object;
#: ``key`` an optional entity key (order id) for ordering and joins.
EVENTS = pa.schema(
    [
        pa.field("timestamp", TIMESTAMP, nullable=False),
        pa.field("type", pa.string(), nullable=False),
        pa.field("key", pa.string()),
        pa.field("service", pa.string()),
        pa.field("trace_id", pa.string()),
        pa.field("span_id", pa.string()),
        pa.field("payload", pa.string()),
    ]
)

#: Results of continuous queries (docs/streams.md): one row per window, group and
#: aggregate. ``timestamp`` is the window's start, ``window_end`` its (exclusive) end;
#: ``labels`` the group keys as canonical JSON, like ``metrics.labels``. A window's rows
#: are written in one batch, so after a crash they are all there or none is.
DERIVED = pa.schema(
    [
        pa.field("timestamp", TIMESTAMP, nullable=False),
        pa.field("window_end", TIMESTAMP, nullable=False),
        pa.field("query", pa.string(), nullable=False),
        pa.field("labels", pa.string(), nullable=False),
        pa.field("aggregate", pa.string(), nullable=False),
        pa.field("value", pa.float64(), nullable=False),
        pa.field("tl_committed_at", TIMESTAMP, nullable=False),
    ]
)

SCHEMAS: dict[str, pa.Schema] = {
    "logs": LOGS,
    "spans": SPANS,
    "dependencies": DEPENDENCIES,
    "metrics": METRICS,
    "events": EVENTS,
    "derived": DERIVED,
}


def schema_of(table: str) -> pa.Schema:
    """The schema of a lake table; KeyError names the tables that exist."""
    try:
        return SCHEMAS[table]
    except KeyError:
        raise KeyError(f"no table {table!r}; tables: {', '.join(SCHEMAS)}") from None
