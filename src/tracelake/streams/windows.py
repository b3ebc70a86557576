"""Window assignment, sans-IO: which windows exist, which hold a time, which are due.

Windows are aligned to the Unix epoch, so every server (and every restart) cuts the
same windows: window *k* of a spec covers ``[k * slide, k * slide + size)`` in
microseconds. A tumbling window is the case ``slide == size``; with ``slide < size``
windows overlap (sliding, or "hopping") and a record belongs to ``size / slide`` of
them. Windows are ordered by their end; a query's progress is the end of the last
window it committed, and the next window is the first that ends after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utc(t_us: int) -> datetime:
    """Microseconds since the epoch as an aware UTC datetime, exact (no float on the way)."""
    return _EPOCH + timedelta(microseconds=t_us)


@dataclass(frozen=True, slots=True, order=True)
class Window:
    """``[start_us, end_us)`` in microseconds since the epoch, UTC."""

    start_us: int
    end_us: int


@dataclass(frozen=True, slots=True)
class WindowSpec:
    """Windows of ``size_us`` starting every ``slide_us`` (tumbling when equal)."""

    size_us: int
    slide_us: int

    def __post_init__(self) -> None:
        if self.size_us <= 0 or self.slide_us <= 0:
            raise ValueError("window size and slide must be positive")
        if self.slide_us > self.size_us:
            raise ValueError("a window's slide cannot be longer than the window")

    @property
    def tumbling(self) -> bool:
        return self.slide_us == self.size_us

    def ending_at_or_before(self, t_us: int) -> Window:
        """The last window whose end is at or before ``t_us``."""
        k = (t_us - self.size_us) // self.slide_us
        return self._window(k)

    def after(self, end_us: int) -> Window:
        """The first window ending strictly after ``end_us``."""
        k = (end_us - self.size_us) // self.slide_us + 1
        return self._window(k)

    def containing(self, t_us: int) -> list[Window]:
        """Every window holding the instant ``t_us``, oldest first."""
        last = t_us // self.slide_us  # the newest window starting at or before t
        first = (t_us - self.size_us) // self.slide_us + 1
        return [self._window(k) for k in range(first, last + 1)]

    def due(self, committed_end_us: int, now_us: int, lateness_us: int) -> Iterator[Window]:
        """Windows after ``committed_end_us`` whose end + lateness has passed, in order."""
        window = self.after(committed_end_us)
        while window.end_us + lateness_us <= now_us:
            yield window
            window = self._window(window.start_us // self.slide_us + 1)

    def next_due_us(self, committed_end_us: int, lateness_us: int) -> int:
        """When the window after ``committed_end_us`` becomes due."""
        return self.after(committed_end_us).end_us + lateness_us

    def _window(self, k: int) -> Window:
        start = k * self.slide_us
        return Window(start, start + self.size_us)
