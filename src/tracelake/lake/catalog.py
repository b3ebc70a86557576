"""What the lake holds, from its Delta commit logs: per table and per partition.

Each table's ``_delta_log/`` is the truth about which files make up its current
version, so everything here reads the log and never lists directories (a directory
also holds files compaction has replaced, and files of writes that never committed).
Nothing here writes: a table whose log does not exist yet is shown empty, never
created, so the catalog is safe beside a running server or on a read-only copy.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tracelake.errors import NotFound
from tracelake.schema import SCHEMAS
from tracelake.store.delta import LOG_DIR, OPERATION_KEY, LakeTable, Segment, Snapshot

#: The catalog of the lake before Delta; a server start moves it onto Delta tables.
OLD_MANIFEST = "_manifest.json"


@dataclass(frozen=True, slots=True)
class Summary:
    """Segments, rows, bytes and time range of a table or a partition, with the Delta
    version they were read at (None: the table has no commit log yet)."""

    name: str
    segments: int
    rows: int
    bytes: int
    min_ts: int | None  # µs since the epoch
    max_ts: int | None
    compacted: int
    version: int | None

    def as_dict(self) -> dict[str, Any]:
        """As ``tracelake lake tables | partitions`` print it and the lake API answers."""
        return {
            "name": self.name,
            "version": self.version,
            "segments": self.segments,
            "compacted": self.compacted,
            "rows": self.rows,
            "bytes": self.bytes,
            "oldest": iso(self.min_ts),
            "newest": iso(self.max_ts),
        }

    @staticmethod
    def of(name: str, segments: list[Segment], version: int | None) -> Summary:
        return Summary(
            name,
            len(segments),
            sum(s.rows for s in segments),
            sum(s.bytes for s in segments),
            min((s.min_ts for s in segments), default=None),
            max((s.max_ts for s in segments), default=None),
            sum(1 for s in segments if s.compacted),
            version,
        )


@dataclass(frozen=True, slots=True)
class TableSummary:
    """A table's summary and its last commit: when (ms since the epoch) and what it
    did: tracelake's own name for it (flush, compact, retention, migrate, repair), else
    Delta's (``CREATE TABLE`` for the empty version 0, or another writer's operation)."""

    summary: Summary
    committed_ms: int | None
    operation: str | None

    def as_dict(self) -> dict[str, Any]:
        committed = None if self.committed_ms is None else self.committed_ms * 1000
        return {**self.summary.as_dict(), "committed": iso(committed), "operation": self.operation}


def iso(us: int | None) -> str | None:
    """Microseconds since the epoch as ISO 8601 (UTC)."""
    return None if us is None else datetime.fromtimestamp(us / 1e6, UTC).isoformat()


class Lake:
    """The Delta tables under one lake directory, opened read-only and on demand."""

    def __init__(self, root: Path, repair_hint: str = "run `tracelake lake repair`") -> None:
        """NotFound when ``root`` holds no table's commit log: the user most likely
        pointed at the wrong directory (or at a lake still on the old manifest)."""
        self.root = root
        self._hint = repair_hint
        self._tables: dict[str, LakeTable | None] = {}
        if not any((root / table / LOG_DIR).is_dir() for table in SCHEMAS):
            if (root / OLD_MANIFEST).is_file():
                raise NotFound(
                    f"the lake at {root} is still on {OLD_MANIFEST}, the catalog before "
                    "Delta Lake: start the server on it once (tracelake serve) to move it"
                )
            raise NotFound(
                f"no lake at {root}: pass the --data-dir (or --lake-dir) that tracelake serve uses"
            )

    @classmethod
    def over(cls, root: Path, open_tables: Mapping[str, LakeTable]) -> Lake:
        """The lake a running store has open: its tables and their cached snapshots."""
        lake = cls.__new__(cls)
        lake.root, lake._hint = root, "run `tracelake lake repair`"
        lake._tables = dict(open_tables)
        return lake

    def table(self, name: str) -> LakeTable | None:
        """The open table, or None when it has no commit log yet (never created here)."""
        if name not in SCHEMAS:
            raise NotFound(f"no table {name!r}: tables are {', '.join(SCHEMAS)}")
        if name not in self._tables:
            table = LakeTable(self.root, name, self._hint)
            try:
                table.open(create=False)
            except NotFound:
                self._tables[name] = None
            else:
                self._tables[name] = table
        return self._tables[name]

    def snapshot(self, name: str) -> Snapshot | None:
        """The table's current version, or None without a commit log."""
        table = self.table(name)
        return None if table is None else table.snapshot()


def open_lake(lake: Path, data_dir: Path | None = None) -> Lake:
    """The lake at ``lake``; the repair hint names ``data_dir`` when known."""
    hint = (
        f"run `tracelake lake repair --data-dir {data_dir}`"
        if data_dir is not None
        else "run `tracelake lake repair`"
    )
    return Lake(lake, hint)


def tables(lake: Lake) -> list[TableSummary]:
    """Every table of the lake, with or without a commit log yet, and its last commit."""
    out = []
    for name in SCHEMAS:
        table = lake.table(name)
        if table is None:
            out.append(TableSummary(Summary.of(name, [], None), None, None))
            continue
        snapshot = table.snapshot()
        # One commit's info: the newest version's file only, not the whole log.
        last = table.history(1)
        info = last[0] if last else {}
        when = info.get("timestamp")
        operation = info.get(OPERATION_KEY) or info.get("operation")
        out.append(
            TableSummary(
                Summary.of(name, list(snapshot.segments), snapshot.version),
                when if isinstance(when, int) else None,
                operation if isinstance(operation, str) else None,
            )
        )
    return out


def partitions(lake: Lake, table: str) -> list[Summary]:
    """The partitions of ``table`` that have files in its current version, in path order."""
    snapshot = lake.snapshot(table)
    if snapshot is None:
        return []
    groups: dict[str, list[Segment]] = defaultdict(list)
    for segment in snapshot.segments:
        groups[segment.partition].append(segment)
    return [Summary.of(name, groups[name], snapshot.version) for name in sorted(groups)]


def files(lake: Lake, table: str) -> list[str]:
    """Paths of the files of ``table``'s current version (the log's, never a glob's)."""
    snapshot = lake.snapshot(table)
    return [] if snapshot is None else [str(lake.root / s.path) for s in snapshot.segments]
