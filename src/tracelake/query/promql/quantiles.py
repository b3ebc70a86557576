"""Prometheus's quantile rules, shared by ``quantile``, ``quantile_over_time`` and
``histogram_quantile`` so the three agree on every edge.

A q outside [0, 1] answers -Inf/+Inf and a NaN q answers NaN, whatever the data.
Among values, NaN ranks below every number (Prometheus's ``vectorByValueHeap``), so a
NaN moves the low quantiles rather than vanishing or landing at the top.
"""

from __future__ import annotations

import math

import numpy as np

from tracelake.query.promql.values import Floats


def out_of_range(q: float) -> float | None:
    """The answer for a q that decides it alone (NaN, below 0, above 1), else None."""
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    return None


def quantile(q: float, values: Floats) -> float:
    """The q-quantile of ``values``, interpolating linearly between the closest ranks."""
    if len(values) == 0:
        return math.nan
    fixed = out_of_range(q)
    if fixed is not None:
        return fixed
    nan = np.isnan(values)
    ordered = np.concatenate((values[nan], np.sort(values[~nan])))
    rank = q * (len(ordered) - 1)
    lower = math.floor(rank)
    upper = min(len(ordered) - 1, lower + 1)
    weight = rank - lower
    return float(ordered[lower] * (1 - weight) + ordered[upper] * weight)
