"""Stream frames → Arrow IPC of the ``logs`` table, as one call for an ingest worker.

The JSON-lines and syslog TCP listeners only frame bytes (cheap, in the server process)
and hand chunks of complete frames here: decoding, multiline joining, the pipeline and
the Arrow conversion are GIL-bound Python and run in the worker processes through
``LogIngest.offload``, like HTTP NDJSON bodies. ``decode_frames`` is also what a listener
runs in-process when its sink takes log objects, so each mapping exists once.

A connection's ``MultilineJoiner`` travels with each chunk and comes back with the
result (it pickles with its state): the connection awaits one chunk at a time, so the
joiner is never in two places.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import pyarrow as pa

from tracelake.ingest.decoders.jsonlines import PARSE_FAILURE_TAG, decode_json_lines
from tracelake.ingest.decoders.syslog import SyslogDecoder
from tracelake.model import IngestResult, LogObject
from tracelake.pipeline.batches import logs_batch, to_ipc
from tracelake.pipeline.config import Pipeline
from tracelake.pipeline.multiline import MultilineJoiner, join_records

FrameFormat = Literal["jsonlines", "syslog"]

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
    """Complete frames of one connection → log objects, multiline events joined."""
    if fmt == "jsonlines":
        objects = decode_json_lines(frames)
    else:
        decode = (syslog or _worker_syslog()).decode
        objects = [decode(f) for f in frames]
    if joiner is not None:
        eligible = _plain_text if fmt == "jsonlines" else None
        objects = join_records(objects, joiner, now, final=final, eligible=eligible)
    return objects


def logs_from_objects(
    objects: list[LogObject], now_us: int, pipeline: Pipeline | None
) -> tuple[pa.RecordBatch, IngestResult]:
    """Pipeline + field mapping: the batch to store and what became of each record."""
    result = IngestResult()
    lines = list(range(1, len(objects) + 1))
    redactor = None
    if pipeline is not None:
        objects, lines, result.dropped = pipeline.run(objects, lines, result)
        redactor = pipeline.redactor
    batch = logs_batch(objects, lines, result, now_us, redactor)
    result.accepted += result.dropped  # taken, on purpose not stored: not an error
    return batch, result


@dataclass
class StreamChunk:
    """What a worker made of one chunk of frames; ``ipc`` holds ``stored`` rows."""

    ipc: bytes
    stored: int
    accepted: int
    dropped: int
    rejected: int
    joiner: MultilineJoiner | None
    #: Rejects by reason, for the listener's counters.
    reasons: dict[str, int] = field(default_factory=dict)


def stream_logs_job(
    fmt: FrameFormat,
    frames: list[bytes],
    now: float,
    pipeline: Pipeline | None,
    joiner: MultilineJoiner | None = None,
    final: bool = False,
) -> StreamChunk:
    """Decode, join, run the pipeline and convert one chunk of a connection's frames."""
    objects = decode_frames(fmt, frames, joiner=joiner, now=now, final=final)
    batch, result = logs_from_objects(objects, int(now * 1e6), pipeline)
    return StreamChunk(
        ipc=to_ipc(batch) if batch.num_rows else b"",
        stored=batch.num_rows,
        accepted=result.accepted,
        dropped=result.dropped,
        rejected=result.rejected,
        joiner=joiner,
        reasons={"sink": result.rejected} if result.rejected else {},
    )
