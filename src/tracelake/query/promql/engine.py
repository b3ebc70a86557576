"""``PromQLEngine``: PromQL over the lake — parse, read the samples, evaluate.

The thin shell around the sans-IO evaluator: it parses with ``promql-parser`` (the
Python binding of GreptimeTeam's Rust parser), reads each selector's series from the
``metrics`` table through the store's DuckDB engine (pool, time limit, series cap), and
evaluates at the query's steps. Synchronous: callers on an event loop run it in a thread.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import promql_parser as pp
import pyarrow as pa

from tracelake.errors import QueryError
from tracelake.query.promql.aliases import rewrite
from tracelake.query.promql.errors import EvaluationError
from tracelake.query.promql.evaluator import Evaluator, matchers_of
from tracelake.query.promql.limits import check_text
from tracelake.query.promql.selectors import (
    Matcher,
    label_names_sql,
    label_values_sql,
    raw_series,
    samples_sql,
    series_labels,
    series_sql,
)
from tracelake.query.promql.values import (
    Ints,
    Matrix,
    RawSeries,
    Scalar,
    String,
    Value,
    Vector,
)
from tracelake.settings import Settings
from tracelake.store import Store

MAX_QUERY_CHARS = 64 * 1024
#: As Prometheus: a range query may have at most this many steps.
MAX_POINTS = 11_000


def parse(query: str) -> pp.Expr:
    """The syntax tree of ``query``; QueryError with the parser's one-line message."""
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(
            f"query is {len(query)} characters long, over the limit of {MAX_QUERY_CHARS}: "
            "shorten it, or split it into several queries"
        )
    check_text(query)  # depth and @ times: past them the Rust parser crashes or panics
    try:
        return pp.parse(rewrite(query))
    except ValueError as e:
        message = str(e).strip().splitlines()[0] if str(e).strip() else "does not parse"
        raise QueryError(f"parse error: {message}") from e


def parse_selector(text: str) -> list[Matcher]:
    """A ``match[]`` series selector (``up``, ``{job="x"}``) as matchers."""
    node = parse(text)
    if not isinstance(node, pp.VectorSelector):
        raise QueryError(f'match[] must be a series selector such as up{{job="x"}}, got {text!r}')
    return matchers_of(node)


@dataclass(slots=True)
class QueryResult:
    """What a query gave: ``value`` evaluated at ``steps`` (ms)."""

    value: Value
    steps: Ints


class PromQLEngine:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    # -- reading the lake --------------------------------------------------------------

    def _run(self, sql: str, params: list[object], start_ms: int, end_ms: int) -> pa.Table:
        results = self.store.query(
            sql,
            params,
            tables=["metrics"],
            start_us=start_ms * 1000,
            end_us=end_ms * 1000 + 1,
            timeout_s=self.settings.query_timeout_s,
            max_rows=self.settings.query_max_rows,
            arrow=True,
        )
        if results.truncated:
            raise EvaluationError(
                f"the answer has more than {self.settings.query_max_rows} series or values "
                "(query_max_rows): add label matchers or narrow the time range"
            )
        assert results.table is not None
        return results.table

    def load(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[RawSeries]:
        """The samples of every series ``matchers`` select in [start, end]."""
        sql, params = samples_sql(matchers, start_ms, end_ms)
        table = self._run(sql, params, start_ms, end_ms)
        return raw_series(table)

    def series(
        self, selectors: Sequence[str], start_s: float, end_s: float
    ) -> list[dict[str, str]]:
        """Label sets of the series any of ``selectors`` match in the time range."""
        start_ms, end_ms = round(start_s * 1000), round(end_s * 1000)
        seen: dict[frozenset[tuple[str, str]], dict[str, str]] = {}
        for text in selectors:
            sql, params = series_sql(parse_selector(text), start_ms, end_ms)
            table = self._run(sql, params, start_ms, end_ms)
            names, labels_json = (
                table.column("name").to_pylist(),
                table.column("labels").to_pylist(),
            )
            for labels in series_labels(names, labels_json):
                seen.setdefault(frozenset(labels.items()), labels)
        return list(seen.values())

    def label_names(self, selectors: Sequence[str], start_s: float, end_s: float) -> list[str]:
        """Label names; without selectors straight from the lake, not series by series."""
        if selectors:
            series = self.series(selectors, start_s, end_s)
            return sorted({name for labels in series for name in labels})
        return sorted(self._distinct(label_names_sql, start_s, end_s))

    def label_values(
        self, name: str, selectors: Sequence[str], start_s: float, end_s: float
    ) -> list[str]:
        """Values of label ``name``; without selectors straight from the lake."""
        if selectors:
            series = self.series(selectors, start_s, end_s)
            return sorted({s[name] for s in series if s.get(name, "") != ""})
        return sorted(self._distinct(lambda a, b: label_values_sql(name, a, b), start_s, end_s))

    def _distinct(
        self,
        build: Callable[[int, int], tuple[str, list[object]]],
        start_s: float,
        end_s: float,
    ) -> set[str]:
        start_ms, end_ms = round(start_s * 1000), round(end_s * 1000)
        sql, params = build(start_ms, end_ms)
        return {v for v in self._run(sql, params, start_ms, end_ms).column("v").to_pylist() if v}

    # -- evaluating ----------------------------------------------------------------------

    def _evaluator(self, steps: Ints, start_ms: int, end_ms: int) -> Evaluator:
        return Evaluator(
            loader=self.load,
            steps=steps,
            start_ms=start_ms,
            end_ms=end_ms,
            lookback_ms=round(self.settings.promql_lookback_delta_s * 1000),
            deadline=time.monotonic() + self.settings.query_timeout_s,
            max_samples=self.settings.promql_max_samples,
        )

    def instant(self, query: str, time_s: float) -> QueryResult:
        """``query`` at one time: a vector, scalar, string, or a range vector's samples."""
        node = parse(query)
        at = round(time_s * 1000)
        steps = np.array([at], dtype=np.int64)
        value = self._evaluator(steps, at, at).eval(node)
        if isinstance(value, Matrix):
            value = _window_samples(value)
        return QueryResult(value, steps)

    def range(self, query: str, start_s: float, end_s: float, step_s: float) -> QueryResult:
        """``query`` at every step from start to end: a vector or a scalar. A vector's
        series come sorted by label set, as Prometheus sorts a range query's matrix."""
        if end_s < start_s:
            raise QueryError("end timestamp must not be before start time")
        if not step_s > 0 or math.isinf(step_s):
            raise QueryError(
                "zero or negative query resolution step widths are not accepted. Try a positive integer"
            )
        if (end_s - start_s) / step_s > MAX_POINTS:
            raise QueryError(
                f"exceeded maximum resolution of {MAX_POINTS:,} points per timeseries. "
                "Try decreasing the query resolution (?step=XX)"
            )
        node = parse(query)
        start_ms, end_ms, step_ms = round(start_s * 1000), round(end_s * 1000), round(step_s * 1000)
        steps = np.arange(start_ms, end_ms + 1, max(step_ms, 1), dtype=np.int64)
        value = self._evaluator(steps, start_ms, end_ms).eval(node)
        if isinstance(value, Matrix | String):
            kind = "range vector" if isinstance(value, Matrix) else "string"
            raise QueryError(
                f'invalid expression type "{kind}" for range query, must be Scalar or instant Vector'
            )
        if isinstance(value, Vector):
            value = Vector(sorted(value.series, key=lambda s: s.labels))
        return QueryResult(value, steps)

    def vector(self, query: str, time_s: float) -> list[tuple[dict[str, str], float]]:
        """An instant query as (labels, value) pairs; a scalar is one pair with no labels.

        The form alerting rules need; a range-vector or string result is a QueryError.
        """
        value = self.instant(query, time_s).value
        if isinstance(value, Scalar):
            return [({}, float(value.values[0]))]
        if not isinstance(value, Vector):
            raise QueryError("the query must give an instant vector or a scalar")
        return [(dict(s.labels), float(s.values[0])) for s in value.series if bool(s.present[0])]


def _window_samples(matrix: Matrix) -> Matrix:
    """An instant query of ``m[5m]``: each series' samples in the window, as they are."""
    end = int(matrix.ends[0])
    out = []
    for s in matrix.series:
        keep = (s.times > end - matrix.range_ms) & (s.times <= end)
        if keep.any():
            out.append(RawSeries(s.labels, s.times[keep], s.values[keep]))
    return Matrix(out, matrix.range_ms, matrix.ends)
