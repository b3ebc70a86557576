"""Aggregation operators: sum, avg, min, max, count, group, stddev, stdvar, topk,
bottomk, limitk, quantile and count_values, with ``by``/``without``.

Series are grouped once (their labels are the same at every step); per group the
values are stacked into a (series x steps) matrix so each operator is a few numpy
reductions over present samples. ``by`` keeps only the listed labels; ``without``
drops the listed ones and the metric name. topk/bottomk/limitk keep the chosen series
whole.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from tracelake.query.promql.errors import EvaluationError
from tracelake.query.promql.format import format_value
from tracelake.query.promql.quantiles import quantile
from tracelake.query.promql.values import (
    Floats,
    Ints,
    Labels,
    Series,
    Vector,
    drop_name,
    only,
    with_label,
    without,
)


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
    if op in ("topk", "bottomk", "limitk"):
        assert isinstance(param, np.ndarray)
        if not (np.nanmax(param, initial=-math.inf) >= 1 or np.isnan(param).all()):
            return Vector([])  # every k below one: nothing, whatever else k is
        _check_k(param)
    if op in ("topk", "bottomk"):
        assert isinstance(param, np.ndarray)
        return Vector([out for members in groups.values() for out in _top(op, members, param)])
    if op == "limitk":
        assert isinstance(param, np.ndarray)
        return Vector([out for members in groups.values() for out in _limit(members, param)])
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
    """topk/bottomk of one group: at each step the k best present samples. The chosen
    series come out best first at the first step where they are chosen, which is the
    order of an instant query's answer."""
    values = np.vstack([s.values for s in members])
    present = np.vstack([s.present for s in members])
    chosen = np.zeros_like(present)
    order: dict[int, None] = {}
    for step in range(values.shape[1]):
        k = k_values[step]
        if math.isnan(k) or k < 1:
            continue
        rows = np.flatnonzero(present[:, step])
        picked = rows[_pick(op, values[rows, step], int(min(k, len(rows))))]
        chosen[picked, step] = True
        order.update(dict.fromkeys(picked.tolist()))
    return [Series(members[i].labels, members[i].values, chosen[i]) for i in order]


#: The floats a Go int64 holds (Prometheus converts k to one).
_INT64 = 2.0**63


def _check_k(k: Floats) -> None:
    """k must be a number an int64 holds at every step, as Prometheus 3 requires."""
    if np.isnan(k).any():
        raise EvaluationError("Parameter value is NaN: give topk/bottomk/limitk a number as k")
    if k.min() <= -_INT64:
        raise EvaluationError(f"Scalar value {k.min():g} underflows int64: give a smaller k")
    if k.max() >= _INT64:
        raise EvaluationError(f"Scalar value {k.max():g} overflows int64: give a smaller k")


def _limit(members: list[Series], k_values: Floats) -> list[Series]:
    """limitk of one group: at each step the first k present series, in input order
    (selectors hand series over sorted by labels), kept whole."""
    present = np.vstack([s.present for s in members])
    chosen = np.zeros_like(present)
    for step in range(present.shape[1]):
        k = k_values[step]
        if math.isnan(k) or k < 1:
            continue
        chosen[np.flatnonzero(present[:, step])[: int(min(k, len(members)))], step] = True
    return [Series(m.labels, m.values, chosen[i]) for i, m in enumerate(members) if chosen[i].any()]


def _pick(op: str, column: Floats, k: int) -> Ints:
    """Which k of one step's samples (in input order) topk/bottomk keeps, best first.

    NaN ranks below every number either way. When the k-th best ties with the next,
    which of the tied ones stay is Prometheus's heap's choice (it depends on the input
    order, not only on the values), so that heap is replayed.
    """
    key = np.where(np.isnan(column), math.inf, -column if op == "topk" else column)
    ranked = np.argsort(key, kind="stable")
    if k < len(ranked) and key[ranked[k - 1]] == key[ranked[k]]:
        kept = _heap_choice(column.tolist(), k, top=op == "topk")
        return np.array(sorted(kept, key=lambda i: key[i]), dtype=np.int64)
    return ranked[:k]


def _heap_choice(values: list[float], k: int, *, top: bool) -> list[int]:
    """Prometheus's topk/bottomk heap (Go's container/heap): the k first samples, then
    each later one replaces the worst kept only if strictly better."""

    def worse(a: int, b: int) -> bool:
        x, y = values[a], values[b]
        return math.isnan(x) or (x < y if top else x > y)

    heap: list[int] = []
    for i, value in enumerate(values):
        if len(heap) < k:
            heap.append(i)
            _sift_up(heap, len(heap) - 1, worse)
        elif worse(heap[0], i) and not math.isnan(value):
            heap[0] = i
            _sift_down(heap, worse)
    return heap


def _sift_up(heap: list[int], j: int, worse: Callable[[int, int], bool]) -> None:
    while j > 0:
        parent = (j - 1) // 2
        if not worse(heap[j], heap[parent]):
            return
        heap[parent], heap[j] = heap[j], heap[parent]
        j = parent


def _sift_down(heap: list[int], worse: Callable[[int, int], bool]) -> None:
    i = 0
    while (child := 2 * i + 1) < len(heap):
        if child + 1 < len(heap) and worse(heap[child + 1], heap[child]):
            child += 1
        if not worse(heap[child], heap[i]):
            return
        heap[i], heap[child] = heap[child], heap[i]
        i = child


def _count_values(label: str, groups: dict[Labels, list[Series]], steps: int) -> list[Series]:
    counts: dict[Labels, np.ndarray] = {}
    for labels, members in groups.items():
        for s in members:
            for step in np.flatnonzero(s.present):
                key = with_label(labels, label, format_value(float(s.values[step])))
                counts.setdefault(key, np.zeros(steps))[step] += 1
    return [Series(labels, c, c > 0) for labels, c in counts.items()]
