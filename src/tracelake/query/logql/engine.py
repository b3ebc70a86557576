"""Running LogQL: SQL where it can, Python stages over the rows where it must.

Log queries select rows with the selector and the pushed-down line filters, newest (or
oldest) first; when Python stages may drop lines, up to the row cap is read so that
``limit`` lines can survive them. Range aggregations over a selector and line filters
alone are counted in DuckDB per group and time bucket (buckets of the greatest common
divisor of step and range, summed into windows here), with ``sum by (...)`` pushed into
the GROUP BY; the others take samples from the pipeline's output. The engine is
sans-IO: it gets a ``Runner`` that executes SQL within the server's limits.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import orjson

from tracelake.query.logql import ast
from tracelake.query.logql.errors import LogQLError
from tracelake.query.logql.labels import ERROR, Entry, entry_of, flatten
from tracelake.query.logql.parser import LINE_FUNCTIONS, parse
from tracelake.query.logql.pipeline import compile_pipeline, run_pipeline
from tracelake.query.logql.sql import (
    FULL_LABELS,
    buckets_sql,
    group_columns,
    rows_sql,
    split_stages,
    where_sql,
)
from tracelake.query.logql.units import bytes_value, duration_ns
from tracelake.query.logql.vectors import (
    Labels,
    Scalar,
    Series,
    Value,
    aggregate,
    binary,
    group_key,
    label_replace,
    labels_of,
    window_values,
)
from tracelake.query.sql import Sql
from tracelake.store.duck import Results

#: Loki's default ``max_query_series``: a metric answer with more series is refused.
MAX_SERIES = 500
#: Time buckets one SQL-counted series may span (step and range with a tiny common
#: divisor would need more).
MAX_BUCKETS = 2_000_000
#: Rows of buckets one SQL-counted range aggregation may return.
MAX_BUCKET_ROWS = 5_000_000


class Runner(Protocol):
    """Executes one statement over ``logs`` pruned to [start, end] (ns), within limits."""

    async def __call__(
        self, sql: Sql, *, start_ns: int | None, end_ns: int | None, max_rows: int, arrow: bool
    ) -> Results: ...


@dataclass(slots=True)
class Stats:
    """What a query read, for Loki's ``stats`` object."""

    lines: int = 0
    bytes: int = 0
    returned: int = 0
    started: float = field(default_factory=time.perf_counter)

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


@dataclass(slots=True)
class Answer:
    """A query's result: streams (entries), a matrix or vector (series), or a scalar."""

    kind: Literal["streams", "matrix", "vector", "scalar"]
    entries: list[Entry] = field(default_factory=list)
    series: dict[Labels, np.ndarray] = field(default_factory=dict)
    scalar: np.ndarray | None = None
    steps: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    stats: Stats = field(default_factory=Stats)


class LogQLEngine:
    def __init__(self, runner: Runner, *, max_rows: int) -> None:
        self.run_sql = runner
        self.max_rows = max_rows

    async def query(
        self,
        text: str,
        *,
        start_ns: int,
        end_ns: int,
        step_ns: int,
        limit: int,
        forward: bool,
        interval_ns: int = 0,
        instant: bool = False,
    ) -> Answer:
        """Evaluate ``text``: a log query over [start, end), a metric query at every
        step from start to end (at ``end`` alone when ``instant``)."""
        tree = parse(text)
        stats = Stats()
        if isinstance(tree, ast.LogQuery):
            entries = await self.logs(tree, start_ns, end_ns, limit, forward, stats)
            if interval_ns > 0:
                entries = _thin(entries, interval_ns, forward)
            stats.returned = len(entries)
            return Answer("streams", entries=entries, stats=stats)
        if instant:
            steps = np.array([end_ns], dtype=np.int64)
        else:
            if step_ns <= 0:
                raise LogQLError(
                    "zero or negative query resolution step widths are not accepted. "
                    "Try a positive integer"
                )
            steps = np.arange(start_ns, end_ns + 1, step_ns, dtype=np.int64)
        value = await self.evaluate(tree, steps, stats)
        if isinstance(value, Scalar):
            return Answer("scalar", scalar=value.values, steps=steps, stats=stats)
        series = {k: v for k, v in value.data.items() if not np.isnan(v).all()}
        if len(series) > MAX_SERIES:
            raise LogQLError(
                f"maximum of series ({MAX_SERIES}) reached for a single query; consider "
                "reducing query cardinality by adding more specific stream selectors, reduce "
                "the time range of the query or apply an aggregation such as sum by (...)"
            )
        stats.returned = len(series)
        return Answer("vector" if instant else "matrix", series=series, steps=steps, stats=stats)

    # --- log queries ----------------------------------------------------------------

    async def logs(
        self,
        query: ast.LogQuery,
        start_ns: int,
        end_ns: int,
        limit: int,
        forward: bool,
        stats: Stats,
    ) -> list[Entry]:
        pushed, rest = split_stages(query.stages)
        fns = compile_pipeline(rest)
        drops = any(not isinstance(s, ast.LineFormat | ast.LabelFormat) for s in rest)
        where = where_sql(query.matchers, pushed, from_ns=start_ns, before_ns=end_ns)
        wanted = self.max_rows if drops else limit
        results = await self.run_sql(
            rows_sql(where, forward=forward, limit=wanted),
            start_ns=start_ns,
            end_ns=end_ns,
            max_rows=wanted,
            arrow=False,
        )
        out: list[Entry] = []
        for row in results.rows:
            entry = entry_of(row)
            stats.lines += 1
            stats.bytes += len(entry.line)
            if run_pipeline(fns, entry):
                out.append(entry)
                if len(out) >= limit:
                    break
        return out

    # --- metric queries -------------------------------------------------------------

    async def evaluate(self, node: ast.MetricExpr, steps: np.ndarray, stats: Stats) -> Value:
        if isinstance(node, ast.NumberLiteral):
            return Scalar(np.full(len(steps), node.value))
        if isinstance(node, ast.VectorLiteral):
            return Series({(): np.full(len(steps), node.value)})
        if isinstance(node, ast.RangeAggregation):
            return await self.range_aggregation(node, steps, stats, None)
        if isinstance(node, ast.VectorAggregation):
            inner = node.expr
            if (
                node.op == "sum"
                and isinstance(inner, ast.RangeAggregation)
                and (node.grouping is None or not node.grouping.without)
                and _countable(inner)
            ):
                by = node.grouping.labels if node.grouping is not None else ()
                value: Value = await self.range_aggregation(inner, steps, stats, by)
            else:
                value = await self.evaluate(inner, steps, stats)
            if not isinstance(value, Series):
                raise LogQLError(f"{node.op} needs a vector, not a scalar")
            return aggregate(node.op, value, node.grouping, node.param)
        if isinstance(node, ast.BinaryOp):
            left = await self.evaluate(node.left, steps, stats)
            right = await self.evaluate(node.right, steps, stats)
            return binary(node, left, right)
        return label_replace(node, await self.evaluate(node.expr, steps, stats))

    async def range_aggregation(
        self,
        node: ast.RangeAggregation,
        steps: np.ndarray,
        stats: Stats,
        by: Sequence[str] | None,
    ) -> Series:
        shifted = steps - node.offset_ns
        if _countable(node):
            return await self._counted(node, shifted, stats, by)
        return await self._sampled(node, shifted, stats)

    async def _counted(
        self, node: ast.RangeAggregation, steps: np.ndarray, stats: Stats, by: Sequence[str] | None
    ) -> Series:
        """Lines or bytes per window, counted by DuckDB in buckets of gcd(step, range)."""
        pushed, _ = split_stages(node.query.stages)
        range_us = max(1, node.range_ns // 1000)
        step_us = int(steps[1] - steps[0]) // 1000 if len(steps) > 1 else range_us
        width = math.gcd(range_us, max(step_us, 1))
        per_step, per_range = step_us // width, range_us // width
        size = (len(steps) - 1) * per_step + per_range
        if size > MAX_BUCKETS:
            raise LogQLError(
                f"step and range [{node.range_ns // 10**9}s] share too small a divisor "
                f"({width} µs) for {len(steps)} steps: choose a step that divides the range"
            )
        origin_us = int(steps[0]) // 1000
        first_ns, last_ns = int(steps[0]) - node.range_ns, int(steps[-1])
        where = where_sql(node.query.matchers, pushed, after_ns=first_ns, until_ns=last_ns)
        labels = list(by) if by is not None else None
        groups = group_columns(labels)
        results = await self.run_sql(
            buckets_sql(where, groups, origin_us, width),
            start_ns=first_ns,
            end_ns=last_ns,
            max_rows=MAX_BUCKET_ROWS,
            arrow=True,
        )
        table = results.table
        assert table is not None
        if results.truncated:
            raise LogQLError(
                f"more than {MAX_BUCKET_ROWS} series-buckets: narrow the selector, "
                "aggregate with sum by (...) or use a longer step"
            )
        names = labels if labels is not None else list(FULL_LABELS)
        key_columns = [table.column(f"g{i}").to_pylist() for i in range(len(names))]
        buckets = table.column("tl_bucket").to_numpy() + per_range - 1
        use_bytes = node.func in ("bytes_over_time", "bytes_rate")
        amounts = table.column("tl_bytes" if use_bytes else "tl_lines").to_numpy().astype(float)
        lines = table.column("tl_lines").to_numpy()
        stats.lines += int(lines.sum())
        stats.bytes += int(table.column("tl_bytes").to_numpy().sum()) if table.num_rows else 0
        index: dict[Labels, int] = {}
        rows = np.empty(table.num_rows, dtype=np.int64)
        for r, key in enumerate(zip(*key_columns, strict=True) if names else [()] * table.num_rows):
            labels_key = _labels_from(names, key, by is None)
            rows[r] = index.setdefault(labels_key, len(index))
        dense = np.zeros((max(len(index), 1), size))
        valid = (buckets >= 0) & (buckets < size)
        np.add.at(dense, (rows[valid], buckets[valid]), amounts[valid])
        cum = np.concatenate((np.zeros((dense.shape[0], 1)), np.cumsum(dense, axis=1)), axis=1)
        ends = np.arange(len(steps)) * per_step + per_range
        totals = cum[:, ends] - cum[:, ends - per_range]
        seconds = node.range_ns / 1e9
        if node.func == "absent_over_time":
            present = totals.sum(axis=0) > 0 if index else np.zeros(len(steps), dtype=bool)
            matchers = {m.name: m.value for m in node.query.matchers if m.op == "="}
            return Series({labels_of(matchers): np.where(present, np.nan, 1.0)})
        out: dict[Labels, np.ndarray] = {}
        for labels_key, r in index.items():
            values = totals[r]
            if node.func in ("rate", "bytes_rate"):
                values = values / seconds
            out[labels_key] = np.where(totals[r] > 0, values, np.nan)
        return Series(out)

    async def _sampled(self, node: ast.RangeAggregation, steps: np.ndarray, stats: Stats) -> Series:
        """Samples from the pipeline's output (parsers, label filters, unwrap)."""
        pushed, rest = split_stages(node.query.stages)
        fns = compile_pipeline(rest)
        unwrap = node.unwrap
        post = compile_pipeline(unwrap.filters) if unwrap is not None else []
        first_ns, last_ns = int(steps[0]) - node.range_ns, int(steps[-1])
        where = where_sql(node.query.matchers, pushed, after_ns=first_ns, until_ns=last_ns)
        results = await self.run_sql(
            rows_sql(where, forward=True, limit=self.max_rows),
            start_ns=first_ns,
            end_ns=last_ns,
            max_rows=self.max_rows,
            arrow=False,
        )
        if results.truncated:
            raise LogQLError(
                f"this query runs parsers or unwrap over more than {self.max_rows} lines "
                "(query_max_rows): narrow the selector or add line filters, which run in the "
                "database, or shorten the time range"
            )
        samples: dict[Labels, tuple[list[int], list[float]]] = {}
        for row in results.rows:
            entry = entry_of(row)
            stats.lines += 1
            stats.bytes += len(entry.line)
            if not run_pipeline(fns, entry):
                continue
            if unwrap is None:
                value = float(len(entry.line.encode())) if "bytes" in node.func else 1.0
            else:
                unwrapped = _unwrapped(entry, unwrap)
                if not run_pipeline(post, entry):
                    continue
                entry.delete(unwrap.label)
                if unwrapped is None and not entry.has_error():
                    continue
                value = math.nan if unwrapped is None else unwrapped
            key = labels_of(entry.labels())
            if node.grouping is not None:
                key = group_key(key, node.grouping)
            ts, values = samples.setdefault(key, ([], []))
            ts.append(entry.ts)
            values.append(value)
        if node.func == "absent_over_time":
            matchers = {m.name: m.value for m in node.query.matchers if m.op == "="}
            present = np.zeros(len(steps), dtype=bool)
            for ts, _ in samples.values():
                counts = window_values(
                    "count_over_time", np.array(ts), np.ones(len(ts)), steps, node.range_ns, None
                )
                present |= ~np.isnan(counts)
            return Series({labels_of(matchers): np.where(present, np.nan, 1.0)})
        out: dict[Labels, np.ndarray] = {}
        for key, (ts, values) in samples.items():
            error = dict(key).get(ERROR)
            if error:  # Loki fails the range aggregation, before any sum by (...) hides it
                raise LogQLError(
                    f"pipeline error: '{error}' for series: '{_format_labels(key)}'. "
                    f'Use a label filter to intentionally skip this error. (e.g | __error__!="{error}")'
                )
            order = np.argsort(np.array(ts), kind="stable")
            out[key] = window_values(
                node.func,
                np.array(ts)[order],
                np.array(values, dtype=float)[order],
                steps,
                node.range_ns,
                node.param,
            )
        return Series(out)


def _countable(node: ast.RangeAggregation) -> bool:
    """Whether DuckDB can count this aggregation alone (selector and line filters)."""
    _, rest = split_stages(node.query.stages)
    return (
        node.func in LINE_FUNCTIONS and node.unwrap is None and not rest and node.grouping is None
    )


def _labels_from(names: Sequence[str], key: tuple[Any, ...], full: bool) -> Labels:
    if not full:
        return labels_of({n: v for n, v in zip(names, key, strict=True) if v is not None})
    service, level, host, logger, trace_id, span_id, attributes = key
    labels: dict[str, str] = {}
    if attributes:
        parsed = orjson.loads(attributes)
        if isinstance(parsed, dict):
            flatten(parsed, labels)
    for name, value in (("logger", logger), ("trace_id", trace_id), ("span_id", span_id)):
        if value:
            labels[name] = value
    for name, value in (("service", service), ("level", level), ("host", host)):
        labels.pop(name, None)
        if value:
            labels[name] = value.lower() if name == "level" else value
    return labels_of(labels)


def _unwrapped(entry: Entry, unwrap: ast.Unwrap) -> float | None:
    text = entry.get(unwrap.label)
    if text is None:
        return None
    value: float | None
    if unwrap.conversion in ("duration", "duration_seconds"):
        ns = duration_ns(text.strip())
        value = None if ns is None else ns / 1e9
    elif unwrap.conversion == "bytes":
        value = bytes_value(text)
    else:
        try:
            value = float(text)
        except ValueError:
            value = None
    if value is None:
        entry.set_error("SampleExtractionErr", f"cannot unwrap {unwrap.label}={text!r}")
    return value


def _thin(entries: list[Entry], interval_ns: int, forward: bool) -> list[Entry]:
    """``interval``: at most one line per interval and stream, the first in the order."""
    last: dict[Labels, int] = {}
    out = []
    for entry in entries:
        key = labels_of(entry.labels())
        previous = last.get(key)
        if previous is None or abs(entry.ts - previous) >= interval_ns:
            last[key] = entry.ts
            out.append(entry)
    return out


def _format_labels(labels: Labels) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in labels) + "}"
