"""Parquet segments: how rows leave memory for the lake.

A segment holds the rows of one table and one hour, zstd-compressed,
at ``<table>/date=YYYY-MM-DD/hour=HH/<name>.parquet`` (Hive layout, as Delta Lake
writers lay out partitions). Tables listed in ``PARTITIONED_BY`` get one
more level before the date, named for a column: ``events/type=order_placed/date=…``,
so a reader of one event type opens that type's files only. Files are written under a temp name, fsync'd
and renamed; only a Delta commit (``store/delta.py``) makes them part of the lake. A name
says who wrote it and how: ``f-<writer>-<random>`` for a flush, ``c-…`` for a compaction. Compacted segments carry a
Parquet Bloom filter on ``trace_id``, so a lookup by trace id skips row groups unread.
"""

from __future__ import annotations

import os
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tracelake.errors import StoreError
from tracelake.files import fsync_dir
from tracelake.store.delta import FLUSHED_PREFIX, PARTITIONED_BY, Segment

HOUR_US = 3_600_000_000
ROW_GROUP_ROWS = 128 * 1024
BLOOM_COLUMNS = ("trace_id",)
#: What a value of such a column may be, since it becomes a directory name: a letter,
#: then letters, digits, ``_``, ``.`` and ``-`` (no ``/``, no ``..``, no ``=``), 1-128
#: characters. Ingest rejects other values; the check here guards the lake itself.
PARTITION_VALUE_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,127}")
#: Provenance written into each segment's Parquet key-value metadata, so the lake can be
#: rebuilt without its commit log and without counting a row twice (``store/repair.py``):
#: a flushed segment holds the batches of WAL files ``wal_from``…``wal_to``; a compacted
#: one the rows of the segments named in ``replaces``, and was written when every WAL
#: file up to its ``wal_to`` was committed.
META_WAL_FROM = b"tracelake.wal_from"
META_WAL_TO = b"tracelake.wal_to"
META_REPLACES = b"tracelake.replaces"
#: Tables sorted by more than time, at flush as well as compaction: a metrics selector
#: names a metric (and labels), so sorting by them lets row-group statistics skip the
#: rest of the file; one series' samples end up next to each other, in time order.
SORT_KEYS: dict[str, tuple[str, ...]] = {"metrics": ("name", "labels", "timestamp")}


def segment_name(writer: str, *, compacted: bool) -> str:
    """A new segment's file name (no suffix), unique across the writers of one lake."""
    return f"{'c-' if compacted else FLUSHED_PREFIX}{writer}-{uuid.uuid4().hex[:16]}"


def partition_of(hour: int) -> str:
    """The Hive partition path of an hour number (hours since the epoch)."""
    moment = datetime.fromtimestamp(hour * 3600, UTC)
    return f"date={moment:%Y-%m-%d}/hour={moment:%H}"


def split_by_hour(
    data: pa.Table, *, sort: bool, keys: tuple[str, ...] = ("timestamp",)
) -> dict[int, pa.Table]:
    """Rows grouped by the hour of their timestamp, sorted by ``keys`` when asked."""
    if data.num_rows == 0:
        return {}
    hours = pc.divide(data.column("timestamp").cast(pa.int64()), HOUR_US)
    unique = pc.unique(hours).to_pylist()
    groups = (
        {unique[0]: data}
        if len(unique) == 1
        else {h: data.filter(pc.equal(hours, h)) for h in unique}
    )
    order = [(key, "ascending") for key in keys]
    return {h: g.sort_by(order) for h, g in groups.items()} if sort else groups


def split_by_value(data: pa.Table, column: str) -> dict[str, pa.Table]:
    """Rows grouped by the value of ``column``; every value must be a safe directory name."""
    values = data.column(column)
    unique = pc.unique(values).to_pylist()
    for value in unique:
        if not isinstance(value, str) or not PARTITION_VALUE_RE.fullmatch(value):
            raise StoreError(f"{column}={value!r} cannot name a partition directory")
    if len(unique) == 1:
        return {unique[0]: data}
    return {v: data.filter(pc.equal(values, v)) for v in unique}


def write_segment(
    root: Path,
    table: str,
    hour: int,
    rows: pa.Table,
    name: str,
    *,
    compacted: bool,
    prefix: str = "",
    provenance: dict[bytes, bytes] | None = None,
) -> Segment:
    """Write one sorted hour of rows as a Parquet file, not yet committed.

    ``prefix`` is the partition level before the date (``type=order_placed/``), if any;
    ``provenance`` goes into the file's key-value metadata (``META_*``).
    """
    partition = prefix + partition_of(hour)
    relative = f"{table}/{partition}/{name}.parquet"
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    # Flushes must keep up with ingest; compaction has time for the Bloom filter.
    # One filter per row group: sized for a row group's distinct ids (a trace has several
    # lines), not the file's, so a lookup reads kilobytes of filter per row group.
    ndv = max(min(rows.num_rows, ROW_GROUP_ROWS) // 2, 1024)
    bloom = (
        {c: {"ndv": ndv, "fpp": 0.02} for c in BLOOM_COLUMNS if c in rows.column_names}
        if compacted
        else {}
    )
    if provenance:
        rows = rows.replace_schema_metadata({**(rows.schema.metadata or {}), **provenance})
    pq.write_table(
        rows,
        tmp,
        compression="zstd",
        compression_level=3 if compacted else 1,
        row_group_size=ROW_GROUP_ROWS,
        write_statistics=True,
        bloom_filter_options=bloom or None,
        sorting_columns=[
            pq.SortingColumn(rows.column_names.index(key))
            for key in SORT_KEYS.get(table, ("timestamp",))
        ]
        if compacted or table in SORT_KEYS
        else None,
    )
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)
    ts = pc.min_max(rows.column("timestamp").cast(pa.int64()))
    return Segment(
        table=table,
        path=relative,
        min_ts=ts["min"].as_py(),
        max_ts=ts["max"].as_py(),
        rows=rows.num_rows,
        bytes=path.stat().st_size,
        partition=partition,
        compacted=compacted,
    )


def write_segments(
    root: Path,
    table: str,
    data: pa.Table,
    writer: str,
    *,
    compacted: bool = False,
    provenance: dict[bytes, bytes] | None = None,
) -> list[Segment]:
    """Write ``data`` as one segment per hour it spans.

    Flushed segments keep arrival order (they are small, and sorting would cost the
    flush time and a copy of the memtable); compaction writes them sorted by time.
    Tables in ``SORT_KEYS`` are sorted by their keys at both.
    """
    column = PARTITIONED_BY.get(table)
    parts = {"": data} if column is None else split_by_value(data, column)
    return [
        write_segment(
            root,
            table,
            hour,
            rows,
            segment_name(writer, compacted=compacted),
            compacted=compacted,
            prefix=f"{column}={value}/" if column else "",
            provenance=provenance,
        )
        for value, part in sorted(parts.items())
        for hour, rows in sorted(
            split_by_hour(
                part,
                sort=compacted or table in SORT_KEYS,
                keys=SORT_KEYS.get(table, ("timestamp",)),
            ).items()
        )
    ]
