"""Validated event columns → an Arrow batch of the ``events`` table, durable in the store.

``events_job`` is the whole decode as one picklable call, so it runs in an ingest worker
process like the logs' (the JSON work is GIL-bound); ``LogIngest.append`` makes its
batch durable and counts it.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from tracelake.events.decode import EventColumns, EventError, decode_events
from tracelake.ingest.decoders.compression import inflate
from tracelake.pipeline.batches import to_ipc
from tracelake.pipeline.timestamps import parse_timestamps
from tracelake.schema import EVENTS

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


def events_job(
    body: bytes, encoding: str, max_body_bytes: int, max_event_bytes: int, now_us: int
) -> tuple[bytes | None, dict[str, Any]]:
    """A request body → (Arrow IPC of the accepted events or None, the response dict)."""
    data = inflate(body, encoding, max_body_bytes)
    cols, errors = decode_events(data, max_event_bytes)
    batch = events_batch(cols, errors, now_us)
    result = {
        "accepted": batch.num_rows,
        "rejected": len(errors),
        "errors": [e.as_dict() for e in errors[:MAX_ERRORS]],
    }
    return (to_ipc(batch) if batch.num_rows else None), result
