"""``histogram_quantile`` over classic ``le`` buckets, as Prometheus 3 computes it.

Buckets of one histogram are the series that differ only in ``le`` (metric name
dropped). Per step: sort by upper bound, sum buckets of equal bound, then make the
counts monotonic — scrapes of different buckets are not atomic, so a count may dip
below the one before it, and rates of buckets differ by rounding noise where nothing
was observed between them; both are read as the previous count (noise is a relative
difference under 1e-12). Then interpolate linearly inside the bucket where the rank
q * count falls. Without a ``+Inf`` bucket, or with no observations, the answer is
NaN; a rank in the ``+Inf`` bucket answers the largest finite bound.
"""

from __future__ import annotations

import math
import sys

import numpy as np

from tracelake.errors import QueryError
from tracelake.query.promql.quantiles import out_of_range
from tracelake.query.promql.values import (
    LABEL_NAME,
    Floats,
    Labels,
    Series,
    Vector,
    drop_name,
    get,
    with_label,
    without,
)

#: Counts this close (relative) to the previous bucket's are float noise, not observations.
SMALL_DELTA = 1e-12


def monotonic(counts: Floats) -> Floats:
    """Counts with dips and float noise replaced by the previous count (Prometheus's
    ``ensureMonotonicAndIgnoreSmallDeltas``: a replaced count does not become the new
    reference, so noise cannot creep upwards bucket by bucket)."""
    out = counts.copy()
    previous = out[0]
    for i in range(1, len(out)):
        current = out[i]
        if current < previous or _close(previous, current):
            out[i] = previous
        else:
            previous = current
    return out


def _close(a: float, b: float) -> bool:
    """Prometheus's ``almost.Equal`` at ``SMALL_DELTA``."""
    if a == b:
        return True
    diff, total = abs(a - b), abs(a) + abs(b)
    if a == 0 or b == 0 or total < sys.float_info.min:
        return diff < SMALL_DELTA * sys.float_info.min
    return diff / min(total, sys.float_info.max) < SMALL_DELTA


def bucket_quantile(q: float, bounds: Floats, counts: Floats) -> float:
    """The q-quantile of one histogram's buckets (upper bounds and cumulative counts)."""
    fixed = out_of_range(q)
    if fixed is not None:
        return fixed
    order = np.argsort(bounds, kind="stable")
    bounds, counts = bounds[order], counts[order]
    if len(bounds) == 0 or bounds[-1] != math.inf:
        return math.nan
    unique, index = np.unique(bounds, return_inverse=True)
    if len(unique) != len(bounds):
        summed = np.zeros(len(unique))
        np.add.at(summed, index, counts)
        bounds, counts = unique, summed
    if len(bounds) < 2:
        return math.nan
    counts = monotonic(counts)
    observations = counts[-1]
    if observations == 0 or math.isnan(observations):
        return math.nan
    rank = q * observations
    b = int(np.searchsorted(counts[:-1], rank, side="left"))
    if b == len(bounds) - 1:
        return float(bounds[-2])
    if b == 0 and bounds[0] <= 0:
        return float(bounds[0])
    start, end, count = 0.0, float(bounds[b]), float(counts[b])
    if b > 0:
        start = float(bounds[b - 1])
        count -= float(counts[b - 1])
        rank -= float(counts[b - 1])
    return start + (end - start) * (rank / count)


def histogram_quantile(q: Floats, vector: Vector, steps: int) -> Vector:
    histograms: dict[Labels, list[tuple[float, Series]]] = {}
    for s in vector.series:
        le = get(s.labels, "le")
        try:
            bound = float(le)
        except ValueError:
            continue  # not a bucket: Prometheus ignores it
        key = without(drop_name(s.labels), ("le",))
        histograms.setdefault(key, []).append((bound, s))
    out = []
    for labels, buckets in histograms.items():
        bounds = np.array([b for b, _ in buckets])
        values = np.vstack([s.values for _, s in buckets])
        present = np.vstack([s.present for _, s in buckets])
        result = np.zeros(steps)
        any_present = np.logical_or.reduce(present, axis=0)
        for step in np.flatnonzero(any_present):
            here = present[:, step]
            result[step] = bucket_quantile(float(q[step]), bounds[here], values[here, step])
        out.append(Series(labels, result, any_present))
    return Vector(out)


def _openmetrics_float(q: float) -> str:
    """A quantile as Prometheus writes it in a label: ``0.5``, ``1.0``, ``+Inf``."""
    if math.isnan(q):
        return "NaN"
    if math.isinf(q):
        return "+Inf" if q > 0 else "-Inf"
    text = repr(q)
    return text if any(c in text for c in ".eE") else text + ".0"


def histogram_quantiles(vector: Vector, label: str, qs: list[Floats], steps: int) -> Vector:
    """histogram_quantiles(v, "label", q…) (Prometheus 3): histogram_quantile for each
    q, told apart by ``label`` set to the q."""
    if not LABEL_NAME.fullmatch(label):
        raise QueryError(
            f"invalid quantile label name in histogram_quantiles(): {label!r}: use letters, "
            "digits and underscores, not starting with a digit"
        )
    out = []
    for q in qs:
        result = histogram_quantile(q, vector, steps).series
        for value in dict.fromkeys(q.tolist()):  # a q that changes with the step: per value
            here = (q == value) | (np.isnan(q) & math.isnan(value))
            for s in result:
                present = s.present & here
                if present.any():
                    labels = with_label(s.labels, label, _openmetrics_float(value))
                    out.append(Series(labels, s.values, present))
    return Vector(out)
