"""From a selector's label matchers to SQL over the ``metrics`` table, and back.

``__name__`` matchers test the ``name`` column; other labels are read from the
canonical JSON in ``labels`` (a missing label is the empty string, as in PromQL).
Regular expressions are fully anchored RE2, which DuckDB's ``regexp_full_match`` is.
Every value is a bound parameter. One row comes back per series with the times and
values as lists, handed over as Arrow, so millions of samples cross into numpy
without a Python object each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from tracelake.query.promql.values import NAME, RawSeries, labels_of

#: The one NaN bit pattern Prometheus writes as a staleness marker.
STALE_NAN_BITS = 0x7FF0000000000002

OPS = {"Equal": "=", "NotEqual": "!=", "Re": "=~", "NotRe": "!~"}


@dataclass(frozen=True, slots=True)
class Matcher:
    """One label matcher: ``op`` is ``=``, ``!=``, ``=~`` or ``!~``."""

    name: str
    op: str
    value: str


def _label_expr(name: str) -> tuple[str, list[Any]]:
    if name == NAME:
        return "name", []
    return "coalesce(json_extract_string(labels, ?), '')", [f'$."{name}"']


def _condition(m: Matcher) -> tuple[str, list[Any]]:
    expr, params = _label_expr(m.name)
    if m.op == "=":
        return f"{expr} = ?", [*params, m.value]
    if m.op == "!=":
        return f"{expr} <> ?", [*params, m.value]
    if m.op == "=~":
        return f"regexp_full_match({expr}, ?)", [*params, m.value]
    return f"NOT regexp_full_match({expr}, ?)", [*params, m.value]


#: The milliseconds a datetime can hold (years 1 to 9999): a window an offset or a long
#: range pushes past them reads only up to them, as nothing lies beyond.
_FIRST_MS = round(datetime.min.replace(tzinfo=UTC).timestamp() * 1000)
_LAST_MS = round(datetime.max.replace(tzinfo=UTC).timestamp() * 1000) - 1


def _moment(ms: int) -> datetime:
    return datetime.fromtimestamp(min(max(ms, _FIRST_MS), _LAST_MS) / 1000, UTC)


def _time_bounds(start_ms: int, end_ms: int) -> tuple[str, list[Any]]:
    return "timestamp >= ? AND timestamp <= ?", [_moment(start_ms), _moment(end_ms)]


def samples_sql(matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> tuple[str, list[Any]]:
    """SQL for the samples of every matching series in [start, end], one row a series.

    With an exact name, the label conditions go to HAVING on the grouped label set, so
    a regex runs once per series rather than once per sample.
    """
    where, params = _time_bounds(start_ms, end_ms)
    having: list[str] = []
    having_params: list[Any] = []
    by_name = any(m.name == NAME and m.op == "=" for m in matchers)
    for m in matchers:
        sql, p = _condition(m)
        if m.name != NAME and by_name:
            having.append(sql)
            having_params += p
        else:
            where += f" AND {sql}"
            params += p
    columns = "name, labels, list(timestamp) AS t, list(value) AS v"
    sql = f"SELECT {columns} FROM metrics WHERE {where} GROUP BY name, labels"  # noqa: S608 - placeholders only
    if having:
        sql += " HAVING " + " AND ".join(having)
    return sql, params + having_params


def series_sql(matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> tuple[str, list[Any]]:
    """SQL for the distinct (name, labels) of the series matching, in [start, end]."""
    where, params = _time_bounds(start_ms, end_ms)
    for m in matchers:
        sql, p = _condition(m)
        where += f" AND {sql}"
        params += p
    sql = f"SELECT DISTINCT name, labels FROM metrics WHERE {where}"  # noqa: S608 - placeholders only
    return sql, params


def label_names_sql(start_ms: int, end_ms: int) -> tuple[str, list[Any]]:
    """SQL for every label name in [start, end], ``__name__`` included."""
    where, params = _time_bounds(start_ms, end_ms)
    names = "list_prepend('__name__', json_keys(labels))"
    sql = f"SELECT DISTINCT unnest({names}) AS v FROM metrics WHERE {where}"  # noqa: S608 - placeholders only
    return sql, params


def label_values_sql(name: str, start_ms: int, end_ms: int) -> tuple[str, list[Any]]:
    """SQL for every non-empty value of label ``name`` in [start, end]."""
    where, params = _time_bounds(start_ms, end_ms)
    expr, expr_params = _label_expr(name)
    sql = f"SELECT DISTINCT {expr} AS v FROM metrics WHERE {where} AND {expr} <> ''"  # noqa: S608 - placeholders only
    return sql, [*expr_params, *params, *expr_params]


def series_labels(names: Sequence[str], labels_json: Sequence[str]) -> list[dict[str, str]]:
    """Label sets (``__name__`` included) from the name and labels columns."""
    out = []
    for name, text in zip(names, labels_json, strict=True):
        labels: dict[str, str] = orjson.loads(text) if text else {}
        labels[NAME] = name
        out.append(labels)
    return out


def raw_series(table: pa.Table) -> list[RawSeries]:
    """Rows of ``samples_sql`` as sorted, de-duplicated numpy series."""
    if table.num_rows == 0:
        return []
    times_col = table.column("t").combine_chunks()
    values_col = table.column("v").combine_chunks()
    offsets = times_col.offsets.to_numpy()
    # Microseconds from DuckDB (cheaper than converting there), milliseconds here.
    micros = pc.list_flatten(times_col).cast(pa.int64()).to_numpy(zero_copy_only=False)
    all_times = micros // 1000
    all_values = pc.list_flatten(values_col).to_numpy(zero_copy_only=False)
    base = offsets[0]
    out = []
    for i, labels in enumerate(
        series_labels(table.column("name").to_pylist(), table.column("labels").to_pylist())
    ):
        lo, hi = offsets[i] - base, offsets[i + 1] - base
        times, values = all_times[lo:hi], all_values[lo:hi]
        if len(times) > 1 and np.any(times[1:] < times[:-1]):
            order = np.argsort(times, kind="stable")
            times, values = times[order], values[order]
        if len(times) > 1:
            keep = np.ones(len(times), dtype=bool)
            keep[:-1] = times[1:] != times[:-1]  # one sample per millisecond: the last
            if not keep.all():
                times, values = times[keep], values[keep]
        out.append(RawSeries(labels_of(labels), times, values))
    return out


def stale(values: np.ndarray) -> np.ndarray:
    """Which values are Prometheus staleness markers."""
    return values.view(np.int64) == STALE_NAN_BITS
