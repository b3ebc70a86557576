"""Rolling bucketed counters and rolling latency distributions, fed without a global lock.

Why it looks like this: Hystrix judges a dependency on the last 10 seconds (10 buckets of
1 s), not on consecutive failures, and reports latency percentiles over the last 60 s.
Doing that per call under one lock would serialise every thread through a breaker
(pybreaker's known flaw). So the hot path only appends the latency of a success to a
``collections.deque`` -- one atomic C operation, safe from any number
of threads with or without the GIL -- and whoever next needs the numbers (a failure, the
periodic health check, the stream, a Prometheus scrape) *folds* that log into the buckets
under a short lock, in bulk, with C-level loops (``zip``, ``map``, ``Counter``). Rare
outcomes (failures, rejections, fallbacks) are written straight into the buckets under
that same lock. No lock is ever held while a protected call runs.

Latencies go into a log-linear histogram (4 % wide bins from 1 µs to a day), the same
idea as HdrHistogram: constant memory per bucket whatever the traffic, percentiles within
2 % of the true value.
"""

from __future__ import annotations

import itertools
import math
from bisect import bisect_right
from collections import Counter, deque
from dataclasses import dataclass
from functools import partial

from tracelake.sdk.breaker.events import EXECUTED, HEALTH_ERRORS, HEALTH_TOTAL, N_EVENTS, Event

#: The percentiles Hystrix reports, as the stream's keys.
PERCENTILES: tuple[tuple[str, float], ...] = (
    ("0", 0.0),
    ("25", 25.0),
    ("50", 50.0),
    ("75", 75.0),
    ("90", 90.0),
    ("95", 95.0),
    ("99", 99.0),
    ("99.5", 99.5),
    ("100", 100.0),
)

_GROWTH = 1.04
_BOUNDS: list[float] = []
_b = 1e-6
while _b < 86_400.0:
    _BOUNDS.append(_b)
    _b *= _GROWTH
del _b
# Value reported for each bin: bin i holds [BOUNDS[i-1], BOUNDS[i]); its geometric middle.
_REPRESENTATIVE: list[float] = (
    [0.0] + [math.sqrt(lo * hi) for lo, hi in itertools.pairwise(_BOUNDS)] + [_BOUNDS[-1]]
)
_bin = partial(bisect_right, _BOUNDS)

_IDX_TOTAL, _IDX_ERRORS, _IDX_EXECUTED, _IDX_SLOW = 0, 1, 2, 3
_HEALTH_FLAGS: list[tuple[int, int, int]] = [
    (int(e in HEALTH_TOTAL), int(e in HEALTH_ERRORS), int(e in EXECUTED)) for e in Event
]


@dataclass(frozen=True, slots=True)
class HealthCounts:
    """What the circuit looks at (Hystrix ``HealthCounts``), plus the slow-call share.

    Attributes:
        total: SUCCESS + FAILURE + TIMEOUT + THREAD_POOL_REJECTED + SEMAPHORE_REJECTED.
        errors: ``total`` less SUCCESS.
        error_percentage: ``int(errors / total * 100)``, 0 when ``total`` is 0 (Hystrix
            truncates a double, and so do we, to the same integer).
        executed: Calls that ran the function (SUCCESS + FAILURE + TIMEOUT).
        slow: Executed calls slower than ``Policy.slow_call_duration``.
        slow_percentage: ``int(slow / executed * 100)``, 0 when nothing executed.
    """

    total: int
    errors: int
    error_percentage: int
    executed: int = 0
    slow: int = 0
    slow_percentage: int = 0

    @classmethod
    def of(cls, total: int, errors: int, executed: int = 0, slow: int = 0) -> HealthCounts:
        """Build from raw counts, computing the percentages as Hystrix does."""
        err_pct = int(errors / total * 100) if total else 0
        slow_pct = int(slow / executed * 100) if executed else 0
        return cls(total, errors, err_pct, executed, slow, slow_pct)


class _Bucket:
    __slots__ = ("counts", "health", "max_concurrency", "number")

    def __init__(self, n_events: int) -> None:
        self.number = -(2**62)
        self.counts = [0] * n_events
        self.health = [0, 0, 0, 0]
        self.max_concurrency = 0

    def reset(self, number: int) -> None:
        self.number = number
        counts = self.counts
        for i in range(len(counts)):
            counts[i] = 0
        self.health = [0, 0, 0, 0]
        self.max_concurrency = 0


class RollingCounts:
    """``n`` buckets of per-event counts over ``window`` seconds, plus cumulative totals.

    Buckets are addressed by absolute number ``floor(t / bucket_len)`` so no timer is
    needed: a bucket is recycled when a later time lands on its slot. Sums include the
    current, still-filling bucket. Not thread-safe: the owner serialises writes.
    """

    __slots__ = ("bucket_len", "n", "n_events", "slots", "totals")

    def __init__(self, window: float, buckets: int, n_events: int = N_EVENTS) -> None:
        self.bucket_len = window / buckets
        self.n = buckets
        self.n_events = n_events
        self.slots = [_Bucket(n_events) for _ in range(buckets)]
        self.totals = [0] * n_events

    def number(self, t: float) -> int:
        """Absolute bucket number of time ``t``."""
        return int(t // self.bucket_len)

    def bucket(self, t: float) -> _Bucket | None:
        """The live bucket for time ``t``, recycled if stale; None if ``t`` is too old."""
        number = int(t // self.bucket_len)
        b = self.slots[number % self.n]
        if b.number != number:
            if b.number > number:
                return None
            b.reset(number)
        return b

    def add(self, t: float, event: int, count: int = 1, concurrency: int = 0) -> None:
        """Count ``count`` occurrences of ``event`` at time ``t``."""
        self.totals[event] += count
        b = self.bucket(t)
        if b is None:
            return
        b.counts[event] += count
        if concurrency > b.max_concurrency:
            b.max_concurrency = concurrency
        if event < N_EVENTS and self.n_events == N_EVENTS:
            in_total, is_error, executed = _HEALTH_FLAGS[event]
            h = b.health
            h[_IDX_TOTAL] += in_total * count
            h[_IDX_ERRORS] += is_error * count
            h[_IDX_EXECUTED] += executed * count

    def add_slow(self, t: float, count: int = 1) -> None:
        """Count executed calls that were slow (feeds the slow-call rate only)."""
        self.totals[Event.SLOW_CALL] += count
        b = self.bucket(t)
        if b is not None:
            b.counts[Event.SLOW_CALL] += count
            b.health[_IDX_SLOW] += count

    def _live(self, now: float) -> list[_Bucket]:
        current = int(now // self.bucket_len)
        oldest = current - self.n
        return [b for b in self.slots if oldest < b.number <= current]

    def sums(self, now: float) -> list[int]:
        """Per-event sums over the window ending at ``now``."""
        out = [0] * self.n_events
        for b in self._live(now):
            for i, c in enumerate(b.counts):
                out[i] += c
        return out

    def max_concurrency(self, now: float) -> int:
        """Highest concurrency seen in the window."""
        return max((b.max_concurrency for b in self._live(now)), default=0)

    def health(self, now: float) -> HealthCounts:
        """Health counts over the window ending at ``now``."""
        total = errors = executed = slow = 0
        for b in self._live(now):
            h = b.health
            total += h[_IDX_TOTAL]
            errors += h[_IDX_ERRORS]
            executed += h[_IDX_EXECUTED]
            slow += h[_IDX_SLOW]
        return HealthCounts.of(total, errors, executed, slow)

    def reset_health(self) -> None:
        """Forget health counts (Hystrix ``resetStream`` on close); event counts stay."""
        for b in self.slots:
            b.health = [0, 0, 0, 0]


@dataclass(frozen=True, slots=True)
class LatencySnapshot:
    """Latency over the percentile window, in seconds.

    Attributes:
        count: Samples in the window.
        mean: Mean latency (0.0 when empty).
        percentiles: Stream key (``"0"`` .. ``"100"``) to latency; all 0.0 when empty.
    """

    count: int
    mean: float
    percentiles: dict[str, float]


class _LatBucket:
    __slots__ = ("count", "hist", "number", "total")

    def __init__(self) -> None:
        self.number = -(2**62)
        self.hist: Counter[int] = Counter()
        self.count = 0
        self.total = 0.0


class LatencyWindow:
    """Rolling latency histogram: ``buckets`` histograms over ``window`` seconds."""

    __slots__ = ("bucket_len", "count", "n", "slots", "sum")

    def __init__(self, window: float, buckets: int) -> None:
        self.bucket_len = window / buckets
        self.n = buckets
        self.slots = [_LatBucket() for _ in range(buckets)]
        self.count = 0  # cumulative, for Prometheus summaries
        self.sum = 0.0

    def _bucket(self, t: float) -> _LatBucket | None:
        number = int(t // self.bucket_len)
        b = self.slots[number % self.n]
        if b.number != number:
            if b.number > number:
                return None
            b.number = number
            b.hist = Counter()
            b.count = 0
            b.total = 0.0
        return b

    def add(self, t: float, latency: float) -> None:
        """Record one latency observed at time ``t`` (the slow path: one at a time)."""
        self.count += 1
        self.sum += latency
        b = self._bucket(t)
        if b is not None:
            b.hist[_bin(latency)] += 1
            b.count += 1
            b.total += latency

    def add_binned(self, t: float, hist: Counter[int], count: int, total: float) -> None:
        """Record ``count`` latencies summing to ``total``, binned as ``hist`` (see ``binned``).

        ``hist`` may be a weighted sample: its counts then add up to about ``count``.
        """
        self.count += count
        self.sum += total
        b = self._bucket(t)
        if b is not None:
            b.hist.update(hist)
            b.count += count
            b.total += total

    def snapshot(self, now: float) -> LatencySnapshot:
        """Percentiles and mean over the window ending at ``now``."""
        current = int(now // self.bucket_len)
        oldest = current - self.n
        hist: Counter[int] = Counter()
        count = 0
        total = 0.0
        for b in self.slots:
            if oldest < b.number <= current and b.count:
                hist.update(b.hist)
                count += b.count
                total += b.total
        if not count:
            return LatencySnapshot(0, 0.0, {key: 0.0 for key, _ in PERCENTILES})
        bins = sorted(hist.items())
        weight = sum(hist.values())
        out: dict[str, float] = {}
        for key, p in PERCENTILES:
            rank = max(1, math.ceil(p / 100.0 * weight))
            seen = 0
            value = _REPRESENTATIVE[bins[-1][0]]
            for idx, c in bins:
                seen += c
                if seen >= rank:
                    value = _REPRESENTATIVE[idx]
                    break
            out[key] = value
        return LatencySnapshot(count, total / count, out)


def binned(latencies: list[float]) -> Counter[int]:
    """Histogram bins of ``latencies``; above ``SAMPLE`` values, of an even sample of them,
    each sampled value weighted by the stride (binning is the costly step of a fold)."""
    n = len(latencies)
    if n <= SAMPLE:
        return Counter(map(_bin, latencies))
    step = n // SAMPLE
    hist = Counter(map(_bin, latencies[::step]))
    return Counter({k: v * step for k, v in hist.items()})


#: Most latencies binned one by one per fold; beyond, an even sample is binned.
SAMPLE = 1024


class CommandMetrics:
    """All rolling numbers of one breaker: event counts, health, two latency windows.

    ``pending`` is the lock-free success log (see the module docstring): one float, the
    latency, per successful call; a fold swaps in a fresh deque (the owner rebinds its
    append) and re-reads the previous one next time for late appends. Floats are not
    tracked by the garbage collector, so the log costs no GC time however long it gets.
    Entries are stamped with the time of the previous fold (``folded_at``); the owner
    folds at least every 50 ms while calls flow, so that stamp is at most that late. The
    owner passes the highest concurrency its fast path saw since the last fold. Every
    method must be called with the owner's lock held.
    """

    __slots__ = (
        "counts",
        "execute",
        "folded_at",
        "pending",
        "percentiles_on",
        "retired",
        "retired_taken",
        "total",
    )

    def __init__(
        self,
        rolling_window: float,
        rolling_buckets: int,
        percentile_window: float,
        percentile_buckets: int,
        percentiles_on: bool = True,
    ) -> None:
        self.pending: deque[float] = deque()
        self.retired: deque[float] = deque()
        self.retired_taken = 0
        self.folded_at = -math.inf
        self.counts = RollingCounts(rolling_window, rolling_buckets)
        self.execute = LatencyWindow(percentile_window, percentile_buckets)
        self.total = LatencyWindow(percentile_window, percentile_buckets)
        self.percentiles_on = percentiles_on

    def fold(self, now: float, peak: int = 0) -> int:
        """Move the pending success log into the buckets; returns how many were moved.

        Args:
            now: Current time; the next fold stamps its entries with it.
            peak: Highest concurrency of those calls.
        """
        t = self.folded_at if self.folded_at != -math.inf else now
        self.folded_at = now
        old = self.pending
        if not old and len(self.retired) == self.retired_taken:
            return 0
        self.pending = deque()
        lats = list(old)
        late = len(self.retired) - self.retired_taken
        if late > 0:  # appended through the old bound method after the last swap
            lats.extend(itertools.islice(self.retired, self.retired_taken, None))
        self.retired = old
        self.retired_taken = len(lats) - max(late, 0)
        n = len(lats)
        if not n:
            return 0
        self.counts.add(t, Event.SUCCESS, n, peak)
        if self.percentiles_on:
            hist = binned(lats)
            total = sum(lats)
            self.execute.add_binned(t, hist, n, total)
            self.total.add_binned(t, hist, n, total)
        return n

    def record(
        self,
        t: float,
        events: tuple[Event, ...] | list[Event],
        execution_latency: float | None,
        total_latency: float | None,
        concurrency: int = 0,
        slow: bool = False,
    ) -> None:
        """Count one call's events at time ``t`` (lock held)."""
        counts = self.counts
        for e in events:
            counts.add(t, e, 1, concurrency)
        if slow:
            counts.add_slow(t)
        if self.percentiles_on:
            if execution_latency is not None:
                self.execute.add(t, execution_latency)
            if total_latency is not None:
                self.total.add(t, total_latency)

    def health(self, now: float) -> HealthCounts:
        """Health counts over the rolling window (fold first for fresh numbers)."""
        return self.counts.health(now)
