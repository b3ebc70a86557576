"""``histogram_quantile`` over classic ``le`` buckets, as Prometheus computes it.

Buckets of one histogram are the series that differ only in ``le`` (metric name
dropped). Per step: sort by upper bound, sum buckets of equal bound, force the counts
monotonic (scrapes of different buckets are not atomic), then interpolate linearly
inside the bucket where the rank q * count falls. Without a ``+Inf`` bucket, or with
no observations, the answer is NaN; a rank in the ``+Inf`` bucket answers the largest
finite bound; q < 0 is -Inf and q > 1 is +Inf.
"""

from __future__ import annotations

import math

import numpy as np

from tracelake.query.promql.values import Floats, Labels, Series, Vector, drop_name, get, without


def bucket_quantile(q: float, bounds: Floats, counts: Floats) -> float:
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    order = np.argsort(bounds, kind="stable")
    bounds, counts = bounds[order], counts[order]
    if len(bounds) == 0 or not math.isinf(bounds[-1]) or bounds[-1] < 0:
        return math.nan
    unique, index = np.unique(bounds, return_inverse=True)
    if len(unique) != len(bounds):
        summed = np.zeros(len(unique))
        np.add.at(summed, index, counts)
        bounds, counts = unique, summed
    counts = np.maximum.accumulate(counts)
    if len(bounds) < 2:
        return math.nan
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
