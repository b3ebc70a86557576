"""Assemble Arrow record batches of the ``logs`` table from log objects."""

from __future__ import annotations

import pyarrow as pa

from tracelake.model import MAX_RECORD_FIELDS, IngestResult, LogObject
from tracelake.pipeline.normalise import normalise_logs
from tracelake.pipeline.redact import Redactor
from tracelake.pipeline.timestamps import parse_timestamps
from tracelake.schema import LOGS


def logs_batch(
    objects: list[LogObject],
    lines: list[int],
    result: IngestResult,
    now_us: int,
    redactor: Redactor | None = None,
) -> pa.RecordBatch:
    """Normalise ``objects`` into a batch; rejected records are reported in ``result``.

    ``lines`` numbers each object for error reports (1-based line or item number).
    ``redactor`` masks secrets in ``message`` and ``attributes`` before the batch exists.
    """
    wide = {
        i: f"record has {len(obj)} fields; at most {MAX_RECORD_FIELDS} are accepted"
        for i, obj in enumerate(objects)
        if len(obj) > MAX_RECORD_FIELDS
    }
    cols = normalise_logs(objects, lines)
    timestamps, bad = parse_timestamps(cols.raw_timestamps, now_us)
    bad.update(wide)
    message = pa.array(cols.message, pa.string())
    attributes = pa.array(cols.attributes, pa.binary()).cast(pa.string())
    if redactor is not None:
        message, attributes = redactor.columns(message, attributes)
    batch = pa.record_batch(
        [
            timestamps,
            pa.array(cols.service, pa.string()),
            pa.array(cols.level, pa.string()),
            message,
            pa.array(cols.trace_id, pa.string()),
            pa.array(cols.span_id, pa.string()),
            pa.array(cols.host, pa.string()),
            pa.array(cols.logger, pa.string()),
            attributes,
        ],
        schema=LOGS,
    )
    if bad:
        for index in sorted(bad):
            result.reject(lines[index], bad[index])
        keep = pa.array([i not in bad for i in range(len(cols))])
        batch = batch.filter(keep)
    result.accepted += batch.num_rows
    return batch


def to_ipc(batch: pa.RecordBatch) -> bytes:
    """One batch as Arrow IPC stream bytes: the WAL's payload and the worker's reply."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return sink.getvalue().to_pybytes()


def from_ipc(data: bytes | memoryview) -> pa.RecordBatch:
    """The inverse of ``to_ipc``, zero-copy over ``data``."""
    reader = pa.ipc.open_stream(pa.py_buffer(data))
    table = reader.read_all()
    batches = table.to_batches()
    if len(batches) == 1:
        return batches[0]
    return (
        table.combine_chunks().to_batches()[0]
        if table.num_rows
        else pa.record_batch([pa.array([], f.type) for f in table.schema], schema=table.schema)
    )
