"""Functions of a range vector: rate and friends, deriv and predict_linear, double
exponential smoothing, and the ``*_over_time`` family.

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

from tracelake.query.promql.errors import EvaluationError
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
    evals: Ints  # (steps,): the evaluation times (the steps, before any offset)


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
    evals = ends if matrix.evals is None else matrix.evals
    return Windows(times, values, lo, hi, ends, matrix.range_ms, evals)


@dataclass(slots=True)
class Gathered:
    """The samples of every window holding at least ``min_count``, window after window:
    what a per-window computation (a regression, a variance) reduces segment by segment
    with ``np.add.reduceat`` instead of a Python loop over windows."""

    ok: Mask  # (series, steps): the windows gathered
    index: Ints  # sample indices into Windows.times/values, window after window
    starts: Ints  # where each gathered window's samples begin in ``index``
    counts: Ints  # how many samples each gathered window holds
    window: Ints  # for each gathered sample, which gathered window it belongs to
    step: Ints  # for each gathered window, its step


def gather(w: Windows, min_count: int = 1) -> Gathered:
    ok = (w.hi - w.lo) >= min_count
    flat = np.flatnonzero(ok)
    lo, hi = w.lo.ravel()[flat], w.hi.ravel()[flat]
    counts = hi - lo
    starts = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
    window = np.repeat(np.arange(len(counts)), counts)
    index = lo[window] + np.arange(int(counts.sum())) - starts[window]
    return Gathered(ok, index, starts, counts, window, flat % max(w.lo.shape[1], 1))


def _segment_sum(g: Gathered, values: Floats) -> Floats:
    if len(g.counts) == 0:
        return np.zeros(0)
    return np.add.reduceat(values, g.starts)


def _kahan_segment_sum(g: Gathered, values: Floats) -> Floats:
    """Per window, the sum in sample order with Neumaier's compensation, as Prometheus's
    ``kahanSumInc`` adds them (the compensation added at the end): sums whose terms
    nearly cancel, as a regression's do, then round as Prometheus's do."""
    n = len(g.counts)
    if n == 0:
        return np.zeros(0)
    total, comp = np.zeros(n), np.zeros(n)
    for k in range(int(g.counts.max())):
        live = np.flatnonzero(g.counts > k)
        inc, before = values[g.starts[live] + k], total[live]
        after = before + inc
        step = np.where(
            np.abs(before) >= np.abs(inc), (before - after) + inc, (inc - after) + before
        )
        comp[live] = np.where(np.isinf(after), 0.0, comp[live] + step)
        total[live] = after
    return total + comp


def _scatter(g: Gathered, shape: tuple[int, ...], values: Floats) -> Floats:
    out = np.zeros(shape)
    out[g.ok] = values  # row-major, the order gather() flattened the windows in
    return out


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
    g = gather(w)
    v = w.values[g.index]
    with np.errstate(invalid="ignore"):
        mean = _segment_sum(g, v) / g.counts
        var = _segment_sum(g, (v - mean[g.window]) ** 2) / g.counts
    return _scatter(g, w.lo.shape, var), g.ok


def stddev_over_time(w: Windows) -> tuple[Floats, Mask]:
    var, ok = stdvar_over_time(w)
    return np.sqrt(var), ok


def mad_over_time(w: Windows) -> tuple[Floats, Mask]:
    """The median absolute deviation from the median; NaN in the window makes it NaN."""

    def mad(x: Floats) -> float:
        if np.isnan(x).any():
            return float("nan")
        return quantile(0.5, np.abs(x - quantile(0.5, x)))

    return _per_window(w, mad)


def regression(w: Windows, *, at_eval: bool) -> tuple[Floats, Floats, Mask]:
    """Least-squares slope (per second) and intercept of every window of two samples or
    more, as Prometheus's ``linearRegression``: x is the time from the window's first
    sample (``deriv``) or from the evaluation time (``predict_linear``); a window of
    one value throughout has slope 0 (NaN for an infinite value)."""
    g = gather(w, min_count=2)
    if len(g.counts) == 0:
        nothing = np.zeros(w.lo.shape)
        return nothing, nothing, g.ok
    t, v = w.times[g.index], w.values[g.index]
    first = g.index[g.starts]
    ref = w.evals[g.step] if at_eval else w.times[first]
    x = (t - ref[g.window]) / 1000.0
    n = g.counts.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        sum_x, sum_y = _kahan_segment_sum(g, x), _kahan_segment_sum(g, v)
        cov = _kahan_segment_sum(g, x * v) - sum_x * sum_y / n
        var = _kahan_segment_sum(g, x * x) - sum_x * sum_x / n
        slope = cov / var
        intercept = sum_y / n - slope * sum_x / n
    init = w.values[first]
    constant = (_segment_sum(g, (v != init[g.window]).astype(np.float64)) == 0) if len(n) else n
    constant = constant.astype(bool)
    slope = np.where(constant, np.where(np.isinf(init), np.nan, 0.0), slope)
    intercept = np.where(constant, np.where(np.isinf(init), np.nan, init), intercept)
    shape = w.lo.shape
    return _scatter(g, shape, slope), _scatter(g, shape, intercept), g.ok


def deriv(w: Windows) -> tuple[Floats, Mask]:
    slope, _, ok = regression(w, at_eval=False)
    return slope, ok


def predict_linear(w: Windows, seconds: Floats) -> tuple[Floats, Mask]:
    """The regression line's value ``seconds`` after the evaluation time."""
    slope, intercept, ok = regression(w, at_eval=True)
    return slope * seconds + intercept, ok


def double_exponential_smoothing(
    w: Windows, smoothing: Floats, trend: Floats
) -> tuple[Floats, Mask]:
    """Holt's linear smoothing of each window (``holt_winters`` in Prometheus 2)."""
    ok = w.hi - w.lo >= 2
    out = np.zeros(w.lo.shape)
    for i, j in zip(*np.nonzero(ok), strict=True):
        x = w.values[w.lo[i, j] : w.hi[i, j]]
        sf, tf = float(smoothing[j]), float(trend[j])
        s0, s1, b = 0.0, float(x[0]), float(x[1] - x[0])
        for k in range(1, len(x)):
            if k > 1:
                b = tf * (s1 - s0) + (1 - tf) * b
            s0, s1 = s1, sf * float(x[k]) + (1 - sf) * (s1 + b)
        out[i, j] = s1
    return out, ok


def first_over_time(w: Windows) -> tuple[Floats, Mask]:
    ok = w.hi > w.lo
    return w.values[np.where(ok, w.lo, 0)], ok


def ts_of_first_over_time(w: Windows) -> tuple[Floats, Mask]:
    ok = w.hi > w.lo
    return w.times[np.where(ok, w.lo, 0)] / 1000.0, ok


def ts_of_last_over_time(w: Windows) -> tuple[Floats, Mask]:
    ok = w.hi > w.lo
    return w.times[np.where(ok, w.hi - 1, 0)] / 1000.0, ok


def _ts_of_extreme(w: Windows, *, largest: bool) -> tuple[Floats, Mask]:
    """The time of the window's largest (smallest) value, its last occurrence on a tie;
    NaN counts only while nothing but NaN came before, as in Prometheus."""
    ok = w.hi > w.lo
    out = np.zeros(w.lo.shape)
    for i, j in zip(*np.nonzero(ok), strict=True):
        lo, hi = int(w.lo[i, j]), int(w.hi[i, j])
        best, at = float(w.values[lo]), lo
        for k in range(lo, hi):
            value = float(w.values[k])
            if (value >= best if largest else value <= best) or best != best:
                best, at = value, k
        out[i, j] = w.times[at] / 1000.0
    return out, ok


def ts_of_max_over_time(w: Windows) -> tuple[Floats, Mask]:
    return _ts_of_extreme(w, largest=True)


def ts_of_min_over_time(w: Windows) -> tuple[Floats, Mask]:
    return _ts_of_extreme(w, largest=False)


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
    "mad_over_time": mad_over_time,
    "deriv": deriv,
    "first_over_time": first_over_time,
    "ts_of_first_over_time": ts_of_first_over_time,
    "ts_of_last_over_time": ts_of_last_over_time,
    "ts_of_max_over_time": ts_of_max_over_time,
    "ts_of_min_over_time": ts_of_min_over_time,
}

#: The functions of a range vector that keep the metric name: they pick a sample.
KEEPS_NAME = {"last_over_time", "first_over_time"}


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


def predict(matrix: Matrix, seconds: Floats) -> list[Series]:
    """``predict_linear(m, seconds)``."""
    if not matrix.series:
        return []
    values, present = predict_linear(windows(matrix), seconds)
    return _series(matrix, values, present, keep_name=False)


def smooth(matrix: Matrix, smoothing: Floats, trend: Floats) -> list[Series]:
    """``double_exponential_smoothing(m, sf, tf)``: both factors strictly between 0 and 1."""
    if not matrix.series:
        return []
    for name, factors in (("smoothing", smoothing), ("trend", trend)):
        bad = factors[~((factors > 0) & (factors < 1))]
        if len(bad):
            raise EvaluationError(
                f"invalid {name} factor. Expected: 0 < {name[0]}f < 1, got: {bad[0]:f}"
            )
    values, present = double_exponential_smoothing(windows(matrix), smoothing, trend)
    return _series(matrix, values, present, keep_name=False)


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
