"""``Ingest``: the one write path every protocol of every table goes through.

``submit(job, body, headers, source)`` runs a table's job (``ingest/tables/``) in a
decode worker, hands the batch to the ``BatchSink`` and counts what became of the
records on the server's metrics; the route then encodes its protocol's answer from the
returned ``Decoded``. Listeners that must retry a refused append without decoding again
(TCP JSON lines and syslog) use the two halves, ``decode`` and ``commit``.

Listeners that decode their frames themselves (UDP datagrams, Fluentd forward: the
framing and acks need the connection's state) hand log objects to ``submit_objects``;
the pipeline and the field mapping still run in a worker.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from tracelake.ingest.jobs import Decoded, Headers, Job, JobEnv, Limits
from tracelake.ingest.sink import BatchSink
from tracelake.ingest.tables import logs
from tracelake.ingest.workers import Workers
from tracelake.model import IngestResult, LogObject, RecordError
from tracelake.pipeline.config import Pipeline
from tracelake.pipeline.normalise import declared_numberings
from tracelake.settings import Settings
from tracelake.telemetry import ServerMetrics

T = TypeVar("T")


class Ingest:
    """Decode in a worker → sink → count, for every table and protocol."""

    def __init__(self, sink: BatchSink, settings: Settings, metrics: ServerMetrics) -> None:
        self.sink = sink
        self.metrics = metrics
        self.pipeline = Pipeline(settings.pipeline)  # ConfigError here stops the start
        self.limits = Limits.of(settings)
        self.numberings = declared_numberings(settings.level_numbering)
        self.workers = Workers(settings.ingest_workers)

    def env(self, source: str = "") -> JobEnv:
        """What a job of ``source`` is given besides its body, stamped with the time of
        submission."""
        numbering = self.numberings.get(source, "auto")
        return JobEnv(self.limits, self.pipeline, int(time.time() * 1e6), numbering)

    async def submit(self, job: Job, body: bytes, headers: Headers, source: str) -> Decoded:
        """Decode ``body`` in a worker and make its rows durable; counted under ``source``.

        Raises what the job raises (``DecodeError``, ``PayloadTooLarge``: nothing stored)
        and ``Overloaded`` when the sink refuses the batch.
        """
        decoded = await self.decode(job, body, headers, self.env(source))
        await self.commit(decoded, source, len(body))
        return decoded

    async def decode(self, job: Callable[..., T], *args: Any) -> T:
        """The first half of ``submit``: run a job in a worker, store nothing."""
        return await self.workers.run(job, *args)

    async def commit(self, decoded: Decoded, source: str, nbytes: int = 0) -> None:
        """The second half: make ``decoded`` durable and count it; a refused append
        (``Overloaded``) may be retried with the same ``decoded``."""
        if decoded.ipc is not None and decoded.result.stored:
            rows = await self.sink.append(decoded.table, decoded.ipc)
            if rows:
                lines = decoded.lines
                decoded.duplicates = [lines[r] if lines else r + 1 for r in rows]
                decoded.result.duplicates = len(rows)
        self._count(source, decoded.result, nbytes)

    async def submit_objects(
        self,
        objects: Sequence[LogObject],
        source: str,
        ids: Sequence[str | None] | None = None,
    ) -> IngestResult:
        """Log objects a listener decoded itself → pipeline (in a worker) → ``logs``;
        ``ids`` name the records where the protocol does (retries are stored once)."""
        decoded = await self.decode(
            logs.from_objects,
            list(objects),
            self.env(source),
            (),
            None,
            None if ids is None else list(ids),
        )
        await self.commit(decoded, source)
        return decoded.result

    def reject(self, source: str, errors: Sequence[RecordError]) -> None:
        """Count records a listener refused before they reached a job."""
        self._count(source, IngestResult(rejected=len(errors)))

    def _count(self, source: str, result: IngestResult, nbytes: int = 0) -> None:
        """Outcomes partition the records: ``accepted`` (stored), ``dropped``, ``rejected``."""
        m = self.metrics
        if result.stored:
            m.ingest_records.labels(source, "accepted").inc(result.stored)
        if result.dropped:
            m.ingest_records.labels(source, "dropped").inc(result.dropped)
        if result.duplicates:
            m.ingest_records.labels(source, "duplicate").inc(result.duplicates)
        if result.rejected:
            m.ingest_records.labels(source, "rejected").inc(result.rejected)
        if nbytes:
            m.ingest_bytes.labels(source).inc(nbytes)

    def warm_up(self) -> None:
        self.workers.warm_up()

    def close(self) -> None:
        self.workers.close()
