"""Decode + pipeline as one call, so it can run in a worker process.

Parsing JSON and mapping fields is pure Python work bound by the GIL; running it in a
process pool lets HTTP ingest use a second core while the server process does the
network, WAL and query work. Arguments and results are plain bytes and dicts so that
they cross the process boundary cheaply (Arrow IPC is a memcpy to rebuild). The
``Pipeline`` pickles as its config text and is rebuilt once per worker (cached).
"""

from __future__ import annotations

from typing import Any

from tracelake.ingest.decoders.compression import inflate
from tracelake.ingest.decoders.ndjson import decode_ndjson
from tracelake.model import IngestResult
from tracelake.pipeline.batches import logs_batch, to_ipc
from tracelake.pipeline.config import Pipeline


def ndjson_logs_job(
    body: bytes,
    encoding: str,
    max_body_bytes: int,
    max_line_bytes: int,
    now_us: int,
    pipeline: Pipeline | None = None,
) -> tuple[bytes, dict[str, Any]]:
    """A ``POST /api/v1/logs`` body → (Arrow IPC of the stored rows, the result dict).

    ``accepted`` in the result counts the records taken, ``dropped`` those of them
    that drop/sample rules discarded (so ``accepted - dropped`` rows are in the IPC).
    """
    data = inflate(body, encoding, max_body_bytes)
    objects, lines, errors = decode_ndjson(data, max_line_bytes)
    result = IngestResult()
    for error in errors:
        result.reject(error.line, error.error)
    redactor = None
    if pipeline is not None:
        objects, lines, result.dropped = pipeline.run(objects, lines, result)
        redactor = pipeline.redactor
    batch = logs_batch(objects, lines, result, now_us, redactor)
    result.accepted += result.dropped
    result.errors.sort(key=lambda e: e.line)
    return to_ipc(batch), result.as_dict()
