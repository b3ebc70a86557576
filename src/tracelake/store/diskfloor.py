"""The disk floor: stop taking data before the disk is full, start again by itself.

A full disk in the middle of a WAL write or a segment flush is survivable (the WAL
cuts a failed group off, a failed flush keeps its batches in the WAL) but it leaves the
server refusing everything at the worst moment and without room to flush what it holds.
So ingest stops earlier: while the data directory's filesystem has less than
``disk_free_floor_bytes`` free, every append raises ``Overloaded`` — HTTP answers 503
with ``Retry-After``, TCP listeners stop reading (their clients block on the TCP window),
UDP drops and counts — and background compaction, which needs room to write its merged
copy, waits. Nothing has to be reset: the next append after space comes back goes
through.

``DiskFloor`` is the decision alone; how free space is measured is injected, so its
tests need no full disk.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from tracelake.errors import Overloaded

#: How long one measurement of free space is trusted. ``statvfs`` is cheap, but appends
#: come thousands of times a second and free space does not change that fast.
RECHECK_S = 0.25
#: What a client refused for lack of disk is told to wait before it tries again.
RETRY_AFTER_S = 2


def free_space(path: Path) -> Callable[[], int]:
    """Bytes an unprivileged writer may still use on the filesystem holding ``path``."""

    def measure() -> int:
        st = os.statvfs(path)
        return st.f_bavail * st.f_frsize

    return measure


class DiskFloor:
    """Whether the data directory has room to take more data."""

    def __init__(
        self,
        floor_bytes: int,
        free: Callable[[], int],
        *,
        clock: Callable[[], float] = time.monotonic,
        recheck_s: float = RECHECK_S,
    ) -> None:
        self.floor_bytes = floor_bytes
        self._free = free
        self._clock = clock
        self._recheck_s = recheck_s
        self._measured_at = float("-inf")
        self._last_free = 0
        #: Appends refused because of the floor (or a full disk) since start.
        self.refused = 0

    def free_bytes(self) -> int:
        """Free bytes, measured at most every ``recheck_s`` seconds."""
        now = self._clock()
        if now - self._measured_at >= self._recheck_s:
            self._last_free = self._free()
            self._measured_at = now
        return self._last_free

    def below(self) -> bool:
        """True while free space is under the floor (never with a floor of 0)."""
        return self.floor_bytes > 0 and self.free_bytes() < self.floor_bytes

    def check(self) -> None:
        """Raise ``Overloaded`` while below the floor; return quietly otherwise."""
        if self.below():
            self.refused += 1
            raise Overloaded(
                f"disk almost full: {self._last_free} bytes free, under disk_free_floor_bytes "
                f"({self.floor_bytes}); ingest resumes by itself once space is freed",
                retry_after=RETRY_AFTER_S,
            )

    def disk_full(self) -> Overloaded:
        """The error for a write that failed with ENOSPC; the next check measures anew."""
        self.refused += 1
        self._measured_at = float("-inf")
        return Overloaded(
            "disk full: the write was refused and nothing of it kept; free space on the "
            "data directory's disk (ingest resumes by itself)",
            retry_after=RETRY_AFTER_S,
        )

    def collect(self) -> Iterator[Metric]:
        """Free space, the floor and the refusals, for /metrics (through ``Store.collect``)."""
        yield GaugeMetricFamily(
            "tracelake_disk_free_bytes",
            "Free bytes on the data directory's filesystem",
            value=self.free_bytes(),
        )
        yield GaugeMetricFamily(
            "tracelake_disk_floor_bytes",
            "Free bytes below which ingest is refused (disk_free_floor_bytes)",
            value=self.floor_bytes,
        )
        yield CounterMetricFamily(
            "tracelake_ingest_disk_refused",
            "Appends refused for lack of disk space since start",
            value=self.refused,
        )
