"""The seams of ingest: ``BatchSink`` (where batches go) and ``LogSink`` (where
listeners that decode themselves hand log objects).

Every table's rows leave ingest as Arrow IPC through ``BatchSink.append``. In
single-process mode the sink is the store (WAL fsync, then memtable); in cluster mode
it is a publisher to the cluster's transport, whose writers feed the same store. Ingest
never needs to know which.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from tracelake.model import IngestResult, LogObject


class BatchSink(Protocol):
    """Where decoded batches go."""

    async def append(self, table: str, ipc: bytes) -> None:
        """Return once the batch is durable (acknowledged), not before.

        Raises ``Overloaded`` (503 + ``Retry-After``) rather than queueing without bound.
        """
        ...


class LogSink(Protocol):
    """Where a listener that decodes in-process hands log objects (``Ingest.submit_objects``).

    Awaiting it returns once the good records are durable (WAL fsync'd): only then may
    a listener acknowledge to its client. Raises ``Overloaded`` when the store is full.
    """

    async def __call__(self, objects: Sequence[LogObject]) -> IngestResult: ...
