"""Records → batches: by lines, by bytes, and by time, gzip'd once when the batch closes.

One request per line would be slow and one per minute would make the agent look stuck; a
batch closes at ``max_lines``, at ``max_bytes`` of NDJSON, or ``interval`` seconds after its
first record, whichever comes first. A batch carries the offset marks of its records, which
become the saved offsets once the server acknowledges it. Pure: the caller passes ``now``.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field

from tracelake.ship.tailer import Mark


@dataclass(slots=True)
class Batch:
    """A gzip'd NDJSON body and the marks to save once the server stored it.

    ``seq`` is given by the outbox; it orders the spool.
    """

    payload: bytes
    lines: int
    raw_bytes: int
    marks: dict[str, Mark] = field(default_factory=dict)
    seq: int = 0


def compress(body: bytes) -> bytes:
    """The gzip of an NDJSON body (fast level: the network is rarely the bottleneck here)."""
    return gzip.compress(body, compresslevel=1, mtime=0)


class Batcher:
    """Collects NDJSON lines into batches."""

    def __init__(
        self, *, max_lines: int = 2000, max_bytes: int = 1024 * 1024, interval: float = 1.0
    ) -> None:
        self.max_lines = max_lines
        self.max_bytes = max_bytes
        self.interval = interval
        self._lines: list[bytes] = []
        self._size = 0
        self._marks: dict[str, Mark] = {}
        self._opened = 0.0

    def __len__(self) -> int:
        return len(self._lines)

    def add(self, line: bytes | None, mark: Mark | None, now: float) -> list[Batch]:
        """Add one NDJSON line; returns the batches that closed (before and/or with it).

        ``line`` None (a blank record) only moves the mark on, with the next batch.
        """
        if line is None:
            if mark is not None:
                self._marks[mark.key] = mark
            return []
        out: list[Batch] = []
        if self._lines and self._size + len(line) + 1 > self.max_bytes:
            out += self.flush()
        if not self._lines:
            self._opened = now
        self._lines.append(line)
        self._size += len(line) + 1
        if mark is not None:
            self._marks[mark.key] = mark  # records of a file come in order: the last wins
        if len(self._lines) >= self.max_lines or self._size >= self.max_bytes:
            out += self.flush()
        return out

    def poll(self, now: float) -> list[Batch]:
        """The open batch, if its first record is ``interval`` seconds old."""
        if self._lines and now - self._opened >= self.interval:
            return self.flush()
        return []

    def flush(self) -> list[Batch]:
        """The open batch, whatever its age (none when empty)."""
        if not self._lines:
            return []
        body = b"\n".join(self._lines) + b"\n"
        batch = Batch(compress(body), len(self._lines), len(body), self._marks)
        self._lines, self._size, self._marks = [], 0, {}
        return [batch]
