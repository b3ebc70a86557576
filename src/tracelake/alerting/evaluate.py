"""Running a rule's query: PromQL through the injected evaluator, log and breaker rules
on the store's DuckDB engine. Synchronous; the manager calls it in a thread.

Every kind answers the same thing — the label sets that are active now, each with a
value — which is all the state machine needs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import promql_parser as pp

from tracelake.alerting.breakers import CircuitTracker, statement
from tracelake.alerting.rules import (
    COUNT_COLUMN,
    BreakerQuery,
    LogQuery,
    PromQLQuery,
    RecordingRule,
    Rule,
)
from tracelake.alerting.state import Sample
from tracelake.errors import ConfigError
from tracelake.query import compile_query
from tracelake.query.promql import parse
from tracelake.settings import Settings
from tracelake.store import Store

#: ``PromQLEngine.vector``: an instant query at a time → (labels, value) per series.
PromQLEvaluator = Callable[[str, float], list[tuple[dict[str, str], float]]]
_NOT_IN_LABEL = re.compile(r"[^A-Za-z0-9_]")
_COMPARISONS = {"==", "!=", ">", "<", ">=", "<="}


def measured_expr(expr: str) -> str | None:
    """``X > 0.05`` → ``X``: what a threshold rule measures, to ask when its alert has
    resolved; None when the expression is no comparison against a number."""
    try:
        tree = parse(expr)
    except Exception:
        return None
    if not isinstance(tree, pp.BinaryExpr) or str(tree.op) not in _COMPARISONS:
        return None
    if tree.modifier is not None and tree.modifier.return_bool:
        return None
    if isinstance(tree.rhs, pp.NumberLiteral):
        return tree.lhs.prettify()
    if isinstance(tree.lhs, pp.NumberLiteral):
        return tree.rhs.prettify()
    return None


def label_name(field: str) -> str:
    """A search field as a Prometheus label name (``http.status`` → ``http_status``):
    Alertmanager refuses any other."""
    name = _NOT_IN_LABEL.sub("_", field)
    return "_" + name if name[:1].isdigit() else name


class RuleEvaluator:
    """Answers "what is active now" for each kind of rule."""

    def __init__(
        self, store: Store, settings: Settings, promql: PromQLEvaluator | None = None
    ) -> None:
        self.store = store
        self.settings = settings
        self.promql = promql

    def check(self, rule: Rule | RecordingRule, where: str) -> None:
        """Refuse at start a rule this server cannot evaluate."""
        if self.promql is None and (
            isinstance(rule, RecordingRule) or isinstance(rule.query, PromQLQuery)
        ):
            raise ConfigError(
                f"{where}: PromQL rules (expr) need the PromQL engine, missing here: use a log or breaker rule"
            )

    def samples(
        self, rule: Rule, now: float, tracker: CircuitTracker | None = None
    ) -> list[Sample]:
        """The active label sets of ``rule`` at ``now``; raises TracelakeError on failure."""
        q = rule.query
        if isinstance(q, PromQLQuery):
            assert self.promql is not None  # check() refused the rule otherwise
            return [(labels, float(value)) for labels, value in self.promql(q.expr, now)]
        if isinstance(q, LogQuery):
            return self._log_samples(q, now)
        assert isinstance(q, BreakerQuery) and tracker is not None
        return self._breaker_samples(tracker, now)

    def quiet_values(
        self, rule: Rule, now: float, tracker: CircuitTracker | None = None
    ) -> list[Sample] | None:
        """What the rule measures at ``now`` whether over its threshold or not (label sets
        absent: 0), for the value of an alert that has just resolved; None: unknown."""
        q = rule.query
        if isinstance(q, PromQLQuery):
            measured = measured_expr(q.expr)
            if measured is None or self.promql is None:
                return None
            return [(labels, float(value)) for labels, value in self.promql(measured, now)]
        if isinstance(q, LogQuery):
            return self._log_samples(q, now, threshold=0.0)
        return []  # a breaker rule's circuit closed: open for 0 s

    def _run(self, sql: str, params: list[Any], start_us: int) -> list[tuple[Any, ...]]:
        return self.store.query(sql, params, tables=["logs"], start_us=start_us).rows

    def _log_samples(self, q: LogQuery, now: float, threshold: float | None = None) -> list[Sample]:
        start = datetime.fromtimestamp(now - q.window_s, UTC)
        compiled = compile_query(q.text(), start=start, limit=self.settings.query_max_rows)
        rows = self._run(compiled.sql, compiled.params, int(start.timestamp() * 1e6))
        count_at = compiled.columns.index(COUNT_COLUMN)
        out: list[Sample] = []
        for row in rows:
            count = float(row[count_at])
            if count < (q.threshold if threshold is None else threshold):
                continue
            labels = {
                label_name(name): str(row[compiled.columns.index(name)])
                for name in q.group_by
                if row[compiled.columns.index(name)] is not None
            }
            out.append((labels, count))
        return out

    def _breaker_samples(self, tracker: CircuitTracker, now: float) -> list[Sample]:
        now_us = int(now * 1e6)
        start_us = tracker.scan_start(now_us)
        sql, params = statement(tracker.query, start_us)
        tracker.fold(self._run(sql, params, start_us))
        tracker.mark_scanned(now_us)
        tracker.forget_closed()
        return tracker.samples(now)
