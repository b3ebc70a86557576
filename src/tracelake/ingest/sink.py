"""The log sink every input hands records to: pipeline, then the store.

HTTP bodies of NDJSON go to ``ingest_ndjson`` which decodes and normalises them in a
worker process when ``ingest_workers`` > 0 (the JSON work is GIL-bound; a second
process uses the second core). Listeners that decode themselves call the sink with
log objects. Either way the call returns once the good records are durable.

Both ways run the configured ``Pipeline`` (parse, enrich, drop/sample, redact): in the
worker it is rebuilt from its config. Records that rules drop count as accepted and
``dropped`` (metric outcome ``dropped``), never as errors.

The JSON-lines and syslog TCP listeners hand over frames instead of objects:
``decode_stream`` runs ``ingest.jobs.stream_logs_job`` in a worker and ``store_stream``
makes its result durable (raising ``Overloaded`` so the listener can retry the append
alone, without decoding again).
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any, TypeVar

from tracelake.ingest.jobs import FrameFormat, StreamChunk, logs_from_objects, stream_logs_job
from tracelake.model import IngestResult, LogObject, RecordError
from tracelake.pipeline.batches import to_ipc
from tracelake.pipeline.config import Pipeline
from tracelake.pipeline.jobs import ndjson_logs_job
from tracelake.pipeline.multiline import MultilineJoiner
from tracelake.settings import Settings
from tracelake.store import Store
from tracelake.telemetry import ServerMetrics

T = TypeVar("T")


#: How often a decode worker checks that the server is still its parent.
ORPHAN_CHECK_S = 1.0


def _init_worker() -> None:
    """Set a decode worker up: Ctrl-C is the server's to handle, and the cyclic GC
    runs rarely — each job makes thousands of short-lived, acyclic dicts that
    reference counting frees, which the default thresholds would scan again and again."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    threading.Thread(target=_exit_when_orphaned, args=(os.getppid(),), daemon=True).start()


def _exit_when_orphaned(parent: int) -> None:
    """End this worker once the server is gone (``kill -9`` included).

    A pool worker holds both ends of its call queue's pipe, so the parent's death never
    reaches it as end-of-file: without this it would wait for work forever.
    """
    while os.getppid() == parent:
        time.sleep(ORPHAN_CHECK_S)
    os._exit(0)


class LogIngest:
    """Decode → pipeline → store, counted on the server's metrics."""

    def __init__(self, store: Store, settings: Settings, metrics: ServerMetrics) -> None:
        self.store = store
        self.settings = settings
        self.metrics = metrics
        self.pipeline = Pipeline(settings.pipeline)  # ConfigError here stops the start
        self._pool: Executor | None = None
        if settings.ingest_workers > 0:
            self._pool = ProcessPoolExecutor(
                settings.ingest_workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
            )

    def warm_up(self) -> None:
        """Start the worker processes now rather than on the first request."""
        if self._pool is not None:
            self._pool.submit(int, 0).result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    async def ingest_ndjson(
        self, body: bytes, encoding: str, source: str = "http"
    ) -> dict[str, Any]:
        """One NDJSON/JSON-array body; returns the response dict once durable."""
        now_us = int(time.time() * 1e6)
        args = (
            body,
            encoding,
            self.settings.max_body_bytes,
            self.settings.max_line_bytes,
            now_us,
            self.pipeline,
        )
        if self._pool is None:
            ipc, result = ndjson_logs_job(*args)
        else:
            ipc, result = await asyncio.get_running_loop().run_in_executor(
                self._pool, ndjson_logs_job, *args
            )
        stored = result["accepted"] - result["dropped"]
        if stored:
            await self.store.append("logs", ipc)
        self._count(source, stored, result["rejected"], result["dropped"], len(body))
        return result

    async def offload(self, job: Callable[..., T], *args: Any) -> T:
        """Run a picklable decode job in the worker processes (inline without them)."""
        if self._pool is None:
            return job(*args)
        return await asyncio.get_running_loop().run_in_executor(self._pool, job, *args)

    async def __call__(self, objects: Sequence[LogObject], source: str = "stream") -> IngestResult:
        """The ``LogSink`` of stream listeners: objects already decoded."""
        batch, result = logs_from_objects(list(objects), int(time.time() * 1e6), self.pipeline)
        if batch.num_rows:
            await self.store.append("logs", to_ipc(batch))
        self._count(source, result.stored, result.rejected, result.dropped)
        return result

    async def decode_stream(
        self,
        fmt: FrameFormat,
        frames: list[bytes],
        joiner: MultilineJoiner | None = None,
        final: bool = False,
    ) -> StreamChunk:
        """Decode one chunk of a connection's frames in a worker (nothing stored yet)."""
        return await self.offload(
            stream_logs_job, fmt, frames, time.time(), self.pipeline, joiner, final
        )

    async def append(
        self,
        table: str,
        ipc: bytes | None,
        *,
        source: str,
        stored: int,
        rejected: int = 0,
        nbytes: int = 0,
    ) -> None:
        """Make a batch a worker decoded (spans, samples, events) durable and count it.

        Returns once the batch is acknowledged; raises ``Overloaded`` (503) like every
        append. ``stored`` rows are in ``ipc``; ``rejected`` ones were refused before.
        """
        if ipc is not None and stored:
            await self.store.append(table, ipc)
        self._count(source, stored if ipc is not None else 0, rejected, 0, nbytes)

    async def store_stream(self, chunk: StreamChunk, source: str, nbytes: int = 0) -> IngestResult:
        """Make a decoded chunk durable; raises ``Overloaded`` (retry this call alone)."""
        if chunk.stored:
            await self.store.append("logs", chunk.ipc)
        self._count(source, chunk.stored, chunk.rejected, chunk.dropped, nbytes)
        return IngestResult(accepted=chunk.accepted, rejected=chunk.rejected, dropped=chunk.dropped)

    def reject(self, source: str, errors: Sequence[RecordError]) -> None:
        """Count records a decoder refused before they reached the pipeline."""
        self._count(source, 0, len(errors), 0)

    def _count(
        self, source: str, stored: int, rejected: int, dropped: int, nbytes: int = 0
    ) -> None:
        """Outcomes partition the records: ``accepted`` (stored), ``dropped``, ``rejected``."""
        m = self.metrics
        if stored:
            m.ingest_records.labels(source, "accepted").inc(stored)
        if dropped:
            m.ingest_records.labels(source, "dropped").inc(dropped)
        if rejected:
            m.ingest_records.labels(source, "rejected").inc(rejected)
        if nbytes:
            m.ingest_bytes.labels(source).inc(nbytes)
