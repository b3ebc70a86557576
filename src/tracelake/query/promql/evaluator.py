"""The evaluator: a PromQL syntax tree, evaluated at every step of a query at once.

Sans-IO: samples come from an injected ``Loader`` (the engine's reads the lake), the
rest is numpy over the values of ``values.py``. Each node is evaluated once for all
steps — a selector loads its samples once for the whole range — so a range query costs
about what one instant query over the same span does.

Selectors see the sample at or before each step within the lookback delta (5 m by
default), left-open as in Prometheus 3; a staleness marker as that sample means the
series is absent. ``offset`` and ``@`` move the time each selector is read at. A
subquery is a child evaluator at its own aligned steps, whose vector becomes a range. Series
leave a selector sorted by label set, as Prometheus's storage hands them over, because
what depends on input order (which of tied series topk keeps) should answer as it does.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import promql_parser as pp

from tracelake.errors import QueryError, QueryTimeout
from tracelake.query.promql import aggregate as agg
from tracelake.query.promql import binary, functions, histogram, rangefuncs
from tracelake.query.promql.errors import EvaluationError
from tracelake.query.promql.selectors import OPS, Matcher, stale
from tracelake.query.promql.values import (
    LABEL_NAME,
    NAME,
    Floats,
    Ints,
    Labels,
    Matrix,
    RawSeries,
    Scalar,
    Series,
    String,
    Value,
    Vector,
    drop_name,
    labels_of,
    unique_labels,
)

Loader = Callable[[Sequence[Matcher], int, int], list[RawSeries]]

_CARD = {
    "OneToOne": "one-to-one",
    "ManyToOne": "many-to-one",
    "OneToMany": "one-to-many",
    "ManyToMany": "many-to-many",
}


def kind(member: object) -> str:
    """The variant name of one of the parser's enums (``MatchOp.Re`` → ``Re``)."""
    return str(member).rsplit(".", 1)[-1]


def _ms(delta: object) -> int:
    """A timedelta (or None) in whole milliseconds."""
    if delta is None:
        return 0
    return round(delta.total_seconds() * 1000)  # type: ignore[attr-defined]


def _offset_ms(vs: pp.VectorSelector | pp.SubqueryExpr) -> int:
    """The selector's ``offset`` in ms; one past what a timedelta holds is a QueryError."""
    try:
        return _ms(vs.offset)
    except OverflowError as e:  # the parser's duration is wider than a timedelta
        raise QueryError(
            "the offset is longer than 2,700,000 years: give an offset such as 5m or 1w"
        ) from e


def _at_ms(at: pp.AtModifier) -> int:
    """An ``@ <time>`` in ms (``limits.check_text`` kept it from 1970 to 9999)."""
    try:
        return round(at.at.timestamp() * 1000)  # type: ignore[union-attr]
    except (OverflowError, ValueError) as e:
        raise QueryError(f"the @ modifier's time is outside the accepted times: {e}") from e


def matchers_of(vs: pp.VectorSelector) -> list[Matcher]:
    """The selector's matchers; ``{a="1" or b="2"}`` has several sets (``matcher_sets``)."""
    if vs.matchers.or_matchers:
        raise QueryError(
            "'or' inside a selector's braces is not allowed here: give one set of matchers"
        )
    return _with_name(vs, vs.matchers.matchers)


def _with_name(vs: pp.VectorSelector, matchers: Sequence[pp.Matcher]) -> list[Matcher]:
    out = [Matcher(m.name, OPS[kind(m.op)], m.value) for m in matchers]
    if vs.name is not None:
        out.append(Matcher(NAME, "=", vs.name))
    return out


def matcher_sets(vs: pp.VectorSelector) -> list[list[Matcher]]:
    """Each alternative of ``{a="1" or b="2"}`` (Prometheus 3), or the one set."""
    if vs.matchers.or_matchers:
        return [_with_name(vs, group) for group in vs.matchers.or_matchers]
    return [_with_name(vs, vs.matchers.matchers)]


def unsupported(what: str) -> QueryError:
    """The one refusal of a valid PromQL construct tracelake does not evaluate."""
    return QueryError(f"{what} is not supported by tracelake's PromQL (see docs/promql.md)")


#: The default step of a subquery without one (``m[1h:]``): Prometheus's default
#: global ``evaluation_interval``.
SUBQUERY_STEP_MS = 60_000


@dataclass
class Evaluator:
    """Evaluates expressions at ``steps`` (ms since the epoch, ascending)."""

    loader: Loader
    steps: Ints
    start_ms: int
    end_ms: int
    lookback_ms: int = 300_000
    deadline: float = math.inf
    max_samples: int = 50_000_000
    samples: int = 0
    subquery_step_ms: int = SUBQUERY_STEP_MS
    #: The query's own step (``step()``): -1 means the step between ``steps``.
    query_step_ms: int = -1

    def __post_init__(self) -> None:
        if self.query_step_ms < 0:
            self.query_step_ms = int(self.steps[1] - self.steps[0]) if self.n > 1 else 0

    @property
    def n(self) -> int:
        return len(self.steps)

    def eval(self, node: pp.Expr) -> Value:
        """``node`` at every step; a vector comes back with one series per label set."""
        value = self._eval(node)
        if isinstance(value, Vector):
            value = Vector(unique_labels(value.series))
            self._check_samples(len(value.series) * self.n, "hold", "(series x steps)")
        return value

    def _check_samples(self, count: int, verb: str, what: str) -> None:
        if count > self.max_samples:
            raise EvaluationError(
                f"query processing would {verb} more than {self.max_samples} samples {what}: "
                "narrow the time range or the selector, or raise the step"
            )

    def _eval(self, node: pp.Expr) -> Value:
        if time.monotonic() > self.deadline:
            raise QueryTimeout(
                "query ran past its time limit: narrow the time range or the selector"
            )
        if isinstance(node, pp.NumberLiteral):
            return Scalar(np.full(self.n, float(node.val)))
        if isinstance(node, pp.StringLiteral):
            return String(node.val)
        if isinstance(node, pp.ParenExpr):
            return self.eval(node.expr)
        if isinstance(node, pp.UnaryExpr):
            return self._negate(self.eval(node.expr))
        if isinstance(node, pp.VectorSelector):
            return self.vector_selector(node)
        if isinstance(node, pp.MatrixSelector):
            return self.matrix_selector(node)
        if isinstance(node, pp.BinaryExpr):
            return self.binary(node)
        if isinstance(node, pp.AggregateExpr):
            return self.aggregate(node)
        if isinstance(node, pp.Call):
            return self.call(node)
        if isinstance(node, pp.SubqueryExpr):
            return self.subquery(node)
        raise QueryError(f"unsupported expression {type(node).__name__}: see docs/promql.md")

    # -- selectors -------------------------------------------------------------------

    def _read_times(self, vs: pp.VectorSelector | pp.SubqueryExpr) -> Ints:
        at = vs.at
        if at is None:
            base = self.steps
        else:
            which = kind(at.type)
            assert which != "At" or at.at is not None
            moment = (
                self.start_ms if which == "Start" else self.end_ms if which == "End" else _at_ms(at)
            )
            base = np.full(self.n, moment, dtype=np.int64)
        return base - _offset_ms(vs)

    def _load(self, vs: pp.VectorSelector, start_ms: int, end_ms: int) -> list[RawSeries]:
        sets = matcher_sets(vs)
        loaded = self.loader(sets[0], start_ms, end_ms)
        if len(sets) > 1:  # {a="1" or b="2"}: the union, each series once
            found = {s.labels: s for s in loaded}
            for matchers in sets[1:]:
                for s in self.loader(matchers, start_ms, end_ms):
                    found.setdefault(s.labels, s)
            loaded = list(found.values())
        self.samples += sum(len(s.times) for s in loaded)
        self._check_samples(self.samples, "load", "into memory")
        return sorted(loaded, key=lambda s: s.labels)

    def vector_selector(self, vs: pp.VectorSelector) -> Vector:
        return self._select(vs)[0]

    def _select(self, vs: pp.VectorSelector) -> tuple[Vector, list[Ints]]:
        """The selector's vector, and for each series the time of the sample it took at
        each step (what timestamp() answers)."""
        times = self._read_times(vs)
        loaded = self._load(vs, int(times.min()) - self.lookback_ms, int(times.max()))
        out, sampled = [], []
        for s in loaded:
            idx = np.searchsorted(s.times, times, side="right") - 1
            valid = idx >= 0
            at = np.where(valid, idx, 0)
            present = valid & (s.times[at] > times - self.lookback_ms) & ~stale(s.values[at])
            if present.any():
                out.append(Series(s.labels, s.values[at], present))
                sampled.append(s.times[at])
        return Vector(out), sampled

    def matrix_selector(self, ms: pp.MatrixSelector, *, moving_at: bool = False) -> Matrix:
        """``m[range]``; ``moving_at``: read as Prometheus reads the range argument of a
        function that depends on the evaluation time (predict_linear) under ``@``: it
        loads the samples of the ``@`` window only, but moves the window with the step,
        so later steps see the part of that window their own still covers."""
        vs = ms.vector_selector
        range_ms = _ms(ms.range)
        times = self._read_times(vs)
        loaded = self._load(vs, int(times.min()) - range_ms, int(times.max()))
        if moving_at and vs.at is not None:
            times = times + (self.steps - self.steps[0])
        series = []
        for s in loaded:
            fresh = ~stale(s.values)
            if not fresh.all():
                s = RawSeries(s.labels, s.times[fresh], s.values[fresh])
            if len(s.times):
                series.append(s)
        return Matrix(series, range_ms, times, self.steps)

    def subquery(self, sq: pp.SubqueryExpr) -> Matrix:
        """``expr[range:step]``: ``expr`` evaluated at every multiple of the step (since
        the epoch) inside the windows, (read time - range, read time], as Prometheus 3."""
        range_ms = _ms(sq.range)
        step_ms = _ms(sq.step) or self.subquery_step_ms
        times = self._read_times(sq)
        first = int(times.min()) - range_ms
        start = step_ms * (first // step_ms)
        if start <= first:
            start += step_ms
        end = int(times.max())
        count = max((end - start) // step_ms + 1, 0)
        self._check_samples(count, "evaluate", "(subquery steps)")
        if count == 0:
            return Matrix([], range_ms, times, self.steps)
        inner = Evaluator(
            loader=self.loader,
            steps=np.arange(start, end + 1, step_ms, dtype=np.int64),
            start_ms=self.start_ms,
            end_ms=self.end_ms,
            lookback_ms=self.lookback_ms,
            deadline=self.deadline,
            max_samples=self.max_samples,
            samples=self.samples,
            subquery_step_ms=self.subquery_step_ms,
            query_step_ms=self.query_step_ms,
        )
        value = inner.eval(sq.expr)
        self.samples = inner.samples
        vector = self._vector(value, "a subquery")
        series = [
            RawSeries(s.labels, inner.steps[s.present], s.values[s.present])
            for s in vector.series
            if s.present.any()
        ]
        return Matrix(series, range_ms, times, self.steps)

    # -- operators -------------------------------------------------------------------

    def _negate(self, value: Value) -> Value:
        if isinstance(value, Scalar):
            return Scalar(-value.values)
        if isinstance(value, Vector):
            return Vector([Series(drop_name(s.labels), -s.values, s.present) for s in value.series])
        raise QueryError("unary minus applies to numbers and instant vectors only")

    def binary(self, node: pp.BinaryExpr) -> Value:
        op = str(node.op)
        lhs, rhs = self.eval(node.lhs), self.eval(node.rhs)
        mod = node.modifier
        return_bool = bool(mod and mod.return_bool)
        if isinstance(lhs, Scalar) and isinstance(rhs, Scalar):
            return binary.scalars(op, lhs, rhs)
        if isinstance(lhs, Vector) and isinstance(rhs, Scalar):
            return binary.vector_scalar(op, lhs, rhs, scalar_left=False, bool_=return_bool)
        if isinstance(lhs, Scalar) and isinstance(rhs, Vector):
            return binary.vector_scalar(op, rhs, lhs, scalar_left=True, bool_=return_bool)
        if not (isinstance(lhs, Vector) and isinstance(rhs, Vector)):
            raise QueryError(f"operator {op} needs numbers or instant vectors on both sides")
        matching = binary.Matching(return_bool=return_bool)
        if mod is not None:
            on_labels = mod.matching
            matching = binary.Matching(
                card=_CARD[kind(mod.card)],
                on=on_labels is not None and kind(on_labels.type) == "Include",
                labels=tuple(on_labels.labels) if on_labels is not None else (),
                include=tuple(mod.group_labels or ()),
                return_bool=return_bool,
            )
        if op in binary.SET:
            return binary.set_operation(op, lhs, rhs, matching, self.n)
        return binary.vectors(op, lhs, rhs, matching, self.n)

    def aggregate(self, node: pp.AggregateExpr) -> Vector:
        op = str(node.op)
        if op == "limit_ratio":
            raise unsupported("aggregation limit_ratio()")
        inner = self._vector(self.eval(node.expr), f"{op}()")
        by: list[str] | None = None
        drop: list[str] | None = None
        if node.modifier is not None:
            if kind(node.modifier.type) == "By":
                by = list(node.modifier.labels)
            else:
                drop = list(node.modifier.labels)
        else:
            by = []
        param: np.ndarray | str | None = None
        if node.param is not None:
            value = self.eval(node.param)
            if isinstance(value, String):
                param = value.value
                if not LABEL_NAME.fullmatch(param):
                    raise QueryError(
                        f"invalid label name {param!r} in count_values(): use letters, "
                        "digits and underscores, not starting with a digit"
                    )
            elif isinstance(value, Scalar):
                param = value.values
            else:
                raise QueryError(f"the parameter of {op}() must be a number or a string")
        return agg.aggregate(op, inner, self.n, by=by, drop=drop, param=param)

    # -- functions -------------------------------------------------------------------

    def _vector(self, value: Value, where: str) -> Vector:
        if not isinstance(value, Vector):
            raise QueryError(f"{where} expects an instant vector")
        return value

    def _scalar(self, value: Value, where: str) -> Floats:
        if not isinstance(value, Scalar):
            raise QueryError(f"{where} expects a number")
        return value.values

    def _matrix(self, value: Value, where: str) -> Matrix:
        if not isinstance(value, Matrix):
            raise QueryError(f"{where} expects a range vector such as metric[5m]")
        return value

    def _string(self, value: Value, where: str) -> str:
        if not isinstance(value, String):
            raise QueryError(f"{where} expects a string")
        return value.value

    def call(self, node: pp.Call) -> Value:
        name = node.func.name
        args = list(node.args)
        where = f"{name}()"
        if name in rangefuncs.RANGE_FUNCTIONS:
            return Vector(rangefuncs.apply_range(name, self._matrix(self.eval(args[0]), where)))
        if name == "predict_linear":
            arg = args[0]
            while isinstance(arg, pp.ParenExpr):
                arg = arg.expr
            if isinstance(arg, pp.MatrixSelector):
                matrix = self.matrix_selector(arg, moving_at=True)
            else:
                matrix = self._matrix(self.eval(arg), where)
            return Vector(rangefuncs.predict(matrix, self._scalar(self.eval(args[1]), where)))
        if name == "double_exponential_smoothing":
            matrix = self._matrix(self.eval(args[0]), where)
            sf, tf = (self._scalar(self.eval(a), where) for a in args[1:3])
            return Vector(rangefuncs.smooth(matrix, sf, tf))
        if name == "timestamp":
            return self._timestamp(args[0])
        if name in functions.DATE_FUNCTIONS:
            if args:
                v = self._vector(self.eval(args[0]), where)
            else:
                v = functions.vector(Scalar((self.steps // 1000).astype(np.float64)))
            return functions.date_function(name, v)
        if name == "pi":
            return Scalar(np.full(self.n, math.pi))
        if name in ("start", "end", "range", "step"):  # Prometheus 3: the query's own
            seconds = {
                "start": self.start_ms,
                "end": self.end_ms,
                "range": self.end_ms - self.start_ms,
                "step": self.query_step_ms,
            }[name] / 1000.0
            return Scalar(np.full(self.n, seconds))
        if name == "histogram_quantiles":
            v = self._vector(self.eval(args[0]), where)
            label = self._string(self.eval(args[1]), where)
            qs = [self._scalar(self.eval(a), where) for a in args[2:]]
            return histogram.histogram_quantiles(v, label, qs, self.n)
        if name in ("sort_by_label", "sort_by_label_desc"):
            v = self._vector(self.eval(args[0]), where)
            names = [self._string(self.eval(a), where) for a in args[1:]]
            return functions.sort_by_label(v, names, descending=name.endswith("_desc"))
        if name in functions.NATIVE_HISTOGRAM_FUNCTIONS:
            for a in args:
                self.eval(a)
            return Vector([])
        if name == "quantile_over_time":
            q = self._scalar(self.eval(args[0]), where)
            matrix = self._matrix(self.eval(args[1]), where)
            return Vector(rangefuncs.quantile_over_time(q, matrix))
        if name == "histogram_quantile":
            q = self._scalar(self.eval(args[0]), where)
            return histogram.histogram_quantile(q, self._vector(self.eval(args[1]), where), self.n)
        if name in functions.MATH_FUNCTIONS:
            return functions.math_function(name, self._vector(self.eval(args[0]), where))
        if name == "round":
            v = self._vector(self.eval(args[0]), where)
            to = self._scalar(self.eval(args[1]), where) if len(args) > 1 else np.ones(self.n)
            return functions.round_(v, to)
        if name in ("clamp", "clamp_min", "clamp_max"):
            v = self._vector(self.eval(args[0]), where)
            bounds = [self._scalar(self.eval(a), where) for a in args[1:]]
            low = bounds[0] if name != "clamp_max" else np.full(self.n, -math.inf)
            high = bounds[-1] if name != "clamp_min" else np.full(self.n, math.inf)
            return functions.clamp(v, low, high)
        if name == "scalar":
            return functions.scalar(self._vector(self.eval(args[0]), where), self.n)
        if name == "vector":
            return functions.vector(Scalar(self._scalar(self.eval(args[0]), where)))
        if name == "time":
            return Scalar(self.steps / 1000.0)
        if name in ("sort", "sort_desc"):
            v = self._vector(self.eval(args[0]), where)
            return functions.sort_by_value(v, descending=name == "sort_desc")
        if name == "label_replace":
            v = self._vector(self.eval(args[0]), where)
            dst, replacement, src, regex = (self._string(self.eval(a), where) for a in args[1:5])
            return functions.label_replace(v, dst, replacement, src, regex)
        if name == "label_join":
            v = self._vector(self.eval(args[0]), where)
            strings = [self._string(self.eval(a), where) for a in args[1:]]
            return functions.label_join(v, strings[0], strings[1], strings[2:])
        if name == "absent":
            v = self._vector(self.eval(args[0]), where)
            return functions.absent(v, self._absent_labels(args[0]), self.n)
        if name == "absent_over_time":
            matrix = self._matrix(self.eval(args[0]), where)
            present = Vector(rangefuncs.apply_range("present_over_time", matrix))
            return functions.absent(present, self._absent_labels(args[0]), self.n)
        raise unsupported(f"function {name}()")

    def _timestamp(self, arg: pp.Expr) -> Vector:
        """timestamp(): of a selector, the time of each sample it took (offset and @
        included); of anything else, the evaluation time, as in Prometheus."""
        while isinstance(arg, pp.ParenExpr):
            arg = arg.expr
        if isinstance(arg, pp.VectorSelector):
            vector, sampled = self._select(arg)
            return functions.timestamps(vector, np.array(sampled).reshape(-1, self.n))
        vector = self._vector(self.eval(arg), "timestamp()")
        return functions.timestamps(vector, self.steps)

    @staticmethod
    def _absent_labels(arg: pp.Expr) -> Labels:
        """absent()'s labels, as Prometheus picks them from the selector: the first ``=``
        matcher of a label pins it, any later matcher of that label unpins it for good
        (the value is then not known), the metric name aside."""
        vs = arg.vector_selector if isinstance(arg, pp.MatrixSelector) else arg
        if not isinstance(vs, pp.VectorSelector):
            return ()
        pinned: dict[str, str] = {}
        once: set[str] = set()
        for m in vs.matchers.matchers:
            if m.name == NAME:
                continue
            if kind(m.op) == "Equal" and m.name not in once:
                pinned[m.name] = m.value
                once.add(m.name)
            else:
                pinned.pop(m.name, None)
        return labels_of(pinned)
