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

    async def append(self, table: str, ipc: bytes) -> Sequence[int]:
        """Return once the batch is durable (acknowledged), not before.

        Rows that name a record the table already holds (a client's retry) are not
        stored again: the answer lists them by row number, so the protocol's reply can
        say so. Raises ``Overloaded`` (503 + ``Retry-After``) rather than queueing
        without bound.
        """
        ...


class LogSink(Protocol):
    """Where a listener that decodes in-process hands log objects (``Ingest.submit_objects``).

    Awaiting it returns once the good records are durable (WAL fsync'd): only then may
    a listener acknowledge to its client. Raises ``Overloaded`` when the store is full.
    """

    async def __call__(
        self, objects: Sequence[LogObject], ids: Sequence[str | None] | None = None
    ) -> IngestResult:
        """``ids``: the record id of each object where its protocol names one (a forward
        chunk's records), so a retried record is stored once."""
        ...
