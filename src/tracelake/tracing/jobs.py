"""Span decoding as one picklable call, so it runs in the ingest worker processes.

Decoding protobuf or JSON spans into rows is GIL-bound Python work, like parsing log
lines; the server hands it to the same worker pool (``LogIngest.offload``) and gets
back Arrow IPC bytes ready for the WAL, plus the rejected spans.
"""

from __future__ import annotations

from tracelake.ingest.decoders.otlp_traces import decode_traces
from tracelake.ingest.decoders.zipkin import decode_spans
from tracelake.model import RecordError
from tracelake.pipeline.batches import to_ipc
from tracelake.tracing.batches import spans_batch

SpanJobResult = tuple[bytes | None, int, list[RecordError]]


def otlp_spans_job(
    body: bytes, content_type: str | None, content_encoding: str | None, max_body_bytes: int
) -> SpanJobResult:
    """An OTLP traces body → (IPC of the good spans or None, their count, rejects)."""
    rows, rejected = decode_traces(
        body, content_type, content_encoding=content_encoding, max_body_bytes=max_body_bytes
    )
    return (to_ipc(spans_batch(rows)) if len(rows) else None), len(rows), rejected


def zipkin_spans_job(
    body: bytes, content_type: str | None, content_encoding: str | None, max_body_bytes: int
) -> SpanJobResult:
    """A Zipkin v2 body → (IPC of the good spans or None, their count, rejects)."""
    rows, rejected = decode_spans(
        body, content_type, content_encoding=content_encoding, max_body_bytes=max_body_bytes
    )
    return (to_ipc(spans_batch(rows)) if len(rows) else None), len(rows), rejected
