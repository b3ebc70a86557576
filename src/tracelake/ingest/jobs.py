"""What every table's write path has in common: a job, what it is given, what it returns.

A job is a plain module-level function ``job(body, headers, env) -> Decoded``: the
request's bytes and the few headers that say how to read them, in; the Arrow IPC of
the rows to store and what became of every record, out. Jobs are picklable, so
``Ingest`` runs each in a worker process (decoding is GIL-bound Python) and the server
process only moves bytes; they never touch the store, so one job serves single-process
mode and cluster mode alike. ``ingest/tables/`` holds one module of jobs per table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import pyarrow as pa

from tracelake.ingest.decoders.sample_rows import SeriesLimits
from tracelake.model import IngestResult
from tracelake.pipeline.config import Pipeline
from tracelake.settings import Settings
from tracelake.store.ipc import to_ipc

#: The request headers a job reads, by lower-case name (a plain, picklable dict).
Headers = Mapping[str, str]

#: The headers that say how to read a body; nothing else crosses to a worker.
BODY_HEADERS = ("content-type", "content-encoding")


def body_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The ``BODY_HEADERS`` of a request, as a job takes them."""
    return {name: headers[name] for name in BODY_HEADERS if name in headers}


@dataclass(frozen=True, slots=True)
class Limits:
    """The input limits of the settings that jobs apply, small enough to send per job."""

    max_body_bytes: int
    max_line_bytes: int
    max_event_bytes: int
    series: SeriesLimits

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            settings.max_body_bytes,
            settings.max_line_bytes,
            settings.max_event_bytes,
            SeriesLimits(settings.max_series_labels, settings.max_label_length),
        )


@dataclass(frozen=True, slots=True)
class JobEnv:
    """Everything a job needs besides its body: limits, the log pipeline, the time.

    ``now_us`` is taken when the job is submitted: records without a time get it, and
    multiline joining measures its timeouts against it. ``level_numbering`` is how the
    input's numeric levels read (the setting of that name; ``auto``: by each record).
    """

    limits: Limits
    pipeline: Pipeline | None = None
    now_us: int = 0
    level_numbering: str = "auto"


@dataclass(slots=True)
class Decoded:
    """What a job made of one body: ``result.stored`` rows of ``table`` in ``ipc``.

    ``result`` says what became of every record (OTLP's and ``_bulk``'s partial-success
    shape); ``answer`` carries what a protocol's reply needs besides (the ``_bulk``
    items, a multiline joiner's state), never the records themselves.

    When rows name their records (``store/dedup.py``), ``lines`` holds each row's record
    number (the line or item number of error reports), and ``Ingest.commit`` sets
    ``duplicates`` to the record numbers the store already held: a retry's answer
    names them.
    """

    table: str
    ipc: bytes | None
    result: IngestResult = field(default_factory=IngestResult)
    answer: Any = None
    lines: list[int] | None = None
    duplicates: list[int] = field(default_factory=list)

    @classmethod
    def of(
        cls,
        table: str,
        batch: pa.RecordBatch,
        result: IngestResult,
        answer: Any = None,
        lines: list[int] | None = None,
    ) -> Decoded:
        """``batch`` encoded for the sink; no payload at all when it has no rows."""
        return cls(table, to_ipc(batch) if batch.num_rows else None, result, answer, lines)


class Job(Protocol):
    """One table's decode for one protocol."""

    def __call__(self, body: bytes, headers: Headers, env: JobEnv) -> Decoded: ...
