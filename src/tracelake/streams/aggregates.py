"""Aggregates of a continuous query: SQL for each, and the name it is stored under.

The functions are the search language's ``stats`` functions with the same meaning
(count, count of a field, count_distinct, sum, avg, min, max, p50/p90/p95/p99 as exact
``quantile_cont``), restricted to what makes a metric value: a number. Fields resolve
through the search language's ``resolve`` with the source's shape, so ``latency_ms``
(or ``payload.amount`` in events) means the same here as in a search. A *ratio* is
the share of a group's records that also match a filter.

Names are Prometheus-safe (``[a-zA-Z_][a-zA-Z0-9_]*``) because each becomes the tail of
a metric name ``tracelake_cq_<query>_<name>``; group keys become label names the
same way (``http.status`` → ``http_status``; ``payload.status`` → ``status``).
"""

from __future__ import annotations

import re

from tracelake.errors import QueryError
from tracelake.query import ast
from tracelake.query.sql import FieldKind, Shape, Sql, resolve

_PERCENTILES = {"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99}
_NUMERIC = ("sum", "avg", "min", "max", *_PERCENTILES)
_UNSAFE = re.compile(r"[^A-Za-z0-9_]+")


def metric_safe(text: str) -> str:
    """``text`` as a Prometheus metric or label name part: other characters become ``_``."""
    name = _UNSAFE.sub("_", text).strip("_") or "_"
    return "_" + name if name[0].isdigit() else name


def aggregate_name(agg: ast.Aggregate) -> str:
    """``count() as orders`` → ``orders``; ``p95(latency_ms)`` → ``p95_latency_ms``."""
    if agg.alias:
        return metric_safe(agg.alias)
    return metric_safe(agg.func if agg.field is None else f"{agg.func}_{agg.field}")


def aggregate_sql(agg: ast.Aggregate, shape: Shape) -> Sql:
    """The DuckDB expression of ``agg``; QueryError when it would not give a number."""
    if agg.field is None:
        return Sql("count(*)")
    field = resolve(agg.field, shape)
    if agg.func == "count":
        return field.expr.wrap("count(", ")")
    if agg.func == "count_distinct":
        return field.expr.wrap("count(DISTINCT ", ")")
    if agg.func not in _NUMERIC:
        raise QueryError(f"unknown aggregate {agg.func}()")
    if field.kind is not FieldKind.ATTRIBUTE:
        raise QueryError(
            f"{agg.func}() needs a numeric attribute field, and '{field.name}' is a column "
            "that holds text or time"
        )
    if agg.func in _PERCENTILES:
        return field.number.wrap("quantile_cont(", ", ?)").bind(_PERCENTILES[agg.func])
    return field.number.wrap(f"{agg.func}(", ")")


def ratio_sql(where: Sql) -> Sql:
    """Share (0..1) of the group's records for which ``where`` holds (NULL counts as no)."""
    return where.wrap("avg(CASE WHEN (", ") THEN 1.0 ELSE 0.0 END)")


def group_key_sql(name: str, shape: Shape) -> tuple[str, Sql]:
    """A group key's label name and its value as text (``payload.status`` → ``status``)."""
    field = resolve(name, shape)
    if field.kind is FieldKind.TIME:
        raise QueryError("group_by cannot take timestamp: the window is the time key")
    label = field.name
    if field.kind is FieldKind.ATTRIBUTE:
        label = label.removeprefix(shape.json_prefix)
    return metric_safe(label), field.expr
