"""The manager in-process with a hand-moved clock: a PromQL rule fed by a plain function
(standing in for ``PromQLEngine.vector``), notifications to a real receiver, state on
disk, evaluation errors."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.alerting.receiver import AlertReceiver, alert_receiver
from tests.conftest import sample
from tracelake.alerting.manager import AlertManager
from tracelake.errors import ConfigError, QueryError
from tracelake.settings import Settings
from tracelake.store import Store

T0 = 1_700_000_000.0
RULES = """\
groups:
  - name: api
    rules:
      - alert: HighErrorRate
        expr: job:errors:rate5m > 0.5
        for: 30s
        labels: {severity: page}
        annotations: {summary: "{{ $labels.job }} at {{ humanizePercentage $value }}"}
"""


class Series:
    """What the PromQL evaluator answers; a test sets it, or an error to raise."""

    def __init__(self) -> None:
        self.result: list[tuple[dict[str, str], float]] = []
        self.error: Exception | None = None
        self.asked: list[tuple[str, float]] = []
        #: answers to other queries than the rule's (what it measures, once resolved)
        self.others: dict[str, list[tuple[dict[str, str], float]]] = {}

    def __call__(self, query: str, at: float) -> list[tuple[dict[str, str], float]]:
        self.asked.append((query, at))
        if self.error is not None:
            raise self.error
        return self.others.get(query, self.result)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def receiver() -> Iterator[AlertReceiver]:
    with alert_receiver() as r:
        yield r


def settings_for(tmp_path: Path, receiver: AlertReceiver) -> Settings:
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES)
    return Settings.load(
        env={},
        overrides={
            "data_dir": str(tmp_path / "data"),
            "alert_rule_files": [str(rules)],
            "alert_webhooks": [receiver.url + "/hook"],
            "alertmanager_urls": [receiver.url],
            "alert_resend_delay_s": 60.0,
            "alert_notify_backoff_s": 0.05,
        },
    )


def make(settings: Settings, series: Series, clock: Clock) -> AlertManager:
    return AlertManager(
        settings, Store(settings), series, external_url=lambda: "http://tl", clock=clock
    )


def test_a_promql_rule_goes_pending_fires_resends_and_resolves(
    tmp_path: Path, receiver: AlertReceiver
) -> None:
    series, clock = Series(), Clock()
    manager = make(settings_for(tmp_path, receiver), series, clock)
    [group] = manager.groups

    async def scenario() -> None:
        manager.notifier.start()
        series.result = [({"__name__": "job:errors:rate5m", "job": "api"}, 0.75)]
        for step in (0, 15, 30, 45, 95):  # pending; pending; firing; -; resend
            clock.now = T0 + step
            await manager.evaluate_group(group)
            if step == 15:
                [(_, alert)] = manager.active_alerts()
                assert alert.state == "pending"
        series.result = []
        series.others["job:errors:rate5m"] = [
            ({"__name__": "job:errors:rate5m", "job": "api"}, 0.2)
        ]
        clock.now = T0 + 100
        await manager.evaluate_group(group)
        await manager.aclose()

    asyncio.run(scenario())
    assert series.asked == [
        *(("job:errors:rate5m > 0.5", T0 + s) for s in (0, 15, 30, 45, 95, 100)),
        ("job:errors:rate5m", T0 + 100),  # what resolved it: the measured side, now
    ]
    hooks = [d.body for d in receiver.deliveries if d.path == "/hook"]
    assert [m["status"] for m in hooks] == ["firing", "resolved"]
    assert hooks[0]["alerts"][0]["annotations"] == {"summary": "api at 75%"}
    sent = [d.body for d in receiver.deliveries if d.path == "/api/v2/alerts"]
    assert [len(b) for b in sent] == [1, 1, 1]  # fired at 30, re-sent at 95, resolved at 100
    assert [b[0]["endsAt"] for b in sent] == [
        "2023-11-14T22:17:50.000Z",  # 30 s + 4 times the 60 s resend delay
        "2023-11-14T22:18:55.000Z",
        "2023-11-14T22:15:00.000Z",  # resolved at 100 s
    ]
    events = [(e["from"], e["to"], e["value"]) for e in manager.recent_history(10)]
    assert events == [
        ("firing", "resolved", 0.2),  # the value that resolved it, not the last firing one
        ("pending", "firing", 0.75),
        ("inactive", "pending", 0.75),
    ]


def test_state_is_saved_and_a_new_manager_restores_it(
    tmp_path: Path, receiver: AlertReceiver
) -> None:
    settings = settings_for(tmp_path, receiver)
    series, clock = Series(), Clock()
    series.result = [({"job": "api"}, 0.75)]
    first = make(settings, series, clock)

    async def fire() -> None:
        for step in (0, 30):
            clock.now = T0 + step
            await first.evaluate_group(first.groups[0])
        await first.aclose()

    asyncio.run(fire())
    second = make(settings, series, clock)
    [(rule, alert)] = second.active_alerts()
    assert (alert.state, alert.active_at, alert.fired_at) == ("firing", T0, T0 + 30)
    assert rule.rule.name == "HighErrorRate"
    assert len(second.recent_history(10)) == 2


def test_a_failing_evaluation_marks_the_rule_and_keeps_its_alerts(
    tmp_path: Path, receiver: AlertReceiver
) -> None:
    series, clock = Series(), Clock()
    manager = make(settings_for(tmp_path, receiver), series, clock)
    [group] = manager.groups
    series.result = [({"job": "api"}, 0.75)]

    async def scenario() -> None:
        await manager.evaluate_group(group)
        series.error = QueryError("unknown function foo()")
        clock.now += 15
        await manager.evaluate_group(group)

    asyncio.run(scenario())
    [rr] = group.rules
    assert (rr.health, rr.last_error) == ("err", "unknown function foo()")
    assert [a.state for _, a in manager.active_alerts()] == ["pending"]
    assert sample(manager, "tracelake_alert_rule_errors") == 1


def test_promql_rules_are_refused_at_start_without_a_promql_engine(
    tmp_path: Path, receiver: AlertReceiver
) -> None:
    settings = settings_for(tmp_path, receiver)
    with pytest.raises(ConfigError, match=r"group 'api' rule 'HighErrorRate': PromQL rules"):
        AlertManager(settings, Store(settings), None)


def test_an_unreadable_state_file_is_set_aside(tmp_path: Path, receiver: AlertReceiver) -> None:
    settings = settings_for(tmp_path, receiver)
    state = settings.data_path / "alerts" / "state.json"
    state.parent.mkdir(parents=True)
    state.write_bytes(b"{not json")
    manager = make(settings, Series(), Clock())
    assert manager.active_alerts() == []
    assert state.with_name("state.json.unreadable").read_bytes() == b"{not json"
