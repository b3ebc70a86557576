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
from tracelake.settings import Settings
from tracelake.store import Store

#: ``PromQLEngine.vector``: an instant query at a time → (labels, value) per series.
PromQLEvaluator = Callable[[str, float], list[tuple[dict[str, str], float]]]
_NOT_IN_LABEL = re.compile(r"[^A-Za-z0-9_]")


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

    def _run(self, sql: str, params: list[Any], start_us: int) -> list[tuple[Any, ...]]:
        return self.store.query(sql, params, tables=["logs"], start_us=start_us).rows

    def _log_samples(self, q: LogQuery, now: float) -> list[Sample]:
        start = datetime.fromtimestamp(now - q.window_s, UTC)
        compiled = compile_query(q.text(), start=start, limit=self.settings.query_max_rows)
        rows = self._run(compiled.sql, compiled.params, int(start.timestamp() * 1e6))
        count_at = compiled.columns.index(COUNT_COLUMN)
        out: list[Sample] = []
        for row in rows:
            count = float(row[count_at])
            if count < q.threshold:
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
