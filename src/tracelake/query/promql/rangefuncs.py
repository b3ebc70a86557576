"""Functions of a range vector: rate and friends, and the ``*_over_time`` family.

Each reads every series through a window of ``range`` ending at each step, (end -
range, end] as in Prometheus 3 (left-open, right-closed). All series are laid end to
end in one flat array; the windows of every series at every step are indices into it
(``lo``: first sample inside, ``hi``: one past the last, both series x steps), so each
function is a handful of numpy operations for the whole query.

rate/increase/delta follow Prometheus's ``extrapolatedRate``: counter resets add the
value before the reset, and the result is extrapolated towards the window's edges when
the first/last sample is within 1.1 average sample intervals of them (else by half an
interval), never below a counter's zero point.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tracelake.query.promql.quantiles import quantile
from tracelake.query.promql.values import Floats, Ints, Mask, Matrix, Series, drop_name


@dataclass(slots=True)
class Windows:
    """Every series of a range vector, flat, and its window at every step."""

    times: Ints  # all samples, series after series, each sorted by time
    values: Floats
    lo: Ints  # (series, steps): first sample in the window
    hi: Ints  # (series, steps): one past the last
    ends: Ints  # (steps,): the windows' right edges
    range_ms: int


def windows(matrix: Matrix) -> Windows:
    sizes = np.array([len(s.times) for s in matrix.series], dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
    times = np.concatenate([s.times for s in matrix.series]).astype(np.int64, copy=False)
    values = np.concatenate([s.values for s in matrix.series]).astype(np.float64, copy=False)
    ends = matrix.ends
    lo = np.empty((len(sizes), len(ends)), dtype=np.int64)
    hi = np.empty((len(sizes), len(ends)), dtype=np.int64)
    left = ends - matrix.range_ms
    for i, s in enumerate(matrix.series):  # small sorted arrays: cache-friendly searches
        lo[i] = np.searchsorted(s.times, left, side="right") + starts[i]
        hi[i] = np.searchsorted(s.times, ends, side="right") + starts[i]
    return Windows(times, values, lo, hi, ends, matrix.range_ms)


RangeFunction = Callable[[Windows], tuple[Floats, Mask]]


def reduce_windows(
    ufunc: np.ufunc, values: Floats, lo: Ints, hi: Ints, empty: float = 0.0
) -> Floats:
    """``ufunc`` over ``values[lo:hi]`` of every window; ``empty`` where lo >= hi."""
    padded = np.append(values, empty)  # so that hi == len(values) is a valid index
    edges = np.stack((lo, hi), axis=-1).ravel()
    reduced = ufunc.reduceat(padded, edges)[::2].reshape(lo.shape)
    return np.where(hi > lo, reduced, empty)


def after_first(w: Windows) -> Ints:
    """Where each window's second sample is (or its end): resets and changes compare a
    sample with the one before it, which only the samples after the first have inside
    the window — and so no window ever compares with the series before its own."""
    return np.minimum(w.lo + 1, w.hi)


def _extrapolated(w: Windows, *, counter: bool, rate: bool) -> tuple[Floats, Mask]:
    n = w.hi - w.lo
    ok = n >= 2
    first = np.where(ok, w.lo, 0)
    last = np.where(ok, w.hi - 1, 0)
    v, t = w.values, w.times
    result = v[last] - v[first]
    if counter:
        # A drop is a reset: add the value before it.
        correction = np.zeros(len(v))
        correction[1:] = np.where(v[1:] < v[:-1], v[:-1], 0.0)
        result = result + reduce_windows(np.add, correction, after_first(w), w.hi)
    first_t, last_t = t[first], t[last]
    with np.errstate(divide="ignore", invalid="ignore"):
        to_start = (first_t - (w.ends - w.range_ms)) / 1000
        to_end = (w.ends - last_t) / 1000
        sampled = (last_t - first_t) / 1000
        average = sampled / np.maximum(n - 1, 1)
        threshold = average * 1.1
        to_start = np.where(to_start >= threshold, average / 2, to_start)
        if counter:
            first_v = v[first]
            to_zero = np.where(
                (result > 0) & (first_v >= 0), sampled * (first_v / result), to_start
            )
            to_start = np.minimum(to_start, to_zero)
        to_end = np.where(to_end >= threshold, average / 2, to_end)
        factor = (sampled + to_start + to_end) / sampled
        if rate:
            factor = factor / (w.range_ms / 1000)
        out = result * factor
    return out, ok


def rate(w: Windows) -> tuple[Floats, Mask]:
    return _extrapolated(w, counter=True, rate=True)


def increase(w: Windows) -> tuple[Floats, Mask]:
    return _extrapolated(w, counter=True, rate=False)


def delta(w: Windows) -> tuple[Floats, Mask]:
    return _extrapolated(w, counter=False, rate=False)


def _last_two(w: Windows, *, rate: bool) -> tuple[Floats, Mask]:
    ok = w.hi - w.lo >= 2
    last = np.where(ok, w.hi - 1, 0)
    prev = np.where(ok, w.hi - 2, 0)
    v, t = w.values, w.times
    if rate:
        diff = np.where(v[last] < v[prev], v[last], v[last] - v[prev])  # a reset: from 0
        interval = (t[last] - t[prev]) / 1000
        ok = ok & (interval > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            return diff / interval, ok
    return v[last] - v[prev], ok


def irate(w: Windows) -> tuple[Floats, Mask]:
    return _last_two(w, rate=True)


def idelta(w: Windows) -> tuple[Floats, Mask]:
    return _last_two(w, rate=False)


def _between_samples(indicator: Floats, w: Windows) -> tuple[Floats, Mask]:
    """How many samples of each window after its first have ``indicator``."""
    return reduce_windows(np.add, indicator, after_first(w), w.hi), w.hi > w.lo


def changes(w: Windows) -> tuple[Floats, Mask]:
    v = w.values
    changed = np.zeros(len(v))
    both_nan = np.isnan(v[1:]) & np.isnan(v[:-1])
    changed[1:] = (v[1:] != v[:-1]) & ~both_nan
    return _between_samples(changed, w)


def resets(w: Windows) -> tuple[Floats, Mask]:
    v = w.values
    dropped = np.zeros(len(v))
    dropped[1:] = v[1:] < v[:-1]
    return _between_samples(dropped, w)


def _per_window(w: Windows, fn: Callable[[Floats], float]) -> tuple[Floats, Mask]:
    ok = w.hi > w.lo
    out = np.zeros(w.lo.shape)
    for i, j in zip(*np.nonzero(ok), strict=True):
        out[i, j] = fn(w.values[w.lo[i, j] : w.hi[i, j]])
    return out, ok


def sum_over_time(w: Windows) -> tuple[Floats, Mask]:
    return reduce_windows(np.add, w.values, w.lo, w.hi), w.hi > w.lo


def count_over_time(w: Windows) -> tuple[Floats, Mask]:
    return (w.hi - w.lo).astype(np.float64), w.hi > w.lo


def avg_over_time(w: Windows) -> tuple[Floats, Mask]:
    total, ok = sum_over_time(w)
    with np.errstate(divide="ignore", invalid="ignore"):
        return total / np.maximum(w.hi - w.lo, 1), ok


def min_over_time(w: Windows) -> tuple[Floats, Mask]:
    # fmin skips NaN unless every value is NaN, as Prometheus's min_over_time does.
    return reduce_windows(np.fmin, w.values, w.lo, w.hi), w.hi > w.lo


def max_over_time(w: Windows) -> tuple[Floats, Mask]:
    return reduce_windows(np.fmax, w.values, w.lo, w.hi), w.hi > w.lo


def stdvar_over_time(w: Windows) -> tuple[Floats, Mask]:
    return _per_window(w, lambda x: float(np.var(x)))


def stddev_over_time(w: Windows) -> tuple[Floats, Mask]:
    return _per_window(w, lambda x: float(np.std(x)))


def last_over_time(w: Windows) -> tuple[Floats, Mask]:
    ok = w.hi > w.lo
    return w.values[np.where(ok, w.hi - 1, 0)], ok


def present_over_time(w: Windows) -> tuple[Floats, Mask]:
    return np.ones(w.lo.shape), w.hi > w.lo


RANGE_FUNCTIONS: dict[str, RangeFunction] = {
    "rate": rate,
    "increase": increase,
    "delta": delta,
    "irate": irate,
    "idelta": idelta,
    "changes": changes,
    "resets": resets,
    "sum_over_time": sum_over_time,
    "count_over_time": count_over_time,
    "avg_over_time": avg_over_time,
    "min_over_time": min_over_time,
    "max_over_time": max_over_time,
    "stddev_over_time": stddev_over_time,
    "stdvar_over_time": stdvar_over_time,
    "last_over_time": last_over_time,
    "present_over_time": present_over_time,
}

#: The one function of a range vector that keeps the metric name.
KEEPS_NAME = {"last_over_time"}


def _series(matrix: Matrix, values: Floats, present: Mask, keep_name: bool) -> list[Series]:
    return [
        Series(s.labels if keep_name else drop_name(s.labels), values[i], present[i])
        for i, s in enumerate(matrix.series)
        if present[i].any()
    ]


def apply_range(name: str, matrix: Matrix) -> list[Series]:
    """``name`` over every series of ``matrix``: one output series per input series."""
    if not matrix.series:
        return []
    values, present = RANGE_FUNCTIONS[name](windows(matrix))
    return _series(matrix, values, present, name in KEEPS_NAME)


def quantile_over_time(q: Floats, matrix: Matrix) -> list[Series]:
    """``quantile_over_time(q, m)``: q may differ per step (it is a scalar expression)."""
    if not matrix.series:
        return []
    w = windows(matrix)
    ok = w.hi > w.lo
    values = np.zeros(w.lo.shape)
    for i, j in zip(*np.nonzero(ok), strict=True):
        values[i, j] = quantile(float(q[j]), w.values[w.lo[i, j] : w.hi[i, j]])
    return _series(matrix, values, ok, keep_name=False)
