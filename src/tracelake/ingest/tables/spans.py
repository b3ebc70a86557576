"""The ``spans`` table's write path: OTLP and Zipkin bodies → one Arrow batch of spans.

The decoders (``ingest/decoders/otlp_traces.py``, ``zipkin.py``) stay sans-IO and free
of pyarrow: they give column lists, which ``spans_batch`` turns into the batch.
"""

from __future__ import annotations

import pyarrow as pa

from tracelake.ingest.decoders.otlp_traces import decode_traces
from tracelake.ingest.decoders.span_rows import SpanRows
from tracelake.ingest.decoders.zipkin import decode_spans
from tracelake.ingest.jobs import Decoded, Headers, JobEnv
from tracelake.model import IngestResult, RecordError
from tracelake.schema import SPANS

TABLE = "spans"
_JSON_COLUMNS = frozenset({"attributes", "events", "resource", "details"})


def spans_batch(rows: SpanRows) -> pa.RecordBatch:
    """One batch of ``rows``; JSON columns arrive as bytes and are cast, not decoded."""
    arrays = []
    for column, values in zip(SPANS, rows.columns(), strict=True):
        if column.name in _JSON_COLUMNS:
            arrays.append(pa.array(values, pa.binary()).cast(pa.string()))
        else:
            arrays.append(pa.array(values, column.type))
    return pa.record_batch(arrays, schema=SPANS)


def decoded(rows: SpanRows, rejected: list[RecordError]) -> Decoded:
    """The good spans as one batch, the refused ones as errors."""
    result = IngestResult(accepted=len(rows), rejected=len(rejected), errors=rejected)
    return Decoded.of(TABLE, spans_batch(rows), result)


def otlp_job(body: bytes, headers: Headers, env: JobEnv) -> Decoded:
    """``POST /v1/traces``: OTLP spans, protobuf or JSON."""
    rows, rejected = decode_traces(
        body,
        headers.get("content-type"),
        content_encoding=headers.get("content-encoding"),
        max_body_bytes=env.limits.max_body_bytes,
    )
    return decoded(rows, rejected)


def zipkin_job(body: bytes, headers: Headers, env: JobEnv) -> Decoded:
    """``POST /api/v2/spans``: Zipkin v2 spans, JSON or protobuf."""
    rows, rejected = decode_spans(
        body,
        headers.get("content-type"),
        content_encoding=headers.get("content-encoding"),
        max_body_bytes=env.limits.max_body_bytes,
    )
    return decoded(rows, rejected)
