"""Lines → records: a line that does not start a record continues the previous one.

Python tracebacks and Java stack traces are many lines but one event; shipping them line by
line scatters them across records that no search puts back together. The joiner is pure
(no clock, no IO): the caller passes ``now`` so the flush timeout is testable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Line:
    """One line without its line ending; ``end`` is the file offset just after it (-1: none)."""

    data: bytes
    end: int = -1


@dataclass(frozen=True, slots=True)
class Record:
    """One or more joined lines; ``end`` is the offset after its last line."""

    data: bytes
    end: int
    lines: int


class Joiner:
    """Joins continuation lines onto the record before them.

    Without a pattern every line is a record. With one, a line the pattern finds (``re.search``,
    so anchor it with ``^``) starts a record and any other line is appended to the pending one.
    A record is emitted when the next one starts, when it reaches ``max_lines`` or
    ``max_bytes`` (the rest continues as a new record: nothing is dropped), or when no line has
    come for ``timeout`` seconds.
    """

    def __init__(
        self,
        start: re.Pattern[bytes] | None = None,
        *,
        max_lines: int = 500,
        max_bytes: int = 512 * 1024,
        timeout: float = 2.0,
    ) -> None:
        self.start = start
        self.max_lines = max_lines
        self.max_bytes = max_bytes
        self.timeout = timeout
        self._lines: list[bytes] = []
        self._size = 0
        self._end = -1
        self._last = 0.0

    @property
    def pending(self) -> bool:
        """Whether a record is waiting for more lines."""
        return bool(self._lines)

    def feed(self, line: Line, now: float) -> list[Record]:
        """Add one line; returns the records it completed (zero, one or two)."""
        if self.start is None:
            return [Record(line.data, line.end, 1)]
        out: list[Record] = []
        starts = self.start.search(line.data) is not None
        if self._lines and (
            starts
            or len(self._lines) >= self.max_lines
            or self._size + 1 + len(line.data) > self.max_bytes
        ):
            out.extend(self.flush())
        self._lines.append(line.data)
        self._size += len(line.data) + (1 if len(self._lines) > 1 else 0)
        self._end = line.end
        self._last = now
        return out

    def poll(self, now: float) -> list[Record]:
        """The pending record, if no line has come for ``timeout`` seconds."""
        if self._lines and now - self._last >= self.timeout:
            return self.flush()
        return []

    def flush(self) -> list[Record]:
        """The pending record, whatever its age."""
        if not self._lines:
            return []
        record = Record(b"\n".join(self._lines), self._end, len(self._lines))
        self._lines, self._size = [], 0
        return [record]
