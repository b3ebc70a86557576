"""The ``logs`` table's write path: every protocol's body → pipeline → one Arrow batch.

Each protocol has a job here (``ndjson_job`` for ``POST /api/v1/logs``, ``otlp_job``,
``loki_job``, ``bulk_job``, ``frames_job`` for JSON lines and syslog over TCP); all end
in ``from_objects``, so the pipeline (parse, enrich, drop/sample, redact) and the field
mapping run once, the same way, in a worker process for every protocol. Records that
rules drop count as accepted and ``dropped``, never as errors.

A TCP connection's ``MultilineJoiner`` travels with each chunk of frames and comes back
in ``Decoded.answer`` (it pickles with its state): the connection awaits one chunk at a
time, so the joiner is never in two places.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

from tracelake.ingest.decoders import otlp_logs
from tracelake.ingest.decoders.compression import inflate
from tracelake.ingest.decoders.es_bulk import BulkAnswer, bulk_response, decode_bulk
from tracelake.ingest.decoders.jsonlines import PARSE_FAILURE_TAG, decode_json_lines
from tracelake.ingest.decoders.loki import read_push
from tracelake.ingest.decoders.ndjson import decode_ndjson
from tracelake.ingest.decoders.syslog import SyslogDecoder
from tracelake.ingest.jobs import Decoded, Headers, JobEnv
from tracelake.model import MAX_RECORD_FIELDS, IngestResult, LogObject, RecordError
from tracelake.pipeline.multiline import MultilineJoiner, join_records
from tracelake.pipeline.normalise import normalise_logs
from tracelake.pipeline.redact import Redactor
from tracelake.pipeline.timestamps import parse_timestamps
from tracelake.schema import LOGS

TABLE = "logs"
FrameFormat = Literal["jsonlines", "syslog"]


def logs_batch(
    objects: list[LogObject],
    lines: list[int],
    result: IngestResult,
    now_us: int,
    redactor: Redactor | None = None,
    level_numbering: str = "auto",
    ids: list[str | None] | None = None,
) -> pa.RecordBatch:
    """Normalise ``objects`` into a batch; rejected records are reported in ``result``.

    ``lines`` numbers each object for error reports (1-based line or item number).
    ``redactor`` masks secrets in ``message`` and ``attributes`` before the batch exists.
    ``level_numbering`` reads numeric levels (``pipeline.normalise.NUMBERINGS``).
    ``ids`` is each object's record id (the ``_id`` column), when its protocol names one.
    """
    wide = {
        i: f"record has {len(obj)} fields; at most {MAX_RECORD_FIELDS} are accepted"
        for i, obj in enumerate(objects)
        if len(obj) > MAX_RECORD_FIELDS
    }
    cols = normalise_logs(objects, lines, level_numbering)
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
            pa.nulls(len(cols), pa.string()) if ids is None else pa.array(ids, pa.string()),
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


def from_objects(
    objects: list[LogObject],
    env: JobEnv,
    rejected: Sequence[RecordError] = (),
    lines: list[int] | None = None,
    ids: list[str | None] | None = None,
) -> Decoded:
    """Pipeline + field mapping: the rows to store and what became of each record.

    ``rejected`` are the records the decoder already refused; ``lines`` numbers the
    objects for error reports (1-based line or item number; positions by default).
    ``ids`` names each object's record where its protocol does (``None``: none does);
    then ``Decoded.lines`` says which record each row is, to answer retries.
    """
    result = IngestResult()
    for error in rejected:
        result.reject(error.line, error.error)
    if lines is None:
        lines = list(range(1, len(objects) + 1))
    by_line = None if ids is None else dict(zip(lines, ids, strict=True))
    decoder_errors = len(result.errors)
    redactor = None
    if env.pipeline is not None:
        objects, lines, result.dropped = env.pipeline.run(objects, lines, result)
        redactor = env.pipeline.redactor
    kept_ids = None if by_line is None else [by_line.get(line) for line in lines]
    batch = logs_batch(
        objects, lines, result, env.now_us, redactor, env.level_numbering, ids=kept_ids
    )
    result.accepted += result.dropped  # taken, on purpose not stored: not an error
    row_lines = None
    if by_line is not None:
        refused = {e.line for e in result.errors[decoder_errors:]}
        row_lines = [line for line in lines if line not in refused]
    return Decoded.of(TABLE, batch, result, lines=row_lines)


def ndjson_job(body: bytes, headers: Headers, env: JobEnv) -> Decoded:
    """``POST /api/v1/logs``: NDJSON or a JSON array; errors by line number, in order."""
    data = inflate(body, headers.get("content-encoding", ""), env.limits.max_body_bytes)
    objects, lines, errors = decode_ndjson(data, env.limits.max_line_bytes)
    decoded = from_objects(objects, env, errors, lines)
    decoded.result.errors.sort(key=lambda e: e.line)
    return decoded


def otlp_job(body: bytes, headers: Headers, env: JobEnv) -> Decoded:
    """``POST /v1/logs``: OTLP log records, protobuf or JSON."""
    objects, rejected = otlp_logs.decode_logs(
        body,
        headers.get("content-type"),
        content_encoding=headers.get("content-encoding"),
        max_body_bytes=env.limits.max_body_bytes,
    )
    return from_objects(objects, env, rejected)


def loki_job(body: bytes, headers: Headers, env: JobEnv) -> Decoded:
    """``POST /loki/api/v1/push``: JSON or snappy-compressed protobuf streams."""
    push = read_push(
        body,
        headers.get("content-type"),
        content_encoding=headers.get("content-encoding"),
        max_body_bytes=env.limits.max_body_bytes,
        max_line_bytes=env.limits.max_line_bytes,
    )
    return from_objects(push.objects, env, push.errors, ids=push.ids)


def bulk_job(
    body: bytes, headers: Headers, env: JobEnv, default_index: str | None = None
) -> Decoded:
    """``_bulk``: the documents to store; ``answer`` is the reply (``BulkAnswer``), built
    here (``bulk_response``) but for the time the request took (``with_took``) and the
    retries of named documents the store finds (``BulkAnswer.body_for``).

    It holds every item's outcome, those the pipeline decided included, assuming the
    batch is stored: when the sink refuses it the whole request answers 429 instead.
    """
    request = decode_bulk(
        body,
        default_index=default_index,
        content_encoding=headers.get("content-encoding"),
        max_body_bytes=env.limits.max_body_bytes,
        max_doc_bytes=env.limits.max_line_bytes,
    )
    decoded = from_objects(request.objects, env, ids=request.ids)
    body = bulk_response(request, decoded.result)
    if request.ids is None:
        decoded.answer = BulkAnswer(body)
    else:  # named documents: a retry among them is answered after the append
        decoded.answer = BulkAnswer(body, request.items, decoded.result)
    return decoded


_syslog: SyslogDecoder | None = None


def _worker_syslog() -> SyslogDecoder:
    global _syslog  # one decoder (and its time caches) per worker process
    if _syslog is None:
        _syslog = SyslogDecoder(time.time)
    return _syslog


def _plain_text(obj: LogObject) -> bool:
    """JSON lines: only lines that were not JSON are joined (a record is a whole event)."""
    tags = obj.get("tags")
    return isinstance(tags, list) and PARSE_FAILURE_TAG in tags


def decode_frames(
    fmt: FrameFormat,
    frames: Sequence[bytes],
    *,
    syslog: SyslogDecoder | None = None,
    joiner: MultilineJoiner | None = None,
    now: float = 0.0,
    final: bool = False,
) -> list[LogObject]:
    """Complete frames of one connection → log objects, multiline events joined.

    Also what a TCP listener runs in-process when it has no worker pool to hand frames to.
    """
    if fmt == "jsonlines":
        objects = decode_json_lines(frames)
    else:
        decode = (syslog or _worker_syslog()).decode
        objects = [decode(f) for f in frames]
    if joiner is not None:
        eligible = _plain_text if fmt == "jsonlines" else None
        objects = join_records(objects, joiner, now, final=final, eligible=eligible)
    return objects


@dataclass(frozen=True, slots=True)
class Frames:
    """A chunk of one TCP connection's complete frames, and the connection's joiner."""

    fmt: FrameFormat
    frames: list[bytes]
    joiner: MultilineJoiner | None = None
    final: bool = False


def frames_job(chunk: Frames, env: JobEnv) -> Decoded:
    """JSON lines or syslog over TCP; ``answer`` is the joiner, carried on to the next chunk."""
    objects = decode_frames(
        chunk.fmt, chunk.frames, joiner=chunk.joiner, now=env.now_us / 1e6, final=chunk.final
    )
    decoded = from_objects(objects, env)
    decoded.answer = chunk.joiner
    return decoded
