"""The store: the lake and the way into it.

``Store`` ties the pieces together: ``append`` puts a batch through the WAL (acked once
fsync'd) into the memtable; ``maintain`` flushes the memtable to Parquet segments
committed to the tables' Delta logs, compacts, applies retention and vacuums; ``query``
runs SQL over one snapshot of each table it reads plus the memtable (``sources``),
pruned by time; ``collect`` reports the store's figures for /metrics.

Directory layout (the lake is ``<data_dir>/lake`` unless ``lake_dir`` puts it elsewhere,
e.g. a directory several writers share)::

    <data_dir>/wal/<seq>.wal          frames no Delta commit holds yet
    <data_dir>/wal/corrupt/<seq>.wal  copies of WAL files replay found damaged
    <data_dir>/writer-id              this writer's name in file names and commits
    <lake>/<table>/_delta_log/…       the table's Delta commit log: its truth
    <lake>/<table>/date=…/hour=…/<name>.parquet
    <lake>/events/type=…/date=…/hour=…/<name>.parquet   (events: one level per type)
    <lake>/_maintenance.lock          one writer compacts, expires and vacuums at a time

A flush commits each table's new segments with the position of the WAL they came from
(a Delta app transaction, ``tracelake-wal-<writer>``); the WAL files are deleted only
after every table's commit, and a restart replays only the frames past each table's
committed position. So a crash between any two steps loses nothing and repeats nothing.
The server holds ``store/lock.py``'s lock on ``data_dir`` while a store is open on it.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from tracelake.errors import BadRequest, NotFound, Overloaded, QueryError
from tracelake.schema import SCHEMAS, schema_of
from tracelake.settings import Settings
from tracelake.store.compaction import plan_compactions
from tracelake.store.dedup import IDENTITY, RecentIds
from tracelake.store.delta import EMPTY, LakeTable, Segment, Snapshot
from tracelake.store.diskfloor import DiskFloor, free_space
from tracelake.store.duck import QueryEngine, Results, Source
from tracelake.store.ipc import from_ipc, to_ipc
from tracelake.store.lock import exclusive
from tracelake.store.memtable import Generation, Memtable
from tracelake.store.migrate import migrate_manifest
from tracelake.store.retention import expired
from tracelake.store.segments import (
    META_REPLACES,
    META_WAL_FROM,
    META_WAL_TO,
    write_segments,
)
from tracelake.store.wal import WAL, ReplayReport, read_frames
from tracelake.store.writer import wal_app_id, writer_id

log = logging.getLogger("tracelake.store")

MAINTENANCE_LOCK = "_maintenance.lock"


@dataclass(slots=True)
class StoreStats:
    """Counts since start, published by ``Store.collect``."""

    flushes: int = 0
    compactions: int = 0
    segments_written: int = 0
    segments_expired: int = 0
    files_vacuumed: int = 0
    rejected_overload: int = 0


class Store:
    """The lake: WAL + memtable + Delta tables of Parquet segments, queried through DuckDB."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.data_path
        self.lake = settings.lake_path
        self.lake.mkdir(parents=True, exist_ok=True)
        self.root.mkdir(parents=True, exist_ok=True)
        self.writer = writer_id(self.root)
        self.app_id = wal_app_id(self.writer)
        hint = f"run `tracelake lake repair --data-dir {self.root}`"
        self.tables = {t: LakeTable(self.lake, t, hint) for t in SCHEMAS}
        self.memtable = Memtable()
        #: Per table with an identity column, the record ids taken recently (retries).
        self.recent = {
            t: RecentIds(settings.dedup_window_hours * 3600.0, settings.dedup_max_ids)
            for t in IDENTITY
        }
        self.stats = StoreStats()
        self.replay = ReplayReport()
        self._lock = threading.Lock()  # snapshots + memtable generations, as queries see them
        self._maintenance = threading.Lock()  # one flush/compaction/retention at a time
        #: Per table, the last WAL position its commits hold; and the last generation
        #: every table has committed (what a compaction's provenance records).
        self._committed: dict[str, int] = {}
        self._checkpoint = 0
        self._pending_bytes = 0
        self._last_flush = time.monotonic()
        self._last_compaction = time.monotonic()
        self.wal: WAL | None = None
        self.floor = DiskFloor(settings.disk_free_floor_bytes, free_space(self.root))
        self.engine = QueryEngine(
            self.lake,
            threads=settings.query_threads,
            memory_limit=settings.query_memory_limit,
            concurrency=settings.query_concurrency,
            temp_dir=self.root / "tmp" / "duckdb",
        )

    # -- opening -------------------------------------------------------------------

    def open(self) -> ReplayReport:
        """Migrate an old manifest, open every table, replay the WAL; then accept appends.

        Raises LakeNeedsRepair (nothing changed) when a table's commit log is missing
        beside its files or unreadable.
        """
        migrate_manifest(self.lake, self.app_id)
        for lake_table in self.tables.values():
            lake_table.open()
        self._committed = {name: t.txn_version(self.app_id) or 0 for name, t in self.tables.items()}
        self._remove_own_temp_files()
        wal_dir = self.root / "wal"
        wal_dir.mkdir(parents=True, exist_ok=True)
        files = sorted(wal_dir.glob("*.wal"), key=lambda p: int(p.stem))
        replayed: list[int] = []
        for i, path in enumerate(files):
            seq, applied = int(path.stem), 0
            for table, ipc in read_frames(path, self.replay, is_last=i == len(files) - 1):
                if seq > self._committed.get(table, 0):
                    self.memtable.add(table, _conformed(table, from_ipc(bytes(ipc))))
                    applied += 1
            if applied:
                replayed.append(seq)
            else:  # every frame of it is committed (or it held none)
                path.unlink()
        # The WAL files before the first one replayed are all committed.
        last = max([int(p.stem) for p in files] + list(self._committed.values()), default=0)
        self._checkpoint = replayed[0] - 1 if replayed else last
        if self.replay.frames or self.replay.truncated_bytes or self.replay.corrupt_bytes:
            log.info(
                "wal: replayed %d batches (%d rows not yet committed); truncated %d torn "
                "bytes; skipped %d damaged bytes",
                self.replay.frames,
                self.memtable.rows,
                self.replay.truncated_bytes,
                self.replay.corrupt_bytes,
            )
        self.wal = WAL(
            wal_dir,
            fsync=self.settings.wal_fsync,
            apply=lambda table, ipc: self.memtable.add(table, from_ipc(ipc)),
            on_seal=self.memtable.freeze,
            first_seq=last + 1,
        )
        self._recall_ids()
        return self.replay

    def _recall_ids(self) -> None:
        """Rebuild the recent ids from what the store holds: the memtable (the WAL just
        replayed) and the lake's rows of the window, newest first up to the cap."""
        window_s = self.settings.dedup_window_hours * 3600.0
        since_us = int((time.time() - window_s) * 1e6)
        for table, identity in IDENTITY.items():
            recent = self.recent[table]
            found = self.query(
                identity.recall_sql(table),
                [since_us, recent.max_ids],
                tables=[table],
                start_us=since_us,
                timeout_s=max(self.settings.query_timeout_s, 300.0),
                max_rows=recent.max_ids,
                arrow=True,
            ).table
            if found is None or not found.num_rows:
                continue
            found = found.take(pa.array(range(found.num_rows - 1, -1, -1)))  # oldest first
            at = found.column("tl_at").to_pylist()
            ids = identity.ids(found) or []
            for when, record_id in zip(at, ids, strict=True):
                if record_id is not None:
                    recent.remember((record_id,), when / 1e6)
            log.info("dedup: remembered %d %s ids from the store", len(recent), table)

    def _remove_own_temp_files(self) -> None:
        """A ``*.tmp`` of this writer is a segment write it began and never renamed:
        provably abandoned. Other writers' temp files may be in progress: never theirs.
        Renamed files that no commit names are invisible to every reader; vacuum deletes
        them once they are older than ``lake_vacuum_hours``."""
        for tmp in self.lake.glob(f"*/**/*-{self.writer}-*.parquet.tmp"):
            tmp.unlink(missing_ok=True)

    def close(self) -> None:
        """Flush what is in memory and stop the WAL writer."""
        if self.wal is None:
            return
        self.flush()
        self.wal.close()
        self.wal = None

    # -- writing -------------------------------------------------------------------

    async def append(self, table: str, ipc: bytes) -> list[int]:
        """Make one Arrow IPC batch durable; returns once it is acknowledged.

        Rows naming a record the table already holds (``store/dedup.py``) are left out:
        the answer lists them (row numbers of the batch), empty when every row was stored.
        Raises Overloaded (503 + Retry-After) instead of queueing without bound when the
        WAL or the flusher is behind, and while the disk is under its free-space floor.
        """
        recent = self.recent.get(table)
        if recent is None:
            await self._append(table, ipc)
            return []
        batch = from_ipc(ipc)
        ids = IDENTITY[table].ids(batch)
        if ids is None:
            await self._append(table, ipc)
            return []
        while waiting := recent.busy(ids):
            await asyncio.wait(waiting)
        claim = recent.claim(ids)
        if claim.duplicates:
            retried = set(claim.duplicates)
            batch = batch.filter(pa.array([i not in retried for i in range(batch.num_rows)]))
            ipc = to_ipc(batch)
        stored = False
        try:
            if batch.num_rows:
                await self._append(table, ipc)
            stored = True
        finally:
            recent.settle(claim, stored)
        return claim.duplicates

    async def _append(self, table: str, ipc: bytes) -> None:
        assert self.wal is not None, "store is not open"
        self.floor.check()
        size = len(ipc)
        limit = self.settings.ingest_max_pending_bytes
        if (
            self._pending_bytes + size > limit
            or self.memtable.rows > 3 * self.settings.memtable_max_rows
        ):
            self.stats.rejected_overload += 1
            raise Overloaded(
                "ingest is behind the disk: retry after the Retry-After delay", retry_after=1
            )
        self._pending_bytes += size
        try:
            await asyncio.wrap_future(self.wal.append(table, ipc))
        except OSError as e:
            if e.errno in (errno.ENOSPC, errno.EDQUOT):  # the WAL cut the group off
                raise self.floor.disk_full() from e
            raise
        finally:
            self._pending_bytes -= size

    @property
    def pending_bytes(self) -> int:
        return self._pending_bytes

    # -- maintenance ---------------------------------------------------------------

    def maintain(self, now: float | None = None) -> None:
        """One round of background work; call it every second or so, off the event loop."""
        now = time.monotonic() if now is None else now
        s = self.settings
        if (
            self.memtable.active_rows >= s.memtable_max_rows
            or (self.memtable.active_rows and now - self._last_flush >= s.flush_interval_s)
            # a flush that failed (a full disk) left sealed batches behind: retry them even
            # when nothing new arrives, since ingest may be refusing until they are written
            or self.memtable.oldest_frozen() is not None
        ):
            self.flush()
        if now - self._last_compaction >= s.compaction_interval_s and not self.floor.below():
            # compaction writes a merged copy before it frees the originals: not on a full disk
            self._last_compaction = now
            self.compact()
            self.apply_retention()
            self.vacuum()

    def flush(self) -> int:
        """Write every frozen and active batch to segments and commit them; returns rows."""
        assert self.wal is not None
        with self._maintenance:
            self._last_flush = time.monotonic()
            if self.memtable.active_rows:
                self.wal.seal().result()
            written = 0
            while (generation := self.memtable.oldest_frozen()) is not None:
                written += self._flush_generation(generation)
            return written

    def _flush_generation(self, generation: Generation) -> int:
        """One commit per table of the generation, each with the generation's WAL
        position; a table whose commit already holds it (a retry after a failure part
        way) is skipped. The WAL files go once every table has committed."""
        assert self.wal is not None
        rows = generation.rows
        # The generation holds every WAL file after the checkpoint up to its own.
        provenance = {
            META_WAL_FROM: str(self._checkpoint + 1).encode(),
            META_WAL_TO: str(generation.wal_seq).encode(),
        }
        for table, batches in list(generation.batches.items()):
            if self._committed.get(table, 0) >= generation.wal_seq:
                continue
            data = pa.Table.from_batches(batches, schema=schema_of(table))
            segments: list[Segment] = []
            try:
                segments = write_segments(
                    self.lake, table, data, self.writer, provenance=provenance
                )
                with self._lock:  # a query sees the rows in the memtable or the table
                    self.tables[table].commit(
                        segments, operation="flush", txn=(self.app_id, generation.wal_seq)
                    )
                    self._committed[table] = generation.wal_seq
                    self.memtable.drop_table(generation, table)
            except BaseException:
                # e.g. the disk filled up: the batches stay in the WAL and the memtable for
                # the next try; what this try wrote is in no commit, so it goes now.
                for segment in segments:
                    (self.lake / segment.path).unlink(missing_ok=True)
                raise
            self.stats.segments_written += len(segments)
        with self._lock:
            self.memtable.drop(generation)
        self._checkpoint = max(self._checkpoint, generation.wal_seq)
        self.wal.remove_through(generation.wal_seq)
        self.stats.flushes += 1
        return rows

    def compact(self, now_us: int | None = None, min_segments: int | None = None) -> int:
        """Merge flushed segments per partition; returns how many groups were merged.

        ``min_segments`` overrides the setting (1: rewrite every flushed segment now).
        Skipped (0) while another writer of the lake holds the maintenance lock.
        """
        now_us = int(time.time() * 1e6) if now_us is None else now_us
        least = self.settings.compaction_min_segments if min_segments is None else min_segments
        done = 0
        with self._maintenance, exclusive(self.lake / MAINTENANCE_LOCK) as held:
            if not held:
                return 0
            for name, table in self.tables.items():
                for group in plan_compactions(list(table.snapshot().segments), least, now_us):
                    self._merge(name, table, group)
                    done += 1
        self.stats.compactions += done
        return done

    def _merge(self, name: str, table: LakeTable, group: list[Segment]) -> None:
        """Write the group's rows as one sorted segment; commit it with the group's
        removal as one version (``data_change`` false: readers of changes skip it)."""
        data = pq.read_table([str(self.lake / s.path) for s in group], schema=schema_of(name))
        provenance = {  # only committed segments are merged
            META_REPLACES: ",".join(s.name for s in group).encode(),
            META_WAL_TO: str(self._checkpoint).encode(),
        }
        merged: list[Segment] = []
        try:
            merged = write_segments(
                self.lake, name, data, self.writer, compacted=True, provenance=provenance
            )
            # no store lock: the memtable is not involved, and the table's snapshot moves
            # from the old files to the merged one in one step
            table.commit(merged, group, operation="compact", data_change=False)
        except BaseException:  # e.g. disk full: the originals stay; drop the partial copy
            for segment in merged:
                (self.lake / segment.path).unlink(missing_ok=True)
            raise

    def apply_retention(self, now_us: int | None = None) -> int:
        """Drop partitions past their table's retention, by commit; returns segments
        dropped. Their files stay for ``lake_vacuum_hours`` (running queries, time travel)."""
        now_us = int(time.time() * 1e6) if now_us is None else now_us
        dropped = 0
        with self._maintenance, exclusive(self.lake / MAINTENANCE_LOCK) as held:
            if not held:
                return 0
            for name, table in self.tables.items():
                days = self.settings.retention_for(name)
                old = expired(list(table.snapshot().segments), now_us, {name: days})
                if old:
                    table.commit((), old, operation="retention")
                    dropped += len(old)
        self.stats.segments_expired += dropped
        return dropped

    def vacuum(self, retention_hours: int | None = None) -> int:
        """Delete files no version of the last ``lake_vacuum_hours`` needs."""
        hours = self.settings.lake_vacuum_hours if retention_hours is None else retention_hours
        deleted = 0
        with self._maintenance, exclusive(self.lake / MAINTENANCE_LOCK) as held:
            if held:
                deleted = sum(table.vacuum(hours) for table in self.tables.values())
        self.stats.files_vacuumed += deleted
        return deleted

    # -- reading -------------------------------------------------------------------

    def snapshots(self, tables: list[str] | None = None) -> dict[str, Snapshot]:
        """The newest snapshot of each table (all when None)."""
        return {t: self.tables[t].snapshot() for t in tables or list(SCHEMAS)}

    def sources(
        self,
        tables: list[str] | None = None,
        start_us: int | None = None,
        end_us: int | None = None,
        as_of: int | datetime | None = None,
    ) -> dict[str, Source]:
        """Per table: the files of one snapshot overlapping the time range, plus the
        memtable's rows. ``as_of`` (a version or a time) reads each table as its commit
        log had it then, memtable excluded: rows not yet committed were not in the lake."""
        names = tables or list(SCHEMAS)
        if as_of is not None:
            return self._sources_as_of(names, as_of, start_us, end_us)
        out = {}
        with self._lock:
            for table in names:
                files = [
                    str(self.lake / s.path)
                    for s in self.tables[table].snapshot().overlapping(start_us, end_us)
                ]
                out[table] = (files, self.memtable.batches(table))
        return {
            table: Source(files, pa.Table.from_batches(batches, schema=schema_of(table)))
            for table, (files, batches) in out.items()
        }

    def _sources_as_of(
        self, names: list[str], as_of: int | datetime, start_us: int | None, end_us: int | None
    ) -> dict[str, Source]:
        """A version number is one table's (versions are per table); a time applies to
        every table, and one created after it reads as empty."""
        if isinstance(as_of, int) and len(names) != 1:
            raise BadRequest(
                "as_of a version number reads one table: query a single table, or give "
                "as_of as a time (RFC 3339)"
            )
        snapshots = {t: self.tables[t].as_of(as_of) for t in names}
        if all(snapshot is None for snapshot in snapshots.values()):
            what = f"version {as_of}" if isinstance(as_of, int) else f"{as_of:%Y-%m-%dT%H:%M:%SZ}"
            raise NotFound(
                f"the lake has no version as of {what}: "
                + ("pick a lower version" if isinstance(as_of, int) else "pick a later time")
            )
        return {
            t: Source(
                self._existing(t, (snapshot or EMPTY).overlapping(start_us, end_us)),
                schema_of(t).empty_table(),
            )
            for t, snapshot in snapshots.items()
        }

    def _existing(self, table: str, segments: list[Segment]) -> list[str]:
        paths = [self.lake / s.path for s in segments]
        if missing := sum(1 for p in paths if not p.exists()):
            raise QueryError(
                f"{missing} files of {table!r} at that version were vacuumed (files stay "
                f"{self.settings.lake_vacuum_hours} h, lake_vacuum_hours): pick a later as_of"
            )
        return [str(p) for p in paths]

    def query(
        self,
        sql: str,
        params: Sequence[Any],
        *,
        tables: list[str] | None = None,
        start_us: int | None = None,
        end_us: int | None = None,
        timeout_s: float | None = None,
        max_rows: int | None = None,
        max_bytes: int | None = None,
        arrow: bool = False,
        as_of: int | datetime | None = None,
    ) -> Results:
        """Run ``sql`` over ``tables`` (all when None) as they are now, segments pruned to
        ``[start_us, end_us)`` plus the memtable: the one way a query reads the lake.

        Blocking (DuckDB): call it off the event loop. The time limit and the row cap are
        the ``query_timeout_s`` and ``query_max_rows`` settings unless given;
        ``max_bytes`` and ``arrow`` are ``QueryEngine.run``'s, ``as_of`` ``sources``'.
        """
        s = self.settings
        return self.engine.run(
            sql,
            params,
            self.sources(tables, start_us, end_us, as_of),
            timeout_s=s.query_timeout_s if timeout_s is None else timeout_s,
            max_rows=s.query_max_rows if max_rows is None else max_rows,
            max_bytes=max_bytes,
            arrow=arrow,
        )

    def segments(self, compacted: bool | None = None) -> list[Segment]:
        """The segments of every table's newest snapshot."""
        return [
            s
            for snapshot in self.snapshots().values()
            for s in snapshot.segments
            if compacted is None or s.compacted == compacted
        ]

    def segment_bytes(self) -> int:
        return sum(s.bytes for s in self.segments())

    def segment_count(self, compacted: bool | None = None) -> int:
        return len(self.segments(compacted))

    # -- telemetry -----------------------------------------------------------------

    def collect(self) -> Iterator[Metric]:
        """The store's figures for /metrics (a prometheus_client collector): memtable,
        WAL, segments, Delta commits, what the last open replayed, and the disk floor's."""
        wal = self.wal  # None before open() and after close()
        stats, replay, tables = self.stats, self.replay, self.tables.values()
        gauges: list[tuple[str, str, float]] = [
            ("tracelake_memtable_rows", "Rows held in the memtable", self.memtable.rows),
            ("tracelake_memtable_bytes", "Arrow bytes held in the memtable", self.memtable.nbytes),
            ("tracelake_ingest_pending_bytes", "Bytes waiting for the WAL", self.pending_bytes),
            ("tracelake_segments", "Segment files in the lake", self.segment_count()),
            (
                "tracelake_segments_flushed",
                "Segment files not yet compacted",
                self.segment_count(compacted=False),
            ),
            ("tracelake_segment_bytes", "Bytes of segment files in the lake", self.segment_bytes()),
        ]
        counters: list[tuple[str, str, float]] = [
            (
                "tracelake_wal_bytes_written",
                "Bytes written to the WAL since start",
                wal.bytes_written if wal else 0,
            ),
            ("tracelake_wal_syncs", "WAL group commits since start", wal.syncs if wal else 0),
            ("tracelake_flushes", "Memtable flushes since start", stats.flushes),
            ("tracelake_compactions", "Compactions since start", stats.compactions),
            (
                "tracelake_segments_written",
                "Segment files written by memtable flushes since start",
                stats.segments_written,
            ),
            (
                "tracelake_segments_expired",
                "Segment files dropped by retention since start",
                stats.segments_expired,
            ),
            (
                "tracelake_lake_commits",
                "Delta commits this server made (flushes, compactions, retention)",
                sum(t.commits for t in tables),
            ),
            (
                "tracelake_lake_commit_seconds",
                "Time spent in Delta commits since start",
                sum(t.commit_seconds for t in tables),
            ),
            (
                "tracelake_lake_snapshot_refreshes",
                "Table snapshots re-read because the commit log had a newer version",
                sum(t.refreshes for t in tables),
            ),
            (
                "tracelake_lake_files_vacuumed",
                "Files vacuum deleted since start",
                stats.files_vacuumed,
            ),
            (
                "tracelake_ingest_overloaded",
                "Appends refused with 503 since start",
                stats.rejected_overload,
            ),
            (
                "tracelake_wal_replayed_batches",
                "Batches replayed from the WAL at start",
                replay.frames,
            ),
            (
                "tracelake_wal_truncated_bytes",
                "Torn WAL bytes truncated at start",
                replay.truncated_bytes,
            ),
            (
                "tracelake_wal_corrupt_bytes",
                "Damaged WAL bytes skipped at start (frames after them were replayed)",
                replay.corrupt_bytes,
            ),
            (
                "tracelake_wal_corrupt_files",
                "WAL files with damaged frames at start (copies kept in wal/corrupt/)",
                replay.corrupt_files,
            ),
        ]
        for name, documentation, value in gauges:
            yield GaugeMetricFamily(name, documentation, value=value)
        for name, documentation, value in counters:
            yield CounterMetricFamily(name, documentation, value=value)
        yield from self.floor.collect()


def _conformed(table: str, batch: pa.RecordBatch) -> pa.RecordBatch:
    """A batch written before a column of its table existed (a WAL frame from an older
    version), with that column added as nulls."""
    schema = schema_of(table)
    if batch.schema.names == schema.names:
        return batch
    columns = [
        batch.column(f.name) if f.name in batch.schema.names else pa.nulls(batch.num_rows, f.type)
        for f in schema
    ]
    return pa.record_batch(columns, schema=schema)
