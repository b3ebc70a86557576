"""The alert manager: evaluates rule groups on their intervals, steps each alerting rule's
state machine, writes each recording rule's series, records history, queues
notifications and keeps the state on disk.

A thin async shell around the sans-IO parts (``rules``, ``state``, ``breakers``,
``payloads``): one task per group evaluates its rules one after another in a thread
(queries are synchronous DuckDB or PromQL calls), then applies the result on the event
loop, so the state is only ever touched from the loop. A group evaluates at the
multiples of its interval since the epoch (``recording.next_evaluation_ms``); an
evaluation that comes too late for its time is skipped, as Prometheus skips it.

Notifications: a webhook gets one message per rule and evaluation when alerts fire or
resolve (as an Alertmanager would send its receivers); an Alertmanager gets every
firing alert again each ``alert_resend_delay_s`` (as Prometheus does, so it never
times out an alert that is still firing) and each resolved one once. A silenced or
acknowledged alert (``silences``) sends nothing; one still firing when its silence ends
is sent then, and only an alert whose firing was sent is sent resolved.

A resolved alert carries the value that resolved it, not its last firing one: the
rule's condition is asked again without its threshold (``RuleEvaluator.quiet_values``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from tracelake.alerting.breakers import CircuitTracker
from tracelake.alerting.evaluate import PromQLEvaluator, RuleEvaluator
from tracelake.alerting.notifier import ClientFactory, Notifier, RetryPolicy, default_client
from tracelake.alerting.payloads import Outgoing, alertmanager_alerts, iso, webhook_message
from tracelake.alerting.persist import StateFile
from tracelake.alerting.recording import (
    FIRST_LOOKBACK_S,
    LabelKey,
    evaluation_batch,
    last_written,
    next_evaluation_ms,
    recorded_series,
)
from tracelake.alerting.rules import (
    BreakerQuery,
    LogQuery,
    PromQLQuery,
    RecordingRule,
    Rule,
    RuleGroup,
    load_rule_files,
)
from tracelake.alerting.silences import Silences
from tracelake.alerting.state import Alert, RuleState, Transition, label_key
from tracelake.checkpoints import CheckpointFile
from tracelake.errors import TracelakeError
from tracelake.ingest.jobs import Decoded, Limits
from tracelake.settings import Settings
from tracelake.store import Store

log = logging.getLogger("tracelake.alerting")

#: State changes kept for ``/api/v1/alerts/history``.
HISTORY_MAX = 1000
#: Longest wait at shutdown for queued notifications.
DRAIN_S = 5.0


@dataclass(slots=True)
class RuleRuntime:
    """A rule with its alerts and the outcome of its last evaluation."""

    key: str
    rule: Rule
    state: RuleState
    interval_s: float
    tracker: CircuitTracker | None = None
    health: str = "unknown"
    last_error: str = ""
    last_evaluation: float | None = None
    evaluation_s: float = 0.0


@dataclass(slots=True)
class RecordRuntime:
    """A recording rule with the series it wrote last and its last evaluation's outcome."""

    key: str
    rule: RecordingRule
    series: set[LabelKey] = field(default_factory=set)
    health: str = "unknown"
    last_error: str = ""
    last_evaluation: float | None = None
    evaluation_s: float = 0.0


@dataclass(slots=True)
class GroupRuntime:
    group: RuleGroup
    #: The group's rules in file order, alerting and recording.
    rules: list[RuleRuntime | RecordRuntime] = field(default_factory=list)
    last_evaluation: float | None = None
    evaluation_s: float = 0.0


def ui_link(rule: Rule) -> str:
    """The UI page (a ``#/`` route) that shows what the rule's query sees."""
    q = rule.query
    if isinstance(q, LogQuery):
        return f"#/logs?q={quote(q.query, safe='')}&from=-{int(q.window_s)}s"
    if isinstance(q, BreakerQuery):
        if q.service and q.breaker != "*":
            return f"#/circuits?cluster={quote(q.service, safe='')}&circuit={quote(q.breaker, safe='')}"
        return f"#/circuits?cluster={quote(q.service, safe='')}" if q.service else "#/circuits"
    assert isinstance(q, PromQLQuery)
    return f"#/metrics?q={quote(q.expr, safe='')}&from=-1h"


def rule_key(group: RuleGroup, rule: Rule | RecordingRule, nth: int) -> str:
    """Identity of a rule across restarts: file, group, name, and which one of that name."""
    return f"{group.file}::{group.name}::{rule.name}#{nth}"


def group_key(group: RuleGroup) -> str:
    """Identity of a group across restarts, for its recording checkpoint."""
    return f"{group.file}::{group.name}"


#: Makes an evaluation's recorded samples durable (``Ingest.commit`` in the server).
Commit = Callable[[Decoded], Awaitable[None]]


class AlertManager:
    """Every rule group of the configured files, evaluated until ``aclose``.

    Args:
        settings: ``alert_*`` settings and the data directory.
        store: Where log and breaker rules query.
        promql: ``PromQLEngine.vector``; without it, PromQL rules are refused at start.
        commit: Where recorded samples go; the store's append when not given.
        external_url: This server's base URL (for links in notifications), read late
            because the HTTP port is known only once bound.
        clock: Epoch seconds (tests move time by hand).
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        promql: PromQLEvaluator | None = None,
        *,
        external_url: Callable[[], str] = lambda: "",
        clock: Callable[[], float] = time.time,
        client_factory: ClientFactory = default_client,
        commit: Commit | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.commit = commit or self._append
        self.limits = Limits.of(settings).series
        self.evaluator = RuleEvaluator(store, settings, promql)
        self.external_url = external_url
        self.clock = clock
        self.resend_s = settings.alert_resend_delay_s
        self.notifier = Notifier(
            settings.alert_webhooks,
            settings.alertmanager_urls,
            RetryPolicy(
                attempts=settings.alert_notify_attempts,
                backoff_s=settings.alert_notify_backoff_s,
                max_backoff_s=settings.alert_notify_max_backoff_s,
                timeout_s=settings.alert_notify_timeout_s,
            ),
            client_factory=client_factory,
        )
        self.groups = self._build(
            load_rule_files(settings.alert_rule_files, settings.alert_eval_interval_s)
        )
        self.history: deque[dict[str, Any]] = deque(maxlen=HISTORY_MAX)
        self.file = StateFile(settings.data_path / "alerts" / "state.json")
        self.silences = Silences(settings.data_path / "alerts" / "silences.json")
        self.silences.load()
        self._tasks: list[asyncio.Task[None]] = []
        self._save_lock = asyncio.Lock()
        self._restore(self.file.load())
        self.checkpoints = CheckpointFile(settings.data_path / "alerts" / "recorded.json", "groups")
        self.checkpoints.load()

    async def _append(self, decoded: Decoded) -> None:
        if decoded.ipc is not None:
            await self.store.append(decoded.table, decoded.ipc)

    def _build(self, groups: list[RuleGroup]) -> list[GroupRuntime]:
        out = []
        for group in groups:
            runtime = GroupRuntime(group)
            seen: dict[str, int] = {}
            for rule in group.rules:
                self.evaluator.check(rule, f"{group.file}: group {group.name!r} rule {rule.name!r}")
                nth = seen[rule.name] = seen.get(rule.name, 0) + 1
                if isinstance(rule, RecordingRule):
                    runtime.rules.append(RecordRuntime(rule_key(group, rule, nth), rule))
                    continue
                tracker = (
                    CircuitTracker(rule.query) if isinstance(rule.query, BreakerQuery) else None
                )
                key = rule_key(group, rule, nth)
                runtime.rules.append(
                    RuleRuntime(key, rule, RuleState(rule), group.interval_s, tracker)
                )
            out.append(runtime)
        return out

    def _restore(self, saved: dict[str, Any]) -> None:
        self.history.extend(saved["history"][-HISTORY_MAX:])
        for rr in self.rule_runtimes():
            data = saved["rules"].get(rr.key)
            if not data:
                continue
            try:
                alerts = [Alert.from_json(a) for a in data.get("alerts", [])]
                if rr.tracker is not None and data.get("circuits") is not None:
                    rr.tracker.restore(data["circuits"])
            except (KeyError, TypeError, ValueError) as e:
                log.error("alert state of %s unreadable (%s): starting it afresh", rr.key, e)
                continue
            rr.state = RuleState(rr.rule, alerts)

    def rule_runtimes(self) -> list[RuleRuntime]:
        """The alerting rules of every group."""
        return [rr for g in self.groups for rr in g.rules if isinstance(rr, RuleRuntime)]

    # -- running -----------------------------------------------------------------------

    def start(self) -> None:
        """Start the notifier and one evaluation loop per group (needs a running loop)."""
        self.notifier.start()
        for g in self.groups:
            self._tasks.append(asyncio.create_task(self._loop(g), name=f"alerts:{g.group.name}"))

    async def _loop(self, g: GroupRuntime) -> None:
        after_ms = await self._recover(g) if g.group.records else None
        while True:
            # past every evaluation already written, and skipping those missed meanwhile
            at_ms = next_evaluation_ms(self.clock(), g.group.interval_s, after_ms)
            while (delay := at_ms / 1000 - self.clock()) > 0:
                await asyncio.sleep(delay)
            try:
                await self.evaluate_group(g, at_ms / 1000)
            except Exception:
                log.exception("evaluating rule group %s failed", g.group.name)
            after_ms = at_ms

    async def _recover(self, g: GroupRuntime) -> int | None:
        """The last evaluation time (ms) the group wrote; finish it if a crash cut it short."""
        file_us = self.checkpoints.get(group_key(g.group))
        since_us = file_us if file_us is not None else int((self.clock() - FIRST_LOOKBACK_S) * 1e6)
        while True:
            try:
                found = await asyncio.to_thread(last_written, self.store, g.group.records, since_us)
                break
            except Exception as e:  # never write an evaluation twice: wait for the lake
                log.error(
                    "rule group %s: cannot read its last recorded evaluation, retrying: %s",
                    g.group.name,
                    e,
                )
                await asyncio.sleep(g.group.interval_s)
        if found is None:
            return None if file_us is None else file_us // 1000
        at_us, last = found
        if file_us is not None and at_us <= file_us:
            return file_us // 1000
        done = g.rules.index(next(r for r in g.rules if r.rule is g.group.records[last]))
        log.warning(
            "rule group %s: finishing the evaluation at %s a stop cut short (%d of %d rules written)",
            g.group.name,
            iso(at_us / 1e6),
            done + 1,
            len(g.rules),
        )
        await self.evaluate_group(g, at_us / 1e6, first=done + 1)
        return at_us // 1000

    async def evaluate_group(
        self, g: GroupRuntime, now: float | None = None, *, first: int = 0
    ) -> None:
        """Evaluate each rule of the group once (from position ``first``), at ``now``
        (default: the clock); write what recording rules give, notify and save what
        changed, and checkpoint the evaluation time of a group that records."""
        started = time.perf_counter()
        now = self.clock() if now is None else now
        changed = False
        for rr in g.rules[first:]:
            if isinstance(rr, RecordRuntime):
                await self._evaluate_record(rr, now)
            else:
                changed |= await self._evaluate_rule(rr, now)
        g.last_evaluation, g.evaluation_s = now, time.perf_counter() - started
        if g.group.records:
            try:
                await asyncio.to_thread(
                    self.checkpoints.save, group_key(g.group), round(now * 1000) * 1000
                )
            except OSError as e:  # the lake still knows the evaluation (_recover)
                log.error("rule group %s: checkpoint not saved: %s", g.group.name, e)
        if changed:
            await self.save()

    async def _evaluate_record(self, rr: RecordRuntime, now: float) -> None:
        """Write the rule's series at ``now``, and staleness markers for those gone."""
        started = time.perf_counter()
        assert self.evaluator.promql is not None  # check() refused the rule otherwise
        try:
            result = await asyncio.to_thread(self.evaluator.promql, rr.rule.expr, now)
            series = recorded_series(rr.rule, result)
            gone = rr.series - series.keys()
            batch = evaluation_batch(series, gone, round(now * 1000) * 1000, self.limits)
            await self.commit(batch)
        except TracelakeError as e:
            self._failed(rr, e.message)
            return
        except Exception as e:
            log.exception("recording rule %s failed", rr.key)
            self._failed(rr, f"internal error ({type(e).__name__}): the server log has the details")
            return
        finally:
            rr.last_evaluation, rr.evaluation_s = now, time.perf_counter() - started
        rr.series = set(series)
        rr.health, rr.last_error = "ok", ""

    async def _evaluate_rule(self, rr: RuleRuntime, now: float) -> bool:
        started = time.perf_counter()
        # fold() replaces the dict, so the one held here is what the last save saw
        before = rr.tracker.circuits if rr.tracker is not None else None
        try:
            samples = await asyncio.to_thread(self.evaluator.samples, rr.rule, now, rr.tracker)
        except TracelakeError as e:
            self._failed(rr, e.message)
            return False
        except Exception as e:
            log.exception("alert rule %s failed", rr.key)
            self._failed(rr, f"internal error ({type(e).__name__}): the server log has the details")
            return False
        finally:
            rr.last_evaluation, rr.evaluation_s = now, time.perf_counter() - started
        rr.health, rr.last_error = "ok", ""
        transitions = rr.state.step(samples, now)
        ended = [t for t in transitions if t.to_phase in ("resolved", "inactive")]
        if ended:
            await self._resolving_values(rr, ended, now)
        for t in transitions:
            self.history.append(t.to_event())
            log.info("alert %s %s -> %s %s", rr.rule.name, t.from_phase, t.to_phase, t.alert.labels)
        sent = self._notify(rr, transitions, now)
        # after the notifications: an acknowledged alert's resolution is not sent either
        acks_ended = [
            self.silences.end_acks(t.alert.labels, now) for t in ended if t.to_phase == "resolved"
        ]
        if any(acks_ended):
            await self.save_silences()
        moved = rr.tracker is not None and rr.tracker.circuits != before
        return bool(transitions) or sent or moved

    async def _resolving_values(self, rr: RuleRuntime, ended: list[Transition], now: float) -> None:
        """Give each alert that ended the value its condition has now (see the module doc)."""
        try:
            quiet = await asyncio.to_thread(self.evaluator.quiet_values, rr.rule, now, rr.tracker)
        except Exception as e:  # the firing value stays: the transition is what matters
            log.warning("alert rule %s: no value for its resolved alerts (%s)", rr.key, e)
            return
        if quiet is None:
            return
        values = {label_key(rr.state.alert_labels(labels, value)): value for labels, value in quiet}
        for t in ended:
            t.alert.value = values.get(label_key(t.alert.labels), 0.0)

    def _failed(self, rr: RuleRuntime | RecordRuntime, message: str) -> None:
        if rr.last_error != message:
            log.warning("rule %s cannot be evaluated: %s", rr.key, message)
        rr.health, rr.last_error = "err", message

    def generator_url(self, rule: Rule) -> str:
        """Where a notification's reader sees what the rule saw (the UI)."""
        return self.external_url() + "/" + ui_link(rule)

    def _notify(self, rr: RuleRuntime, transitions: list[Transition], now: float) -> bool:
        """Queue this evaluation's notifications; True when an alert's sent state moved."""
        url = self.generator_url(rr.rule)

        def heard(alert: Alert) -> bool:
            return not self.silences.silencing(alert.labels, now)

        changes = []
        for a in rr.state.alerts.values():
            if a.state == "firing" and not a.notified and heard(a):
                a.notified = True
                changes.append(Outgoing(replace(a), "firing", url))
        changes += [
            Outgoing(t.alert, "resolved", url, ends_at=t.time)
            for t in transitions
            if t.to_phase == "resolved" and t.alert.notified and heard(t.alert)
        ]
        if changes:
            self.notifier.send("webhook", webhook_message(changes, self.external_url()))
        if not self.notifier.has_alertmanagers:
            return bool(changes)
        lapse = now + 4 * max(self.resend_s, rr.interval_s)
        due = [
            Outgoing(a, "firing", url, ends_at=lapse)
            for a in rr.state.alerts.values()
            if a.state == "firing"
            and (a.sent_at is None or now - a.sent_at >= self.resend_s)
            and heard(a)
        ]
        due += [
            Outgoing(t.alert, "resolved", url, ends_at=t.time)
            for t in transitions
            if t.to_phase == "resolved" and t.alert.sent_at is not None and heard(t.alert)
        ]
        if not due:
            return bool(changes)
        self.notifier.send("alertmanager", alertmanager_alerts(due))
        for item in due:
            item.alert.sent_at = now
        return True

    # -- state ---------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        rules: dict[str, Any] = {}
        for rr in self.rule_runtimes():
            entry: dict[str, Any] = {"alerts": [a.to_json() for a in rr.state.alerts.values()]}
            if rr.tracker is not None:
                entry["circuits"] = rr.tracker.to_json()
            rules[rr.key] = entry
        return rules

    async def save(self) -> None:
        async with self._save_lock:
            rules, history = self.snapshot(), list(self.history)
            try:
                await asyncio.to_thread(self.file.save, rules, history)
            except OSError as e:
                log.error("alert state not saved to %s: %s", self.file.path, e)

    async def save_silences(self) -> None:
        async with self._save_lock:
            try:
                await asyncio.to_thread(self.silences.save)
            except OSError as e:
                log.error("silences not saved to %s: %s", self.silences.path, e)

    async def aclose(self) -> None:
        """Stop evaluating, save the state, give queued notifications a moment to go."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.save()
        await self.notifier.aclose(DRAIN_S)

    # -- reading -------------------------------------------------------------------------

    def active_alerts(self) -> list[tuple[RuleRuntime, Alert]]:
        return [(rr, a) for rr in self.rule_runtimes() for a in rr.state.alerts.values()]

    def recent_history(self, limit: int) -> list[dict[str, Any]]:
        """The last ``limit`` state changes, newest first."""
        return list(reversed(self.history))[:limit]

    def collect(self) -> Iterator[Metric]:
        """For the server's /metrics: alerts by state and notification outcomes."""
        alerts = [a for _, a in self.active_alerts()]
        stats = [r.stats for r in self.notifier.receivers]
        yield GaugeMetricFamily(
            "tracelake_alerts_firing",
            "Alerts firing now",
            value=sum(1 for a in alerts if a.state == "firing"),
        )
        yield GaugeMetricFamily(
            "tracelake_alerts_pending",
            "Alerts pending now",
            value=sum(1 for a in alerts if a.state == "pending"),
        )
        yield GaugeMetricFamily(
            "tracelake_alert_rule_errors",
            "Rules (alerting and recording) whose last evaluation failed",
            value=sum(1 for g in self.groups for rr in g.rules if rr.health == "err"),
        )
        yield CounterMetricFamily(
            "tracelake_alert_notifications_delivered",
            "Alert notifications delivered since start",
            value=sum(s.delivered for s in stats),
        )
        yield CounterMetricFamily(
            "tracelake_alert_notifications_failed",
            "Alert notifications given up on since start",
            value=sum(s.failed for s in stats),
        )
        yield CounterMetricFamily(
            "tracelake_alert_notifications_dropped",
            "Alert notifications dropped unsent because a receiver's queue was full",
            value=sum(s.dropped for s in stats),
        )
        yield CounterMetricFamily(
            "tracelake_alert_notification_retries",
            "Alert notification retries since start",
            value=sum(s.retries for s in stats),
        )
