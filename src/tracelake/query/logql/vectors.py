"""Metric values over a grid of steps, and LogQL's operators on them (numpy).

A value is a :class:`Scalar` (one number per step) or a :class:`Series` set: label sets
to one float per step, NaN where a series has no point. Every operator works on all
steps at once, as the PromQL evaluator does.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tracelake.query.logql import ast
from tracelake.query.logql.errors import LogQLError

Labels = tuple[tuple[str, str], ...]
Floats = np.ndarray


def labels_of(mapping: dict[str, str]) -> Labels:
    return tuple(sorted((k, v) for k, v in mapping.items() if v != ""))


@dataclass(slots=True)
class Scalar:
    values: Floats


@dataclass(slots=True)
class Series:
    data: dict[Labels, Floats]


Value = Scalar | Series


def group_key(labels: Labels, grouping: ast.Grouping | None) -> Labels:
    if grouping is None:
        return ()
    names = set(grouping.labels)
    if grouping.without:
        return tuple(p for p in labels if p[0] not in names)
    return tuple(p for p in labels if p[0] in names)


def _grouped(series: Series, grouping: ast.Grouping | None) -> dict[Labels, list[Floats]]:
    groups: dict[Labels, list[Floats]] = {}
    for labels, values in series.data.items():
        groups.setdefault(group_key(labels, grouping), []).append(values)
    return groups


def aggregate(
    op: str, series: Series, grouping: ast.Grouping | None, param: float | None
) -> Series:
    """sum/avg/min/max/count/stddev/stdvar/topk/bottomk/sort by or without labels."""
    if op in ("sort", "sort_desc"):
        return series
    if op in ("topk", "bottomk"):
        return _topk(op, series, grouping, param)
    out: dict[Labels, Floats] = {}
    for key, members in _grouped(series, grouping).items():
        stack = np.vstack(members)
        present = ~np.isnan(stack)
        n = present.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            if op == "sum":
                value = np.nansum(stack, axis=0)
            elif op == "avg":
                value = np.nansum(stack, axis=0) / n
            elif op == "min":
                value = np.nanmin(np.where(present, stack, np.inf), axis=0)
            elif op == "max":
                value = np.nanmax(np.where(present, stack, -np.inf), axis=0)
            elif op == "count":
                value = n.astype(float)
            else:  # stddev, stdvar: population, as Prometheus
                mean = np.nansum(stack, axis=0) / n
                var = np.nansum(np.where(present, (stack - mean) ** 2, 0.0), axis=0) / n
                value = np.sqrt(var) if op == "stddev" else var
        out[key] = np.where(n > 0, value, np.nan)
    return Series(out)


def _topk(op: str, series: Series, grouping: ast.Grouping | None, param: float | None) -> Series:
    if param is None or param < 1 or param != int(param):
        raise LogQLError(f"invalid parameter for {op}: give a whole number of at least 1")
    k = int(param)
    out: dict[Labels, Floats] = {}
    groups: dict[Labels, list[Labels]] = {}
    for labels in series.data:
        groups.setdefault(group_key(labels, grouping), []).append(labels)
    for members in groups.values():
        stack = np.vstack([series.data[m] for m in members])
        keyed = np.where(np.isnan(stack), -np.inf if op == "topk" else np.inf, stack)
        order = np.argsort(-keyed if op == "topk" else keyed, axis=0, kind="stable")[:k]
        chosen = np.zeros_like(stack, dtype=bool)
        np.put_along_axis(chosen, order, True, axis=0)
        chosen &= ~np.isnan(stack)
        for i, labels in enumerate(members):
            if chosen[i].any():
                out[labels] = np.where(chosen[i], stack[i], np.nan)
    return Series(out)


_ARITH: dict[str, Callable[[Floats, Floats], Floats]] = {
    "+": np.add,
    "-": np.subtract,
    "*": np.multiply,
    "/": np.divide,
    "%": np.fmod,
    "^": np.power,
}
_COMPARE: dict[str, Callable[[Floats, Floats], Floats]] = {
    "==": np.equal,
    "!=": np.not_equal,
    ">": np.greater,
    ">=": np.greater_equal,
    "<": np.less,
    "<=": np.less_equal,
}


def _apply(op: str, a: Floats, b: Floats, bool_modifier: bool, keep: Floats) -> Floats:
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if op in _ARITH:
            return _ARITH[op](a, b)
        hit = _COMPARE[op](a, b)
        missing = np.isnan(a) | np.isnan(b)
        if bool_modifier:
            return np.where(missing, np.nan, hit.astype(float))
        return np.where(hit & ~missing, keep, np.nan)


def _signature(labels: Labels, matching: ast.VectorMatching | None) -> Labels:
    if matching is None:
        return labels
    names = set(matching.labels)
    if matching.on:
        return tuple(p for p in labels if p[0] in names)
    return tuple(p for p in labels if p[0] not in names)


def binary(node: ast.BinaryOp, left: Value, right: Value) -> Value:
    op = node.op
    if op in ("and", "or", "unless"):
        if not (isinstance(left, Series) and isinstance(right, Series)):
            raise LogQLError(f"set operator {op} not allowed in binary scalar expression")
        return _set_op(op, left, right, node.matching)
    if isinstance(left, Scalar) and isinstance(right, Scalar):
        return Scalar(_apply(op, left.values, right.values, True, left.values))
    if isinstance(left, Series) and isinstance(right, Scalar):
        return _drop_empty(
            {k: _apply(op, v, right.values, node.bool_modifier, v) for k, v in left.data.items()}
        )
    if isinstance(left, Scalar) and isinstance(right, Series):
        return _drop_empty(
            {k: _apply(op, left.values, v, node.bool_modifier, v) for k, v in right.data.items()}
        )
    assert isinstance(left, Series) and isinstance(right, Series)
    return _vector_vector(node, left, right)


def _drop_empty(data: dict[Labels, Floats]) -> Series:
    return Series({k: v for k, v in data.items() if not np.isnan(v).all()})


def _vector_vector(node: ast.BinaryOp, left: Series, right: Series) -> Series:
    matching = node.matching
    group = matching.group if matching is not None else ""
    one, many = (left, right) if group == "right" else (right, left)
    index: dict[Labels, tuple[Labels, Floats]] = {}
    for labels, values in one.data.items():
        sig = _signature(labels, matching)
        if sig in index:
            side = "right" if one is right else "left"
            raise LogQLError(
                f"found duplicate series on the {side} hand-side of the operation: "
                "add on()/ignoring() or group_left/group_right"
            )
        index[sig] = (labels, values)
    out: dict[Labels, Floats] = {}
    for labels, values in many.data.items():
        found = index.get(_signature(labels, matching))
        if found is None:
            continue
        other_labels, other = found
        a, b = (values, other) if many is left else (other, values)
        if group:
            result = dict(labels)
            other_map = dict(other_labels)
            for name in matching.include if matching else ():
                if name in other_map:
                    result[name] = other_map[name]
            key = labels_of(result)
        else:  # one-to-one: the matched labels only with on(), the rest with ignoring()
            key = _signature(labels, matching)
        if key in out and not group:
            raise LogQLError("multiple matches for labels: many-to-one matching must be explicit")
        out[key] = _apply(node.op, a, b, node.bool_modifier, a)
    return _drop_empty(out)


def _set_op(op: str, left: Series, right: Series, matching: ast.VectorMatching | None) -> Series:
    present: dict[Labels, Floats] = {}
    for labels, values in right.data.items():
        sig = _signature(labels, matching)
        mask = ~np.isnan(values)
        present[sig] = present[sig] | mask if sig in present else mask
    out: dict[Labels, Floats] = {}
    for labels, values in left.data.items():
        mask = present.get(_signature(labels, matching))
        if op == "and":
            out[labels] = (
                np.full_like(values, np.nan) if mask is None else np.where(mask, values, np.nan)
            )
        elif op == "unless":
            out[labels] = values if mask is None else np.where(mask, np.nan, values)
        else:
            out[labels] = values
    if op == "or":
        covered: dict[Labels, Floats] = {}
        for labels, values in left.data.items():
            sig = _signature(labels, matching)
            mask = ~np.isnan(values)
            covered[sig] = covered[sig] | mask if sig in covered else mask
        for labels, values in right.data.items():
            mask = covered.get(_signature(labels, matching))
            kept = values if mask is None else np.where(mask, np.nan, values)
            out[labels] = (
                kept if labels not in out else np.where(np.isnan(out[labels]), kept, out[labels])
            )
    return _drop_empty(out)


def label_replace(node: ast.LabelReplace, value: Value) -> Value:
    if not isinstance(value, Series):
        raise LogQLError("label_replace needs a vector")
    try:
        regex = re.compile(node.regex)
    except re.error as e:
        raise LogQLError(f"invalid regular expression in label_replace(): {node.regex}") from e
    replacement = re.sub(r"\$\{?(\w+)\}?", lambda m: f"\\g<{m.group(1)}>", node.replacement)
    out: dict[Labels, Floats] = {}
    for labels, values in value.data.items():
        mapping = dict(labels)
        m = regex.fullmatch(mapping.get(node.src, ""))
        if m is not None:
            mapping[node.dst] = m.expand(replacement)
        out[labels_of(mapping)] = values
    return Series(out)


# --- range functions over samples --------------------------------------------------


def quantile(phi: float, values: Floats) -> float:
    """Prometheus's quantile: linear interpolation between the closest ranks."""
    if phi < 0:
        return -math.inf
    if phi > 1:
        return math.inf
    ordered = np.sort(values)
    rank = phi * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    weight = rank - low
    return float(ordered[low] * (1 - weight) + ordered[high] * weight)


def counter_rate(ts: Floats, values: Floats, start: float, end: float, seconds: float) -> float:
    """Prometheus's extrapolated ``rate`` of a counter over one window (``rate_counter``)."""
    if len(values) < 2:
        return math.nan
    increase = float(values[-1] - values[0])
    drops = values[:-1][np.diff(values) < 0]
    increase += float(drops.sum())
    sampled = (ts[-1] - ts[0]) / 1e9
    to_start = (ts[0] - start) / 1e9
    to_end = (end - ts[-1]) / 1e9
    average = sampled / (len(values) - 1)
    if increase > 0 and values[0] >= 0:
        zero = sampled * (values[0] / increase)
        to_start = min(to_start, zero)
    threshold = average * 1.1
    extended = sampled
    extended += to_start if to_start < threshold else average / 2
    extended += to_end if to_end < threshold else average / 2
    return increase * (extended / sampled) / seconds if sampled > 0 else math.nan


def window_values(
    func: str, ts: Floats, values: Floats, steps: Floats, range_ns: int, param: float | None
) -> Floats:
    """``func`` over the samples in (t - range, t] of every step t (ts sorted)."""
    lo = np.searchsorted(ts, steps - range_ns, side="right")
    hi = np.searchsorted(ts, steps, side="right")
    seconds = range_ns / 1e9
    out = np.full(len(steps), np.nan)
    if func in ("count_over_time", "rate", "bytes_over_time", "bytes_rate", "sum_over_time"):
        cum = np.concatenate(([0.0], np.cumsum(values)))
        counts = hi - lo
        sums = cum[hi] - cum[lo]
        total = counts.astype(float) if func == "count_over_time" else sums
        if func in ("rate", "bytes_rate"):
            total = total / seconds
        return np.where(counts > 0, total, np.nan)
    for i, (a, b) in enumerate(zip(lo, hi, strict=True)):
        if a == b:
            continue
        window = values[a:b]
        if func == "avg_over_time":
            out[i] = window.mean()
        elif func == "min_over_time":
            out[i] = window.min()
        elif func == "max_over_time":
            out[i] = window.max()
        elif func == "stdvar_over_time":
            out[i] = window.var()
        elif func == "stddev_over_time":
            out[i] = window.std()
        elif func == "quantile_over_time":
            out[i] = quantile(param if param is not None else 0.5, window)
        elif func == "first_over_time":
            out[i] = window[0]
        elif func == "last_over_time":
            out[i] = window[-1]
        elif func == "rate_counter":
            out[i] = counter_rate(ts[a:b], window, steps[i] - range_ns, steps[i], seconds)
        else:  # pragma: no cover - the parser knows every function
            raise LogQLError(f"unknown range function {func}")
    return out
