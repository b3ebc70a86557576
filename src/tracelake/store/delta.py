"""The lake's tables as Delta Lake tables (delta-rs): the commit log is the catalog.

Each table is a Delta table at ``<lake>/<table>``; its commit log (``_delta_log/``) says
which Parquet files make up each version. The store writes the files itself
(``store/segments.py``: sorted, zstd, Bloom filter) and commits them here, so a flush,
a compaction and a retention drop are each one atomic commit that any Delta reader
(Spark, Polars, pandas, DuckDB over ``file_uris()``) sees whole or not at all.

Why our own file writer with Delta's commits rather than ``write_deltalake``: the
writer keeps today's figures (level-1 zstd at flush, sorted level-3 with a row-group
Bloom filter at compaction, provenance metadata for ``lake repair``), and one commit
can carry what delta-rs's writer cannot: a compaction's removes with its add, and the
flush's position in the WAL (an app transaction: "writer W has committed WAL file N"),
which is how a restart replays exactly the batches no commit holds.

A ``LakeTable`` keeps one ``DeltaTable`` and the segments of its newest version. A
query asks for ``snapshot()``; the cached one is reused until the log has a version
after it (one ``stat`` of the next log file), then it is brought up to date with
``update_incremental``. Timestamps in the commit statistics have millisecond precision
(as Spark writes them): a segment's ``max_ts`` is read back rounded up to the
millisecond's last microsecond so pruning never drops a row.
"""

from __future__ import annotations

import posixpath
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable
from deltalake import Schema as DeltaSchema
from deltalake.exceptions import DeltaError, TableNotFoundError
from deltalake.transaction import (
    AddAction,
    CommitProperties,
    RemoveAction,
    Transaction,
    create_table_with_add_actions,
)

from tracelake.errors import LakeNeedsRepair, NotFound
from tracelake.schema import schema_of

HOUR_US = 3_600_000_000
#: Tables with a partition level before ``date`` and ``hour``, and the column naming it.
PARTITIONED_BY: dict[str, str] = {"events": "type"}
#: Flushed segment files are named ``f-…``; anything else (compacted, or written before
#: the lake was on Delta) is not compacted again.
FLUSHED_PREFIX = "f-"
LOG_DIR = "_delta_log"
#: Commit info key naming what a commit did (flush, compact, retention, migrate, repair).
OPERATION_KEY = "tracelake.operation"
#: Table properties set at creation. A commit reads the log since the last checkpoint,
#: so its cost grows with the commits since then; delta-rs's default of a checkpoint
#: every 100 commits let a flush's commit climb from about 5 to 25 ms. Every 20 keeps it
#: low, and a checkpoint of a table of a few hundred files is a small Parquet write.
TABLE_CONFIGURATION: dict[str, str | None] = {"delta.checkpointInterval": "20"}


def partition_columns(table: str) -> list[str]:
    """The partition columns of ``table``, outermost first (also its directory levels)."""
    extra = PARTITIONED_BY.get(table)
    return [extra, "date", "hour"] if extra else ["date", "hour"]


def delta_schema(table: str) -> pa.Schema:
    """The Delta schema: the table's columns plus the partition columns ``date``, ``hour``
    (which live in the commit log and the directory names, not in the files)."""
    return (
        schema_of(table).append(pa.field("date", pa.date32())).append(pa.field("hour", pa.int32()))
    )


@dataclass(frozen=True, slots=True)
class Segment:
    """One Parquet file of a table's snapshot. ``path`` is relative to the lake root."""

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

    @property
    def name(self) -> str:
        """The file's name without ``.parquet``: how provenance refers to it."""
        return posixpath.basename(self.path).removesuffix(".parquet")

    @property
    def table_path(self) -> str:
        """The path relative to the table's directory, as the commit log has it."""
        return self.path.split("/", 1)[1]

    def partition_values(self) -> dict[str, str | None]:
        """Delta's partition values (strings) from the Hive directory names."""
        values: dict[str, str | None] = {}
        for level in self.partition.split("/"):
            key, _, value = level.partition("=")
            values[key] = str(int(value)) if key == "hour" else value
        return values


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The segments of one version of a table (``version`` -1: nothing committed yet)."""

    version: int
    segments: tuple[Segment, ...]

    def overlapping(self, start_us: int | None, end_us: int | None) -> list[Segment]:
        return [s for s in self.segments if s.overlaps(start_us, end_us)]


EMPTY = Snapshot(-1, ())


def as_committed(segment: Segment) -> Segment:
    """The segment as read back from its commit: times to the millisecond, the end
    rounded up to the millisecond's last microsecond."""
    return replace(
        segment,
        min_ts=segment.min_ts // 1000 * 1000,
        max_ts=segment.max_ts // 1000 * 1000 + 999,
    )


def stats_json(segment: Segment) -> str:
    """Delta's per-file statistics: row count and the time range (ms, as Spark writes)."""
    return orjson.dumps(
        {
            "numRecords": segment.rows,
            "minValues": {"timestamp": _iso_ms(segment.min_ts)},
            "maxValues": {"timestamp": _iso_ms(segment.max_ts)},
            "nullCount": {"timestamp": 0},
        }
    ).decode()


def add_action(segment: Segment, *, data_change: bool = True) -> AddAction:
    return AddAction(
        segment.table_path,
        segment.bytes,
        segment.partition_values(),
        int(time.time() * 1000),
        data_change,
        stats_json(segment),
    )


def remove_action(segment: Segment, *, data_change: bool) -> RemoveAction:
    return RemoveAction(
        segment.table_path,
        data_change,
        int(time.time() * 1000),
        segment.bytes,
        segment.partition_values(),
    )


class LakeTable:
    """One table of the lake: its commits, its cached snapshot, time travel, vacuum.

    Thread-safe: the flusher commits while queries take snapshots.
    """

    def __init__(
        self, lake: Path, table: str, repair_hint: str = "run `tracelake lake repair`"
    ) -> None:
        """``repair_hint`` ends the one-line error of a lake that needs repair."""
        self.table = table
        self._repair_hint = repair_hint
        self.root = lake / table
        self.uri = str(self.root.resolve()) if self.root.exists() else str(self.root.absolute())
        self.partition_by = partition_columns(table)
        self.schema = DeltaSchema.from_arrow(delta_schema(table))
        self._lock = threading.Lock()
        self._dt: DeltaTable | None = None
        self._snapshot = EMPTY
        #: Commits made and their total time, for /metrics and the benchmarks.
        self.commits = 0
        self.commit_seconds = 0.0
        self.refreshes = 0

    # -- opening -------------------------------------------------------------------

    def open(self, *, create: bool = True) -> None:
        """Load the table, creating it (version 0, no files) when ``create`` and absent.

        Raises LakeNeedsRepair when Parquet files lie in the directory without a commit
        log, or the log cannot be read: starting on an empty table would hide them.
        NotFound when absent and not ``create``.
        """
        with self._lock:
            if self._dt is not None:
                return
            if not (self.root / LOG_DIR).is_dir():
                if self.root.is_dir() and any(self.root.rglob("*.parquet")):
                    raise LakeNeedsRepair(
                        f"{self.root} holds Parquet files but no {LOG_DIR}/; nothing was "
                        f"changed: {self._repair_hint} to rebuild its commit log"
                    )
                if not create:
                    raise NotFound(f"table {self.table!r} has no commits yet")
                self.root.mkdir(parents=True, exist_ok=True)
                self.uri = str(self.root.resolve())
                try:
                    DeltaTable.create(
                        self.uri,
                        self.schema,
                        partition_by=self.partition_by,
                        mode="ignore",
                        name=self.table,
                        configuration=TABLE_CONFIGURATION,
                    )
                except DeltaError:
                    if not (self.root / LOG_DIR).is_dir():  # not a race with another writer
                        raise
            self.uri = str(self.root.resolve())
            try:
                self._dt = DeltaTable(self.uri)
                self._add_missing_columns(self._dt)
                self._snapshot = self._read_snapshot(self._dt)
            except (DeltaError, TableNotFoundError, OSError, KeyError, ValueError) as e:
                first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                raise LakeNeedsRepair(
                    f"the commit log of {self.root} is unreadable ({first}); nothing was "
                    f"changed: {self._repair_hint} to rebuild it from the files"
                ) from None

    def _add_missing_columns(self, dt: DeltaTable) -> None:
        """Evolve a table created before a column of ``schema.py`` existed (``logs._id``)
        by adding that column, nullable, in one commit; its older files stay as they are
        and read the column as null (``store/duck.py``, the compactor)."""
        have = {f.name for f in dt.schema().fields}
        missing = [f for f in self.schema.fields if f.name not in have]
        if missing:
            dt.alter.add_columns(missing)

    # -- reading -------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """The newest version's segments; refreshed only when the log has moved on."""
        with self._lock:
            dt = self._require()
            version = self._snapshot.version
            if (self.root / LOG_DIR / f"{version + 1:020d}.json").exists():
                dt.update_incremental()
                self._snapshot = self._read_snapshot(dt)
                self.refreshes += 1
            return self._snapshot

    def as_of(self, when: int | datetime) -> Snapshot | None:
        """The segments of an older version, by number or by time (the last version at
        or before it); None when the table has no such version (it did not exist yet)."""
        dt = DeltaTable(self.uri)
        try:
            dt.load_as_version(when)
        except (DeltaError, ValueError):
            return None
        if isinstance(when, datetime) and dt.version() == 0:
            # delta-rs falls back to version 0 for a time before it: was it made by then?
            (first,) = [c for c in dt.history() if c.get("version") == 0] or [{}]
            if first.get("timestamp", 0) > when.timestamp() * 1000:
                return None
        return self._read_snapshot(dt)

    def txn_version(self, app_id: str) -> int | None:
        """The last position ``app_id`` committed with its writes (see ``commit``)."""
        with self._lock:
            return self._require().transaction_version(app_id)

    def history(self, limit: int | None = None) -> list[dict[str, object]]:
        with self._lock:
            return self._require().history(limit)

    # -- writing -------------------------------------------------------------------

    def commit(
        self,
        add: Iterable[Segment] = (),
        remove: Iterable[Segment] = (),
        *,
        operation: str,
        data_change: bool = True,
        txn: tuple[str, int] | None = None,
    ) -> int:
        """Commit added and removed files as one version; returns the version.

        ``txn`` (app id, position) is recorded in the same commit, so ``txn_version``
        tells after a crash exactly what was committed. Appends from other writers are
        merged by delta-rs's optimistic concurrency (retried inside it); a conflict it
        cannot resolve raises ``CommitFailedError`` and nothing is committed.
        """
        adds, removes = list(add), list(remove)
        actions: list[AddAction | RemoveAction] = [
            add_action(s, data_change=data_change) for s in adds
        ]
        actions += [remove_action(s, data_change=data_change) for s in removes]
        properties = CommitProperties(
            custom_metadata={OPERATION_KEY: operation},
            app_transactions=[Transaction(*txn)] if txn else None,
        )
        with self._lock:
            dt = self._require()
            started = time.perf_counter()
            dt.create_write_transaction(
                actions,
                mode="append",
                schema=self.schema,
                partition_by=self.partition_by,
                commit_properties=properties,
            )
            self.commit_seconds += time.perf_counter() - started
            self.commits += 1
            before = self._snapshot
            dt.update_incremental()
            if dt.version() == before.version + 1:  # nobody else committed in between
                gone = {s.path for s in removes}
                kept = tuple(s for s in before.segments if s.path not in gone)
                added = tuple(as_committed(s) for s in adds)
                self._snapshot = Snapshot(dt.version(), kept + added)
            else:
                self._snapshot = self._read_snapshot(dt)
            return self._snapshot.version

    def vacuum(self, retention_hours: int) -> int:
        """Delete files no version newer than ``retention_hours`` needs (removed files,
        and files of writes that never committed); returns how many went."""
        # Its own table object, outside the lock: a full vacuum lists every file of the
        # table, and queries must not wait for it to take a snapshot.
        self._require()
        deleted = DeltaTable(self.uri).vacuum(
            retention_hours=retention_hours,
            dry_run=False,
            enforce_retention_duration=False,
            full=True,
        )
        return len(deleted)

    # -- helpers -------------------------------------------------------------------

    def _require(self) -> DeltaTable:
        if self._dt is None:
            raise RuntimeError(f"table {self.table!r} is not open")
        return self._dt

    def _read_snapshot(self, dt: DeltaTable) -> Snapshot:
        actions = pa.table(dt.get_add_actions(flatten=True))
        return Snapshot(dt.version(), tuple(segments_of(self.table, actions)))


def create_with_segments(
    lake: Path, table: str, segments: list[Segment], *, operation: str, txn: tuple[str, int]
) -> None:
    """Create ``table``'s commit log with ``segments`` as version 0, in one commit."""
    root = lake / table
    root.mkdir(parents=True, exist_ok=True)
    create_table_with_add_actions(
        str(root.resolve()),
        DeltaSchema.from_arrow(delta_schema(table)),
        [add_action(s) for s in segments],
        mode="error",
        partition_by=partition_columns(table),
        name=table,
        configuration=TABLE_CONFIGURATION,
        commit_properties=CommitProperties(
            custom_metadata={OPERATION_KEY: operation},
            app_transactions=[Transaction(*txn)],
        ),
    )


def segments_of(table: str, actions: pa.Table) -> list[Segment]:
    """Segments from ``get_add_actions(flatten=True)``; files without time statistics
    (written by another engine) span their partition's hour."""
    if actions.num_rows == 0:
        return []
    paths = actions.column("path").to_pylist()
    sizes = actions.column("size_bytes").to_pylist()
    rows = actions.column("num_records").to_pylist()
    names = actions.column_names
    lows = _micros(actions, "min.timestamp") if "min.timestamp" in names else [None] * len(paths)
    highs = _micros(actions, "max.timestamp") if "max.timestamp" in names else [None] * len(paths)
    days = actions.column("partition.date").to_pylist()
    hours = actions.column("partition.hour").to_pylist()
    out = []
    for path, size, n, low, high, day, hour in zip(
        paths, sizes, rows, lows, highs, days, hours, strict=True
    ):
        start = _hour_start(day, hour)
        out.append(
            Segment(
                table=table,
                path=f"{table}/{path}",
                min_ts=start if low is None else low,
                max_ts=start + HOUR_US - 1 if high is None else high + 999,
                rows=n or 0,
                bytes=size,
                partition=posixpath.dirname(path),
                compacted=not posixpath.basename(path).startswith(FLUSHED_PREFIX),
            )
        )
    return out


def _micros(actions: pa.Table, column: str) -> list[int | None]:
    values = actions.column(column)
    if pa.types.is_timestamp(values.type):
        values = pc.cast(values.cast(pa.timestamp("us", tz="UTC")), pa.int64())
    return values.to_pylist()


def _hour_start(day: date | None, hour: int | None) -> int:
    if day is None:
        return 0
    moment = datetime(day.year, day.month, day.day, hour or 0, tzinfo=UTC)
    return int(moment.timestamp()) * 1_000_000


def _iso_ms(us: int) -> str:
    ms = us // 1000
    moment = datetime.fromtimestamp(ms // 1000, UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"
