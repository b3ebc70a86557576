"""The manifest: which segment files make up the lake, and how far the WAL is flushed.

It is one JSON file rewritten whole by temp file + fsync + ``os.replace``, so a reader
(or a restart after a crash) always sees either the old or the new list, never a mix.
A segment file not named here is an orphan of an interrupted flush or compaction: its
rows are still in the WAL or in the segments it was to replace, so the store moves it
aside to ``_orphans/`` on open, never deletes it. A missing manifest beside segment
files, or one that does not parse, stops the start: ``tracelake lake repair`` rebuilds it
(``store/repair.py``) rather than the store guessing and losing the lake.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tracelake.errors import LakeNeedsRepair
from tracelake.files import write_atomic

#: Directories of the lake root that hold no table (set-aside files); names start with _.
ORPHANS_DIR = "_orphans"


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
        """Read the manifest; a fresh lake (no manifest, no segment files) is empty.

        Raises LakeNeedsRepair, in one line, when the manifest is missing while the lake
        holds segment files, or is unreadable: starting on an empty list would hide (and,
        before, delete) every segment of the lake.
        """
        repair = f"run `tracelake lake repair --data-dir {self.path.parent.parent}`"
        if not self.path.exists():
            found = segment_files(self.path.parent)
            if found:
                raise LakeNeedsRepair(
                    f"{self.path} is missing but the lake holds {len(found)} Parquet "
                    f"files; nothing was changed: {repair} to rebuild it"
                )
            return
        try:
            self.state = parse_state(orjson.loads(self.path.read_bytes()))
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            reason = f"no {e} key" if isinstance(e, KeyError) else str(e).splitlines()[0]
            raise LakeNeedsRepair(
                f"{self.path} is unreadable ({reason}); nothing was changed: {repair} "
                "to rebuild it from the segment files"
            ) from None

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


_SEGMENT_FIELDS = {
    "table": str,
    "path": str,
    "min_ts": int,
    "max_ts": int,
    "rows": int,
    "bytes": int,
    "partition": str,
}


def parse_state(raw: Any) -> ManifestState:
    """A manifest's JSON as state; ValueError/TypeError/KeyError when its shape is wrong."""
    if not isinstance(raw, dict):
        raise ValueError("not a JSON object")
    checkpoint, next_segment, segments = (
        raw["wal_checkpoint"],
        raw["next_segment"],
        raw["segments"],
    )
    if not isinstance(checkpoint, int) or not isinstance(next_segment, int):
        raise ValueError("wal_checkpoint and next_segment must be integers")
    if not isinstance(segments, list):
        raise ValueError("segments must be a list")
    parsed = []
    for i, entry in enumerate(segments):
        if not isinstance(entry, dict):
            raise ValueError(f"segment {i} is not an object")
        for name, kind in _SEGMENT_FIELDS.items():
            if not isinstance(entry.get(name), kind):
                raise ValueError(f"segment {i} has no valid {name!r}")
        parsed.append(
            Segment(
                **{name: entry[name] for name in _SEGMENT_FIELDS},
                compacted=bool(entry.get("compacted", False)),
            )
        )
    return ManifestState(wal_checkpoint=checkpoint, next_segment=next_segment, segments=parsed)


def segment_files(lake: Path) -> list[Path]:
    """The Parquet files of the lake's tables (not those set aside under ``_`` dirs)."""
    return (
        sorted(
            path
            for table in lake.iterdir()
            if table.is_dir() and not table.name.startswith("_")
            for path in table.rglob("*.parquet")
        )
        if lake.is_dir()
        else []
    )


def set_aside(lake: Path, path: Path) -> Path:
    """Move a file of the lake to ``_orphans/`` at the same relative path (never over one)."""
    target = lake / ORPHANS_DIR / path.relative_to(lake)
    target.parent.mkdir(parents=True, exist_ok=True)
    n = 1
    while target.exists():
        target = target.with_name(f"{path.name}.{n}")
        n += 1
    path.rename(target)
    return target
