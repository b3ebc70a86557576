"""Rebuilding a lost or damaged commit log from the segment files (``tracelake lake repair``).

A table whose ``_delta_log/`` is missing beside its Parquet files, or unreadable, stops
the start (the store will not guess). Repair lists that table's segments again from
what each file says: partition from its path, rows and time range from the Parquet
file, bytes from its size. The hard part is counting every acknowledged row exactly
once, since without the log a row may be on disk twice: in a segment *and* in a WAL
file not yet deleted, or in a compacted segment *and* in the flushed segments it merged
(kept on disk until vacuum). Each segment carries its provenance in its key-value
metadata (``segments.META_*``), and the rule is:

* A compacted segment holds every row of the segments it ``replaces``: those are set
  aside. It was written when the WAL up to its ``wal_to`` was committed.
* A flushed segment holds batches of WAL files ``wal_from``…``wal_to``. The WAL deletes
  files oldest first, and only after every table has committed the flush, so if file
  ``wal_from`` is gone the flush was committed.
* Hence ``committed``: the highest ``wal_to`` so proven. WAL files up to it are set aside
  (their rows are in segments); a flushed segment past it is set aside (its flush may
  not have been committed and its WAL files, still there, replay); the rebuilt log
  records ``committed`` as this writer's WAL position.

Nothing is deleted: segment files go to ``lake/_orphans/``, WAL files to
``wal/superseded/``, a damaged log to ``_delta_log.broken-<time>``. Repair takes the
data directory's lock, so it refuses to run while a server has the directory open.
Segments written before provenance existed are kept as they are and counted
(``unchecked``): if WAL files remain beside them, those replay and may repeat rows.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tracelake.errors import ConfigError, LakeNeedsRepair, NotFound
from tracelake.schema import SCHEMAS
from tracelake.settings import Settings
from tracelake.store.delta import LOG_DIR, LakeTable, Segment, create_with_segments
from tracelake.store.lock import DataDirLock
from tracelake.store.segments import BLOOM_COLUMNS, META_REPLACES, META_WAL_FROM, META_WAL_TO
from tracelake.store.writer import wal_app_id, writer_id

log = logging.getLogger("tracelake.store")

#: Where repair moves WAL files whose batches are all committed, under ``wal/``.
SUPERSEDED_DIR = "superseded"
#: Where it moves segment files it does not list, under the lake, same relative path.
ORPHANS_DIR = "_orphans"


@dataclass(slots=True)
class RepairReport:
    """What a repair rebuilt and what it set aside (paths relative to the data directory
    or, for the lake's, to the lake)."""

    tables: list[str] = field(default_factory=list)  # the tables whose log was rebuilt
    segments: int = 0
    rows: int = 0
    wal_checkpoint: int = 0
    wal_pending: int = 0  # WAL files left to replay at the next start
    old_logs: list[Path] = field(default_factory=list)
    set_aside: list[tuple[str, str]] = field(default_factory=list)  # (path, why)
    unchecked: int = 0  # segments without provenance


@dataclass(slots=True)
class _Found:
    path: Path
    segment: Segment
    wal_from: int | None
    wal_to: int | None
    replaces: frozenset[str]


def repair_lake(data_dir: Path, settings: Settings | None = None) -> RepairReport:
    """Rebuild the commit log of every table of ``data_dir``'s lake that needs it; see
    the module docstring. Tables whose log reads are left alone.

    Raises DataDirInUse while a server holds the directory, ConfigError when it holds no
    lake.
    """
    settings = settings or Settings.load(overrides={"data_dir": str(data_dir)})
    lake = settings.lake_path
    if not lake.is_dir():
        raise ConfigError(f"no lake at {data_dir}: pass the --data-dir that tracelake serve uses")
    lock = DataDirLock(data_dir)
    lock.acquire("stop it, then run tracelake lake repair again")
    try:
        return _repair(data_dir, lake, datetime.now(UTC))
    finally:
        lock.release()


def _broken_tables(lake: Path) -> list[str]:
    broken = []
    for table in SCHEMAS:
        try:
            LakeTable(lake, table).open(create=False)
        except LakeNeedsRepair:
            broken.append(table)
        except NotFound:  # no table yet: nothing to rebuild
            continue
    return broken


def _repair(data_dir: Path, lake: Path, now: datetime) -> RepairReport:
    wal_dir = data_dir / "wal"
    report = RepairReport(tables=_broken_tables(lake))
    found: list[_Found] = []
    aside: list[tuple[Path, str]] = []
    for table in report.tables:
        for path in segment_files(lake / table):
            try:
                found.append(_read(lake, table, path))
            except (OSError, ValueError, pa.ArrowException) as e:
                first = str(e).splitlines()[0] if str(e) else type(e).__name__
                aside.append((path, f"unreadable: {first}"))
    wal_files = _wal_files(wal_dir)
    replaced = frozenset().union(*(f.replaces for f in found))
    committed = max(
        [f.wal_to for f in found if f.replaces and f.wal_to is not None]
        + [
            f.wal_to
            for f in found
            if not f.replaces
            and f.wal_from is not None
            and f.wal_to is not None
            and f.wal_from not in wal_files
        ],
        default=0,
    )
    keep: list[_Found] = []
    for f in found:
        if f.segment.name in replaced:
            aside.append((f.path, "merged into a compacted segment"))
        elif not f.replaces and f.wal_to is not None and f.wal_to > committed:
            aside.append((f.path, "its flush was not committed: the WAL replays its rows"))
        else:
            keep.append(f)
            report.unchecked += f.wal_to is None
    # Set aside first, commit last: a repair cut short leaves a table without its log,
    # so the server still refuses to start and the next repair finds the same files.
    for table in report.tables:
        log_dir = lake / table / LOG_DIR
        if log_dir.exists():
            old = log_dir.with_name(f"{LOG_DIR}.broken-{now:%Y%m%dT%H%M%S}")
            log_dir.rename(old)
            report.old_logs.append(old)
    for path, why in aside:
        moved = set_aside(lake, path)
        report.set_aside.append((str(moved.relative_to(lake.parent)), why))
        log.info("repair: set %s aside: %s", path.relative_to(lake), why)
    for seq, path in sorted(wal_files.items()):
        if seq <= committed:
            target = wal_dir / SUPERSEDED_DIR / path.name
            target.parent.mkdir(exist_ok=True)
            path.rename(target)
            report.set_aside.append((str(target.relative_to(data_dir)), "its rows are in segments"))
        else:
            report.wal_pending += 1
    app_id = wal_app_id(writer_id(data_dir))
    for table in report.tables:
        mine = sorted((f.segment for f in keep if f.segment.table == table), key=lambda s: s.path)
        create_with_segments(lake, table, mine, operation="repair", txn=(app_id, committed))
        report.segments += len(mine)
        report.rows += sum(s.rows for s in mine)
    report.wal_checkpoint = committed
    return report


def segment_files(table_dir: Path) -> list[Path]:
    """The Parquet files of a table's directory (not under ``_`` directories)."""
    if not table_dir.is_dir():
        return []
    return sorted(
        path
        for path in table_dir.rglob("*.parquet")
        if not any(part.startswith("_") for part in path.relative_to(table_dir).parts)
    )


def set_aside(lake: Path, path: Path) -> Path:
    """Move a file of the lake to ``_orphans/`` at the same relative path (never over one)."""
    target = lake / ORPHANS_DIR / path.relative_to(lake)
    target.parent.mkdir(parents=True, exist_ok=True)
    n = 1
    while target.exists():
        target = target.with_name(f"{path.name}.{n}")
        n += 1
    shutil.move(path, target)
    return target


def _read(lake: Path, table: str, path: Path) -> _Found:
    """One segment file as a snapshot lists it, plus its provenance."""
    relative = path.relative_to(lake)
    meta = pq.read_metadata(path)
    if meta.num_rows == 0:
        raise ValueError("holds no rows")
    ts = pc.min_max(pq.read_table(path, columns=["timestamp"]).column(0).cast(pa.int64()))
    kv = meta.metadata or {}
    replaces = frozenset(n for n in kv.get(META_REPLACES, b"").decode().split(",") if n)
    segment = Segment(
        table=table,
        path=relative.as_posix(),
        min_ts=ts["min"].as_py(),
        max_ts=ts["max"].as_py(),
        rows=meta.num_rows,
        bytes=path.stat().st_size,
        partition="/".join(relative.parts[1:-1]),
        compacted=bool(replaces) or _has_bloom(meta),
    )
    return _Found(path, segment, _int(kv.get(META_WAL_FROM)), _int(kv.get(META_WAL_TO)), replaces)


def _has_bloom(meta: pq.FileMetaData) -> bool:
    """Only compaction writes Bloom filters: how a segment without provenance tells."""
    if meta.num_row_groups == 0:
        return False
    group = meta.row_group(0)
    return any(
        group.column(i).path_in_schema in BLOOM_COLUMNS
        and (group.column(i).bloom_filter_offset or 0) > 0
        for i in range(group.num_columns)
    )


def _wal_files(wal_dir: Path) -> dict[int, Path]:
    found = {}
    for path in wal_dir.glob("*.wal") if wal_dir.is_dir() else []:
        if path.stem.isdigit():
            found[int(path.stem)] = path
    return found


def _int(raw: bytes | None) -> int | None:
    return int(raw) if raw else None
