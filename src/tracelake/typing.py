"""Protocols for the seams between stages, so each stage is replaceable and testable."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from tracelake.model import IngestResult, LogObject


class LogSink(Protocol):
    """Where listeners hand decoded log objects.

    Awaiting it returns once the good records are durable (WAL fsync'd): only then may
    a listener acknowledge to its client. Raises ``Overloaded`` when the store is full.
    """

    async def __call__(self, objects: Sequence[LogObject]) -> IngestResult: ...


class Clock(Protocol):
    """An injectable clock, so state machines are tested without sleeping."""

    def __call__(self) -> float: ...
