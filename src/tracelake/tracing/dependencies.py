"""The dependency aggregator: span batches in, per-minute link counts into the lake.

Why a background component: links are counted as spans arrive (``linker.py``), not
by a batch job, and stored in the ``dependencies`` table through ``Store.append`` so
they are durable, survive restarts, follow retention and are readable by any Parquet
tool. The memtable calls :meth:`DependencyAggregator.on_batch` on the WAL thread; it
only queues the batch. :meth:`run` (a task on the server's event loop) feeds queued
batches to the linker off the loop and appends the counts every ``flush_interval_s``.

Links of spans that were acknowledged but whose counts had not been appended when the
process died are not recounted at restart (the WAL replay runs before the aggregator
subscribes): at most the last ``flush_interval_s`` of links can be missing, never
double-counted. That is also what makes a reporter's retry after a ``kill -9`` between
the WAL write and the answer count once: the first copy's links were never appended,
the retry's are.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable, Iterator

import pyarrow as pa
import pyarrow.compute as pc
from prometheus_client.core import CounterMetricFamily, Metric

from tracelake.errors import Overloaded
from tracelake.schema import DEPENDENCIES
from tracelake.store import Store
from tracelake.store.ipc import to_ipc
from tracelake.tracing.linker import ENTRY_KINDS, EXIT_KINDS, DependencyLinker, LinkCounts, LinkSpan

log = logging.getLogger("tracelake.tracing")

#: Span batches that may wait for the linker before new ones are counted as dropped.
MAX_QUEUED_BATCHES = 10_000
_KINDS = pa.array(sorted(ENTRY_KINDS | EXIT_KINDS))


class DependencyAggregator:
    """Counts dependency links of every new ``spans`` batch; appends them to the lake."""

    def __init__(
        self, store: Store, *, flush_interval_s: float = 1.0, window_s: float = 30.0
    ) -> None:
        self.store = store
        self.flush_interval_s = flush_interval_s
        self.linker = DependencyLinker(window_s)
        self.dropped_batches = 0
        self._queue: collections.deque[pa.RecordBatch] = collections.deque()
        self._unsubscribe: Callable[[], None] | None = None
        self._unsaved: LinkCounts = {}

    def collect(self) -> Iterator[Metric]:
        """For the server's /metrics: span batches the linker was too far behind to take."""
        yield CounterMetricFamily(
            "tracelake_dependencies_dropped_batches",
            f"Span batches left out of dependency links, {MAX_QUEUED_BATCHES} being queued already",
            value=self.dropped_batches,
        )

    def start(self) -> None:
        """Begin watching new batches (after the WAL replay: see the module docstring)."""
        self._unsubscribe = self.store.memtable.subscribe(self.on_batch)

    def on_batch(self, table: str, batch: pa.RecordBatch) -> None:
        if table != "spans":
            return
        if len(self._queue) >= MAX_QUEUED_BATCHES:
            self.dropped_batches += 1
            return
        self._queue.append(batch)

    async def run(self) -> None:
        """Link and flush every ``flush_interval_s`` until cancelled."""
        while True:
            await asyncio.sleep(self.flush_interval_s)
            try:
                await self.flush()
            except Overloaded:
                log.warning("dependencies: store overloaded; keeping counts for the next flush")
            except Exception:
                log.exception("dependencies: flush failed; keeping counts for the next flush")

    async def flush(self, *, force: bool = False) -> int:
        """Link queued batches and append the counts; returns rows appended."""
        await asyncio.to_thread(self._link_queued, force)
        for key, (calls, errors) in self.linker.take().items():
            saved = self._unsaved.setdefault(key, [0, 0])
            saved[0] += calls
            saved[1] += errors
        if not self._unsaved:
            return 0
        batch = links_batch(self._unsaved)
        await self.store.append("dependencies", to_ipc(batch))
        self._unsaved = {}
        return batch.num_rows

    def _link_queued(self, force: bool) -> None:
        while self._queue:
            self.linker.add(link_spans(self._queue.popleft()))
        self.linker.tick(force)

    async def stop(self) -> None:
        """Stop watching, then count and append what is left (the store is still open)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        try:
            await self.flush()
        except Exception:
            log.exception("dependencies: final flush failed; the last counts are lost")


def link_spans(batch: pa.RecordBatch) -> Iterator[LinkSpan]:
    """The entry and exit spans of a ``spans`` batch, as the linker reads them."""
    kinds = batch.column("kind")
    wanted = batch.filter(pc.is_in(kinds, _KINDS))
    if wanted.num_rows == 0:
        return iter(())
    details = wanted.column("details")
    shared = pc.fill_null(pc.match_substring(details, '"shared":true'), False)
    return zip(
        wanted.column("trace_id").to_pylist(),
        wanted.column("span_id").to_pylist(),
        wanted.column("parent_id").to_pylist(),
        wanted.column("service").to_pylist(),
        wanted.column("kind").to_pylist(),
        pc.equal(wanted.column("status"), "error").fill_null(False).to_pylist(),
        wanted.column("timestamp").cast(pa.int64()).to_pylist(),
        wanted.column("remote_service").to_pylist(),
        shared.to_pylist(),
        strict=True,
    )


def links_batch(counts: LinkCounts) -> pa.RecordBatch:
    keys = list(counts)
    return pa.record_batch(
        [
            pa.array([k[0] for k in keys], pa.int64()).cast(DEPENDENCIES.field("timestamp").type),
            pa.array([k[1] for k in keys], pa.string()),
            pa.array([k[2] for k in keys], pa.string()),
            pa.array([counts[k][0] for k in keys], pa.int64()),
            pa.array([counts[k][1] for k in keys], pa.int64()),
        ],
        schema=DEPENDENCIES,
    )
