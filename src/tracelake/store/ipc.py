"""The Arrow IPC codec: how a batch travels from an ingest worker to the WAL and back.

It lives with the store because the WAL's frames hold exactly these bytes; every
writer (ingest jobs, continuous queries, the dependency linker) encodes with
``to_ipc`` and the store decodes with ``from_ipc`` when it replays or applies a frame.
"""

from __future__ import annotations

import pyarrow as pa


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
