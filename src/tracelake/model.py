"""The shapes every stage passes around, without any server dependency.

A *log object* is what clients send and what every ingest decoder yields: a plain
``dict`` whose keys follow the field mapping of docs/ingest.md (``@timestamp``,
``level``, ``service``, ``trace_id`` ... and anything else). The pipeline normalises
log objects into *rows* of the ``logs`` table, whose columns are listed here once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

LogObject = dict[str, Any]

#: Columns of the ``logs`` table, in storage order. ``attributes`` holds every other
#: field of the log object as a JSON object text (nested objects stay nested).
LOG_COLUMNS: tuple[str, ...] = (
    "timestamp",
    "service",
    "level",
    "message",
    "trace_id",
    "span_id",
    "host",
    "logger",
    "attributes",
)

#: Levels after normalisation, least to most severe.
LEVELS: tuple[str, ...] = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")

#: Most top-level fields a log record may carry; a wider record is rejected (with this
#: number in the reason) rather than exploding ``attributes`` and every query over it.
MAX_RECORD_FIELDS = 1000

#: Tables of the lake.
TABLES: tuple[str, ...] = ("logs", "spans", "metrics", "events")


@dataclass(slots=True)
class RecordError:
    """One rejected record of a batch: where it was (1-based) and why."""

    line: int
    error: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "error": self.error}


@dataclass(slots=True)
class IngestResult:
    """What a batch came to: OTLP's and ``_bulk``'s partial-success shape.

    ``accepted`` counts every record taken; ``dropped`` those of them that drop or
    sample rules discarded on purpose, and ``duplicates`` those the store already held
    (a client's retry of a record with an id), so ``accepted - dropped - duplicates``
    were stored.
    """

    accepted: int = 0
    rejected: int = 0
    dropped: int = 0
    errors: list[RecordError] = field(default_factory=list)
    duplicates: int = 0

    @property
    def stored(self) -> int:
        return self.accepted - self.dropped - self.duplicates

    def reject(self, line: int, error: str) -> None:
        self.rejected += 1
        self.errors.append(RecordError(line, error))

    def as_dict(self, max_errors: int = 100) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "rejected": self.rejected,
            "dropped": self.dropped,
            "errors": [e.as_dict() for e in self.errors[:max_errors]],
        }
