"""The store: the lake and the way into it.

``Store`` ties the pieces together: ``append`` puts a batch through the WAL (acked once
fsync'd) into the memtable; ``maintain`` flushes the memtable to Parquet segments,
compacts, applies retention and empties the trash; ``query`` runs SQL over the
segment files and in-memory rows a query must read (``sources``), pruned by time;
``collect`` reports the store's figures for /metrics.

Directory layout under ``data_dir``::

    wal/<seq>.wal             frames not yet in segments
    lake/<table>/date=…/hour=…/<n>.parquet
    lake/events/type=…/date=…/hour=…/<n>.parquet   (events: one level per type)
    lake/_manifest.json       the segments that make up the lake
    lake/_orphans/…           segment files no manifest named at open, set aside (never read)
    wal/corrupt/<seq>.wal     copies of WAL files replay found damaged, for inspection

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
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from tracelake.errors import Overloaded
from tracelake.schema import SCHEMAS, schema_of
from tracelake.settings import Settings
from tracelake.store.compaction import plan_compactions
from tracelake.store.diskfloor import DiskFloor, free_space
from tracelake.store.duck import QueryEngine, Results, Source
from tracelake.store.ipc import from_ipc
from tracelake.store.manifest import ORPHANS_DIR, Manifest, Segment, segment_files, set_aside
from tracelake.store.memtable import Generation, Memtable
from tracelake.store.retention import expired
from tracelake.store.segments import (
    META_REPLACES,
    META_WAL_FROM,
    META_WAL_TO,
    segment_number,
    write_segments,
)
from tracelake.store.wal import WAL, ReplayReport, read_frames

log = logging.getLogger("tracelake.store")

#: Removed segment files are kept this long after leaving the manifest, for queries
#: that started before.
TRASH_GRACE_S = 120.0


@dataclass(slots=True)
class StoreStats:
    """Counts since start, published by ``Store.collect``."""

    flushes: int = 0
    compactions: int = 0
    segments_written: int = 0
    segments_expired: int = 0
    rejected_overload: int = 0


class Store:
    """The lake: WAL + memtable + Parquet segments + manifest, queried through DuckDB."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.data_path
        self.lake = self.root / "lake"
        self.lake.mkdir(parents=True, exist_ok=True)
        self.manifest = Manifest(self.lake / "_manifest.json")
        self.memtable = Memtable()
        self.stats = StoreStats()
        self.replay = ReplayReport()
        self._lock = threading.Lock()  # manifest + memtable generations, as queries see them
        self._maintenance = threading.Lock()  # one flush/compaction/retention at a time
        self._pending_bytes = 0
        self._last_flush = time.monotonic()
        self._last_compaction = time.monotonic()
        self._trash: list[tuple[float, Path]] = []
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
        """Load the manifest, set orphans aside, replay the WAL; then accept appends.

        Raises LakeNeedsRepair (nothing changed) when the manifest is missing beside
        segment files or unreadable.
        """
        self.manifest.load()
        self._set_orphans_aside()
        wal_dir = self.root / "wal"
        wal_dir.mkdir(parents=True, exist_ok=True)
        files = sorted(wal_dir.glob("*.wal"))
        checkpoint = self.manifest.state.wal_checkpoint
        pending = [p for p in files if int(p.stem) > checkpoint]
        for path in files:
            if int(path.stem) <= checkpoint:
                path.unlink()
        for i, path in enumerate(pending):
            for table, ipc in read_frames(path, self.replay, is_last=i == len(pending) - 1):
                self.memtable.add(table, from_ipc(bytes(ipc)))
        if self.replay.frames or self.replay.truncated_bytes or self.replay.corrupt_bytes:
            log.info(
                "wal: replayed %d batches (%d rows); truncated %d torn bytes; skipped %d "
                "damaged bytes",
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
        )
        return self.replay

    def _set_orphans_aside(self) -> None:
        """Delete our own temp files; move segment files the manifest does not name to
        ``_orphans/``, never delete them.

        A ``*.tmp`` is a write this store began and never renamed: provably abandoned.
        A ``.parquet`` not in the manifest is most likely the output of a flush or a
        compaction cut short (its rows are still in the WAL or in the segments it was to
        replace), but nothing proves it: out of the tables' directories, no query and no
        reader of the Hive layout counts its rows twice, and an operator can look at it.
        """
        for tmp in self.lake.rglob("*.tmp"):  # segments' and the manifest's temp names
            if tmp.relative_to(self.lake).parts[0] != ORPHANS_DIR:
                tmp.unlink(missing_ok=True)
        known = {self.lake / s.path for s in self.manifest.segments()}
        orphans = [path for path in segment_files(self.lake) if path not in known]
        for path in orphans:
            set_aside(self.lake, path)
        if orphans:
            log.warning(
                "store: moved %d segment files the manifest does not name to %s/ (left by a "
                "flush or compaction cut short; their rows are in the WAL or the lake), "
                "e.g. %s",
                len(orphans),
                self.lake / ORPHANS_DIR,
                orphans[0].relative_to(self.lake),
            )

    def close(self) -> None:
        """Flush what is in memory and stop the WAL writer."""
        if self.wal is None:
            return
        self.flush()
        self.wal.close()
        self.wal = None
        self._empty_trash(force=True)

    # -- writing -------------------------------------------------------------------

    async def append(self, table: str, ipc: bytes) -> None:
        """Make one Arrow IPC batch durable; returns once it is acknowledged.

        Raises Overloaded (503 + Retry-After) instead of queueing without bound when the
        WAL or the flusher is behind, and while the disk is under its free-space floor.
        """
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
        self._empty_trash()

    def flush(self) -> int:
        """Write every frozen and active batch to segments; returns rows written."""
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
        assert self.wal is not None
        segments: list[Segment] = []
        checkpoint = self.manifest.state.wal_checkpoint
        # The generation holds every WAL file after the checkpoint up to its own.
        provenance = {
            META_WAL_FROM: str(checkpoint + 1).encode(),
            META_WAL_TO: str(generation.wal_seq).encode(),
        }
        try:
            for table, batches in generation.batches.items():
                data = pa.Table.from_batches(batches, schema=schema_of(table))
                segments += write_segments(
                    self.lake, table, data, self._segment_number, provenance=provenance
                )
            with self._lock:
                self.manifest.state.segments.extend(segments)
                self.manifest.state.wal_checkpoint = max(
                    self.manifest.state.wal_checkpoint, generation.wal_seq
                )
                self.manifest.save()
                self.memtable.drop(generation)
        except OSError:
            # e.g. the disk filled up: the batches stay in the WAL and the memtable for the
            # next try; what this try wrote is not in the manifest, so it goes now rather
            # than at the next start, to give the space back.
            self._forget(segments, checkpoint)
            raise
        self.wal.remove_through(generation.wal_seq)
        self.stats.flushes += 1
        self.stats.segments_written += len(segments)
        return generation.rows

    def _forget(self, segments: list[Segment], checkpoint: int) -> None:
        """Undo a failed flush: its segments and half-written files, and the manifest's
        memory of them (a later save must not claim their WAL files are in segments)."""
        with self._lock:
            gone = set(segments)
            self.manifest.state.segments = [
                s for s in self.manifest.state.segments if s not in gone
            ]
            self.manifest.state.wal_checkpoint = checkpoint
        for segment in segments:
            (self.lake / segment.path).unlink(missing_ok=True)
        for tmp in self.lake.rglob("*.tmp"):
            tmp.unlink(missing_ok=True)

    def _segment_number(self) -> int:
        with self._lock:
            return self.manifest.take_segment_number()

    def compact(self, now_us: int | None = None, min_segments: int | None = None) -> int:
        """Merge flushed segments per partition; returns how many groups were merged.

        ``min_segments`` overrides the setting (1: rewrite every flushed segment now).
        """
        now_us = int(time.time() * 1e6) if now_us is None else now_us
        least = self.settings.compaction_min_segments if min_segments is None else min_segments
        done = 0
        with self._maintenance:
            with self._lock:
                plans = plan_compactions(self.manifest.segments(), least, now_us)
            for group in plans:
                table = group[0].table
                data = pq.read_table(
                    [str(self.lake / s.path) for s in group], schema=schema_of(table)
                )
                provenance = {  # only committed segments are merged: the WAL up to the
                    # checkpoint is in segments now
                    META_REPLACES: ",".join(str(segment_number(s.path)) for s in group).encode(),
                    META_WAL_TO: str(self.manifest.state.wal_checkpoint).encode(),
                }
                try:
                    merged = write_segments(
                        self.lake,
                        table,
                        data,
                        self._segment_number,
                        compacted=True,
                        provenance=provenance,
                    )
                    self._replace(group, merged)
                except OSError:  # e.g. disk full: the originals stay; drop the partial copy
                    self._forget([], self.manifest.state.wal_checkpoint)
                    raise
                done += 1
        self.stats.compactions += done
        return done

    def apply_retention(self, now_us: int | None = None) -> int:
        """Drop partitions past their table's retention; returns segments dropped."""
        now_us = int(time.time() * 1e6) if now_us is None else now_us
        days = {t: self.settings.retention_for(t) for t in SCHEMAS}
        with self._maintenance:
            with self._lock:
                old = expired(self.manifest.segments(), now_us, days)
            if old:
                self._replace(old, [])
        self.stats.segments_expired += len(old)
        return len(old)

    def _replace(self, old: list[Segment], new: list[Segment]) -> None:
        gone = set(old)
        with self._lock:
            self.manifest.state.segments = [
                s for s in self.manifest.state.segments if s not in gone
            ] + new
            self.manifest.save()
        deadline = time.monotonic() + TRASH_GRACE_S
        self._trash += [(deadline, self.lake / s.path) for s in old]

    def _empty_trash(self, force: bool = False) -> None:
        now = time.monotonic()
        keep = []
        for deadline, path in self._trash:
            if force or deadline <= now:
                path.unlink(missing_ok=True)
            else:
                keep.append((deadline, path))
        self._trash = keep

    # -- reading -------------------------------------------------------------------

    def sources(
        self,
        tables: list[str] | None = None,
        start_us: int | None = None,
        end_us: int | None = None,
    ) -> dict[str, Source]:
        """Segment files overlapping the time range plus memtable rows, per table."""
        out = {}
        with self._lock:
            for table in tables or list(SCHEMAS):
                files = [
                    str(self.lake / s.path)
                    for s in self.manifest.segments(table)
                    if s.overlaps(start_us, end_us)
                ]
                batches = self.memtable.batches(table)
                out[table] = (files, batches)
        return {
            table: Source(files, pa.Table.from_batches(batches, schema=schema_of(table)))
            for table, (files, batches) in out.items()
        }

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
    ) -> Results:
        """Run ``sql`` over ``tables`` (all when None) as they are now, segments pruned to
        ``[start_us, end_us)`` plus the memtable: the one way a query reads the lake.

        Blocking (DuckDB): call it off the event loop. The time limit and the row cap are
        the ``query_timeout_s`` and ``query_max_rows`` settings unless given;
        ``max_bytes`` and ``arrow`` are ``QueryEngine.run``'s.
        """
        s = self.settings
        return self.engine.run(
            sql,
            params,
            self.sources(tables, start_us, end_us),
            timeout_s=s.query_timeout_s if timeout_s is None else timeout_s,
            max_rows=s.query_max_rows if max_rows is None else max_rows,
            max_bytes=max_bytes,
            arrow=arrow,
        )

    def segment_bytes(self) -> int:
        with self._lock:
            return sum(s.bytes for s in self.manifest.segments())

    def segment_count(self, compacted: bool | None = None) -> int:
        with self._lock:
            return sum(
                1
                for s in self.manifest.state.segments
                if compacted is None or s.compacted == compacted
            )

    # -- telemetry -----------------------------------------------------------------

    def collect(self) -> Iterator[Metric]:
        """The store's figures for /metrics (a prometheus_client collector): memtable,
        WAL, segments, what the last open replayed, and the disk floor's."""
        wal = self.wal  # None before open() and after close()
        stats, replay = self.stats, self.replay
        yield GaugeMetricFamily(
            "tracelake_memtable_rows", "Rows held in the memtable", value=self.memtable.rows
        )
        yield GaugeMetricFamily(
            "tracelake_memtable_bytes",
            "Arrow bytes held in the memtable",
            value=self.memtable.nbytes,
        )
        yield GaugeMetricFamily(
            "tracelake_ingest_pending_bytes", "Bytes waiting for the WAL", value=self.pending_bytes
        )
        yield GaugeMetricFamily(
            "tracelake_segments", "Segment files in the lake", value=self.segment_count()
        )
        yield GaugeMetricFamily(
            "tracelake_segments_flushed",
            "Segment files not yet compacted",
            value=self.segment_count(compacted=False),
        )
        yield GaugeMetricFamily(
            "tracelake_segment_bytes",
            "Bytes of segment files in the lake",
            value=self.segment_bytes(),
        )
        yield CounterMetricFamily(
            "tracelake_wal_bytes_written",
            "Bytes written to the WAL since start",
            value=wal.bytes_written if wal else 0,
        )
        yield CounterMetricFamily(
            "tracelake_wal_syncs", "WAL group commits since start", value=wal.syncs if wal else 0
        )
        yield CounterMetricFamily(
            "tracelake_flushes", "Memtable flushes since start", value=stats.flushes
        )
        yield CounterMetricFamily(
            "tracelake_compactions", "Compactions since start", value=stats.compactions
        )
        yield CounterMetricFamily(
            "tracelake_segments_written",
            "Segment files written by memtable flushes since start",
            value=stats.segments_written,
        )
        yield CounterMetricFamily(
            "tracelake_segments_expired",
            "Segment files dropped by retention since start",
            value=stats.segments_expired,
        )
        yield CounterMetricFamily(
            "tracelake_ingest_overloaded",
            "Appends refused with 503 since start",
            value=stats.rejected_overload,
        )
        yield CounterMetricFamily(
            "tracelake_wal_replayed_batches",
            "Batches replayed from the WAL at start",
            value=replay.frames,
        )
        yield CounterMetricFamily(
            "tracelake_wal_truncated_bytes",
            "Torn WAL bytes truncated at start",
            value=replay.truncated_bytes,
        )
        yield CounterMetricFamily(
            "tracelake_wal_corrupt_bytes",
            "Damaged WAL bytes skipped at start (frames after them were replayed)",
            value=replay.corrupt_bytes,
        )
        yield CounterMetricFamily(
            "tracelake_wal_corrupt_files",
            "WAL files with damaged frames at start (copies kept in wal/corrupt/)",
            value=replay.corrupt_files,
        )
        yield from self.floor.collect()
