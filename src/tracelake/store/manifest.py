"""The manifest: which segment files make up the lake, and how far the WAL is flushed.

It is one JSON file rewritten whole by temp file + fsync + ``os.replace``, so a reader
(or a restart after a crash) always sees either the old or the new list, never a mix.
A segment file not named here is an orphan of an interrupted flush or compaction and
is deleted on open; its rows are still in the WAL or in the segments that replaced it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tracelake.files import write_atomic


@dataclass(frozen=True, slots=True)
class Segment:
    """One Parquet file of the lake. ``path`` is relative to the lake root."""

    table: str
    path: str
    min_ts: int  # µs since the epoch, inclusive
    max_ts: int  # µs since the epoch, inclusive
    rows: int
    bytes: int
    partition: str  # "date=YYYY-MM-DD/hour=HH"; events: "type=T/date=…/hour=HH"
    compacted: bool = False

    def overlaps(self, start_us: int | None, end_us: int | None) -> bool:
        return (start_us is None or self.max_ts >= start_us) and (
            end_us is None or self.min_ts < end_us
        )


@dataclass(slots=True)
class ManifestState:
    wal_checkpoint: int = 0
    next_segment: int = 1
    segments: list[Segment] = field(default_factory=list)


class Manifest:
    """Load and save the manifest; callers hold the store lock while changing it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.state = ManifestState()

    def load(self) -> None:
        if not self.path.exists():
            return
        raw: dict[str, Any] = orjson.loads(self.path.read_bytes())
        self.state = ManifestState(
            wal_checkpoint=raw["wal_checkpoint"],
            next_segment=raw["next_segment"],
            segments=[Segment(**s) for s in raw["segments"]],
        )

    def save(self) -> None:
        data = {
            "version": 1,
            "wal_checkpoint": self.state.wal_checkpoint,
            "next_segment": self.state.next_segment,
            "segments": [asdict(s) for s in self.state.segments],
        }
        write_atomic(self.path, orjson.dumps(data, option=orjson.OPT_INDENT_2))

    def take_segment_number(self) -> int:
        n = self.state.next_segment
        self.state.next_segment += 1
        return n

    def segments(self, table: str | None = None) -> list[Segment]:
        return [s for s in self.state.segments if table is None or s.table == table]
