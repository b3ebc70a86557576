"""The ``events`` table's write path: ``POST /api/v1/events`` bodies → one Arrow batch.

``ingest/decoders/events.py`` validates each event (sans-IO); ``events_batch`` makes the
good ones a batch. The reply's per-item reasons (by 0-based index) are ``answer``.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from tracelake.ingest.decoders.compression import inflate
from tracelake.ingest.decoders.events import EventColumns, EventError, decode_events
from tracelake.ingest.jobs import Decoded, Headers, JobEnv
from tracelake.model import IngestResult
from tracelake.pipeline.timestamps import parse_timestamps
from tracelake.schema import EVENTS

TABLE = "events"

#: At most this many item errors are sent back; the counts are always complete.
MAX_ERRORS = 100


def events_batch(cols: EventColumns, errors: list[EventError], now_us: int) -> pa.RecordBatch:
    """One batch of ``cols``; events with an unreadable time join ``errors``."""
    timestamps, bad = parse_timestamps(cols.timestamp, now_us)
    batch = pa.record_batch(
        [
            timestamps,
            pa.array(cols.type, pa.string()),
            pa.array(cols.key, pa.string()),
            pa.array(cols.service, pa.string()),
            pa.array(cols.trace_id, pa.string()),
            pa.array(cols.span_id, pa.string()),
            pa.array(cols.payload, pa.binary()).cast(pa.string()),
        ],
        schema=EVENTS,
    )
    if bad:
        errors += [EventError(cols.index[i], reason) for i, reason in bad.items()]
        errors.sort(key=lambda e: e.index)
        batch = batch.filter(pa.array([i not in bad for i in range(len(cols))]))
    return batch


def events_job(body: bytes, headers: Headers, env: JobEnv) -> Decoded:
    """A request body → the accepted events; ``answer`` is the reply's body."""
    limits = env.limits
    data = inflate(body, headers.get("content-encoding", ""), limits.max_body_bytes)
    cols, errors = decode_events(data, limits.max_event_bytes)
    batch = events_batch(cols, errors, env.now_us)
    answer: dict[str, Any] = {
        "accepted": batch.num_rows,
        "rejected": len(errors),
        "errors": [e.as_dict() for e in errors[:MAX_ERRORS]],
    }
    result = IngestResult(accepted=batch.num_rows, rejected=len(errors))
    return Decoded.of(TABLE, batch, result, answer)
