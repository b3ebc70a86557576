"""Rebuilding a lost or damaged manifest from the segment files (``tracelake lake repair``).

Each segment is listed again from what the file itself says: table and partition from
its path, rows and time range from the Parquet file, bytes from its size. The hard part
is counting every acknowledged row exactly once, since without the manifest a row may be
on disk twice: in a segment *and* in a WAL file not yet deleted, or in a compacted
segment *and* in the flushed segments it merged. Each segment carries its provenance in
its key-value metadata (``segments.META_*``), and the rule is:

* A compacted segment holds every row of the segments it ``replaces``: those are set
  aside. It was written when the WAL up to its ``wal_to`` was in segments.
* A flushed segment holds batches of WAL files ``wal_from``…``wal_to``. The WAL deletes
  files oldest first, and only after the manifest has recorded the flush, so if file
  ``wal_from`` is gone the flush was committed.
* Hence ``committed``: the highest ``wal_to`` so proven. WAL files up to it are set aside
  (their rows are in segments); a flushed segment past it is set aside (its flush was not
  committed and its WAL files, still there, replay); ``wal_checkpoint`` is ``committed``.

Nothing is deleted: segment files go to ``lake/_orphans/``, WAL files to
``wal/superseded/``, the old manifest to ``_manifest.json.broken-<time>``. Repair takes
the data directory's lock, so it refuses to run while a server has the directory open.
Segments written before provenance existed are kept as they are and counted
(``unchecked``): if WAL files remain beside them, those replay and may repeat rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tracelake.errors import ConfigError
from tracelake.schema import SCHEMAS
from tracelake.store.lock import DataDirLock
from tracelake.store.manifest import Manifest, ManifestState, Segment, segment_files, set_aside
from tracelake.store.segments import (
    BLOOM_COLUMNS,
    META_REPLACES,
    META_WAL_FROM,
    META_WAL_TO,
    segment_number,
)

log = logging.getLogger("tracelake.store")

#: Where repair moves WAL files whose batches are all in segments, under ``wal/``.
SUPERSEDED_DIR = "superseded"


@dataclass(slots=True)
class RepairReport:
    """What a repair rebuilt and what it set aside (paths relative to the data directory)."""

    manifest: Path
    segments: int = 0
    rows: int = 0
    wal_checkpoint: int = 0
    wal_pending: int = 0  # WAL files left to replay at the next start
    old_manifest: Path | None = None
    set_aside: list[tuple[str, str]] = field(default_factory=list)  # (path, why)
    unchecked: int = 0  # segments without provenance


@dataclass(slots=True)
class _Found:
    path: Path
    segment: Segment
    number: int
    wal_from: int | None
    wal_to: int | None
    replaces: frozenset[int]


def repair_lake(data_dir: Path, now: datetime | None = None) -> RepairReport:
    """Rebuild ``data_dir``'s manifest from its segment files; see the module docstring.

    Raises DataDirInUse while a server holds the directory, ConfigError when it holds no
    lake.
    """
    lake = data_dir / "lake"
    if not lake.is_dir():
        raise ConfigError(f"no lake at {data_dir}: pass the --data-dir that tracelake serve uses")
    lock = DataDirLock(data_dir)
    lock.acquire("stop it, then run tracelake lake repair again")
    try:
        return _repair(data_dir, now or datetime.now(UTC))
    finally:
        lock.release()


def _repair(data_dir: Path, now: datetime) -> RepairReport:
    lake, wal_dir = data_dir / "lake", data_dir / "wal"
    report = RepairReport(manifest=lake / "_manifest.json")
    found: list[_Found] = []
    aside: list[tuple[Path, str]] = []
    for path in segment_files(lake):
        try:
            found.append(_read(lake, path))
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
        if f.number in replaced:
            aside.append((f.path, "merged into a compacted segment"))
        elif not f.replaces and f.wal_to is not None and f.wal_to > committed:
            aside.append((f.path, "its flush was not committed: the WAL replays its rows"))
        else:
            keep.append(f)
            report.unchecked += f.wal_to is None
    numbers = [n for n in (_number(p) for p in lake.rglob("*.parquet*")) if n is not None]
    state = ManifestState(
        wal_checkpoint=committed,
        next_segment=max(numbers, default=0) + 1,
        segments=sorted((f.segment for f in keep), key=lambda s: s.path),
    )
    # Set aside first, save last: a repair cut short leaves no manifest, so the server
    # still refuses to start and the next repair finds the same files (fewer of them).
    if report.manifest.exists():
        report.old_manifest = report.manifest.with_name(
            f"{report.manifest.name}.broken-{now:%Y%m%dT%H%M%S}"
        )
        report.manifest.rename(report.old_manifest)
    for path, why in aside:
        moved = set_aside(lake, path)
        report.set_aside.append((str(moved.relative_to(data_dir)), why))
        log.info("repair: set %s aside: %s", path.relative_to(lake), why)
    for seq, path in sorted(wal_files.items()):
        if seq <= committed:
            target = wal_dir / SUPERSEDED_DIR / path.name
            target.parent.mkdir(exist_ok=True)
            path.rename(target)
            report.set_aside.append((str(target.relative_to(data_dir)), "its rows are in segments"))
        else:
            report.wal_pending += 1
    manifest = Manifest(report.manifest)
    manifest.state = state
    manifest.save()
    report.segments = len(state.segments)
    report.rows = sum(s.rows for s in state.segments)
    report.wal_checkpoint = committed
    return report


def _read(lake: Path, path: Path) -> _Found:
    """One segment file as the manifest lists it, plus its provenance."""
    relative = path.relative_to(lake)
    table = relative.parts[0]
    if table not in SCHEMAS:
        raise ValueError(f"{table!r} is not a table of the lake")
    number = _number(path)
    if number is None:
        raise ValueError("not named for a segment number")
    meta = pq.read_metadata(path)
    if meta.num_rows == 0:
        raise ValueError("holds no rows")
    ts = pc.min_max(pq.read_table(path, columns=["timestamp"]).column(0).cast(pa.int64()))
    kv = meta.metadata or {}
    replaces = frozenset(int(n) for n in kv.get(META_REPLACES, b"").decode().split(",") if n)
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
    return _Found(
        path, segment, number, _int(kv.get(META_WAL_FROM)), _int(kv.get(META_WAL_TO)), replaces
    )


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


def _number(path: Path) -> int | None:
    try:
        return segment_number(path)
    except ValueError:
        return None


def _int(raw: bytes | None) -> int | None:
    return int(raw) if raw else None
