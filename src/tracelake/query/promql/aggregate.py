"""Aggregation operators: sum, avg, min, max, count, group, stddev, stdvar, topk,
bottomk, quantile and count_values, with ``by``/``without``.

Series are grouped once (their labels are the same at every step); per group the
values are stacked into a (series x steps) matrix so each operator is a few numpy
reductions over present samples. ``by`` keeps only the listed labels; ``without``
drops the listed ones and the metric name. topk/bottomk keep the chosen series whole.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from tracelake.query.promql.errors import EvaluationError
from tracelake.query.promql.format import format_value
from tracelake.query.promql.values import (
    Floats,
    Labels,
    Series,
    Vector,
    drop_name,
    only,
    with_label,
    without,
)


def quantile(q: float, values: Floats) -> float:
    """The q-quantile of ``values`` with linear interpolation between the closest ranks,
    as Prometheus's quantile and quantile_over_time compute it."""
    if math.isnan(q) or len(values) == 0:
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    ordered = np.sort(values)
    rank = q * (len(ordered) - 1)
    lower = max(0, math.floor(rank))
    upper = min(len(ordered) - 1, lower + 1)
    weight = rank - math.floor(rank)
    return float(ordered[lower] * (1 - weight) + ordered[upper] * weight)


def group_labels(labels: Labels, by: Sequence[str] | None, drop: Sequence[str] | None) -> Labels:
    if by is not None:
        return only(labels, by)
    return without(drop_name(labels), drop or ())


def aggregate(
    op: str,
    vector: Vector,
    steps: int,
    *,
    by: Sequence[str] | None = None,
    drop: Sequence[str] | None = None,
    param: Floats | str | None = None,
) -> Vector:
    groups: dict[Labels, list[Series]] = {}
    for s in vector.series:
        groups.setdefault(group_labels(s.labels, by, drop), []).append(s)
    if op in ("topk", "bottomk"):
        assert isinstance(param, np.ndarray)
        return Vector([out for members in groups.values() for out in _top(op, members, param)])
    if op == "count_values":
        assert isinstance(param, str)
        return Vector(_count_values(param, groups, steps))
    out = []
    for labels, members in groups.items():
        values = np.vstack([s.values for s in members])
        present = np.vstack([s.present for s in members])
        result = _reduce(op, values, present, param)
        any_present = np.logical_or.reduce(present, axis=0)
        out.append(Series(labels, np.where(any_present, result, 0.0), any_present))
    return Vector(out)


def _reduce(op: str, v: np.ndarray, p: np.ndarray, param: Floats | str | None) -> Floats:
    count = p.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        if op == "sum":
            return np.where(p, v, 0.0).sum(axis=0)
        if op == "count":
            return count.astype(np.float64)
        if op == "group":
            return np.ones(v.shape[1])
        if op == "avg":
            return np.where(p, v, 0.0).sum(axis=0) / count
        if op in ("min", "max"):
            real = p & ~np.isnan(v)
            fill = math.inf if op == "min" else -math.inf
            masked = np.where(real, v, fill)
            best = masked.min(axis=0) if op == "min" else masked.max(axis=0)
            return np.where(real.any(axis=0), best, math.nan)
        if op in ("stddev", "stdvar"):
            mean = np.where(p, v, 0.0).sum(axis=0) / count
            var = np.where(p, (v - mean) ** 2, 0.0).sum(axis=0) / count
            return np.sqrt(var) if op == "stddev" else var
        if op == "quantile":
            assert isinstance(param, np.ndarray)
            return np.array([quantile(float(param[i]), v[p[:, i], i]) for i in range(v.shape[1])])
    raise EvaluationError(f"aggregation {op}() is not supported by tracelake's PromQL")


def _top(op: str, members: list[Series], k_values: Floats) -> list[Series]:
    values = np.vstack([s.values for s in members])
    present = np.vstack([s.present for s in members])
    chosen = np.zeros_like(present)
    for step in range(values.shape[1]):
        k = k_values[step]
        if math.isnan(k) or k < 1:
            continue
        rows = np.flatnonzero(present[:, step])
        col = values[rows, step]
        # NaN sorts last either way, as Prometheus ranks it below every number.
        key = np.where(np.isnan(col), math.inf, -col if op == "topk" else col)
        picked = rows[np.argsort(key, kind="stable")[: int(min(k, len(rows)))]]
        chosen[picked, step] = True
    return [Series(s.labels, s.values, chosen[i]) for i, s in enumerate(members) if chosen[i].any()]


def _count_values(label: str, groups: dict[Labels, list[Series]], steps: int) -> list[Series]:
    counts: dict[Labels, np.ndarray] = {}
    for labels, members in groups.items():
        for s in members:
            for step in np.flatnonzero(s.present):
                key = with_label(labels, label, format_value(float(s.values[step])))
                counts.setdefault(key, np.zeros(steps))[step] += 1
    return [Series(labels, c, c > 0) for labels, c in counts.items()]
