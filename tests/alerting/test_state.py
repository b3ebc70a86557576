"""The state machine of one rule, stepped with hand-made results and times."""

from __future__ import annotations

from typing import Any

from tracelake.alerting.rules import PromQLQuery, Rule
from tracelake.alerting.state import Alert, RuleState

T0 = 1_700_000_000.0


def rule(for_s: float = 60.0, **kwargs: Any) -> Rule:
    return Rule("HighErrors", PromQLQuery("errors > 5"), for_s, **kwargs)


def phases(transitions: list) -> list[tuple[str, str]]:
    return [(t.from_phase, t.to_phase) for t in transitions]


def test_an_alert_is_pending_until_for_has_passed_then_fires_then_resolves() -> None:
    state = RuleState(rule(for_s=60))
    seen = [({"__name__": "errors", "service": "checkout"}, 7.0)]
    assert phases(state.step(seen, T0)) == [("inactive", "pending")]
    assert state.state == "pending"
    assert phases(state.step(seen, T0 + 59.9)) == []
    assert state.state == "pending"
    fired = state.step(seen, T0 + 60)
    assert phases(fired) == [("pending", "firing")]
    assert fired[0].alert.fired_at == T0 + 60 and fired[0].alert.active_at == T0
    assert state.state == "firing"
    assert phases(state.step(seen, T0 + 120)) == []
    resolved = state.step([], T0 + 180)
    assert phases(resolved) == [("firing", "resolved")]
    assert resolved[0].alert.resolved_at == T0 + 180
    assert state.state == "inactive" and state.alerts == {}


def test_a_pending_alert_that_goes_away_never_fires_and_starts_over() -> None:
    state = RuleState(rule(for_s=60))
    seen = [({"service": "checkout"}, 7.0)]
    state.step(seen, T0)
    assert phases(state.step([], T0 + 30)) == [("pending", "inactive")]
    assert phases(state.step(seen, T0 + 45)) == [("inactive", "pending")]
    assert phases(state.step(seen, T0 + 100)) == []  # 55 s since it came back
    assert phases(state.step(seen, T0 + 105)) == [("pending", "firing")]


def test_for_zero_fires_on_the_first_evaluation() -> None:
    state = RuleState(rule(for_s=0))
    assert phases(state.step([({"service": "a"}, 1.0)], T0)) == [("inactive", "firing")]


def test_each_label_set_is_its_own_alert() -> None:
    state = RuleState(rule(for_s=0))
    state.step([({"service": "a"}, 1.0), ({"service": "b"}, 2.0)], T0)
    transitions = state.step([({"service": "b"}, 3.0)], T0 + 15)
    assert phases(transitions) == [("firing", "resolved")]
    assert transitions[0].alert.labels == {"service": "a", "alertname": "HighErrors"}
    [remaining] = state.alerts.values()
    assert remaining.labels["service"] == "b" and remaining.value == 3.0


def test_alert_labels_drop_the_metric_name_and_take_templated_rule_labels() -> None:
    r = rule(
        for_s=0,
        labels={"severity": "page", "service": "{{ $labels.service }}-svc"},
        annotations={"summary": "{{ $labels.service }} has {{ $value }} errors"},
    )
    state = RuleState(r)
    [t] = state.step([({"__name__": "errors", "service": "checkout", "job": "api"}, 12.0)], T0)
    assert t.alert.labels == {
        "job": "api",
        "service": "checkout-svc",
        "severity": "page",
        "alertname": "HighErrors",
    }
    assert t.alert.annotations == {"summary": "checkout has 12 errors"}


def test_the_value_and_annotations_follow_the_latest_evaluation() -> None:
    state = RuleState(rule(for_s=0, annotations={"summary": "{{ $value }}"}))
    state.step([({"service": "a"}, 1.0)], T0)
    state.step([({"service": "a"}, 9.5)], T0 + 15)
    [alert] = state.alerts.values()
    assert (alert.value, alert.annotations["summary"], alert.active_at) == (9.5, "9.5", T0)


def test_restored_alerts_keep_their_state_and_active_time() -> None:
    before = RuleState(rule(for_s=60))
    before.step([({"service": "a"}, 1.0)], T0)
    saved = [a.to_json() for a in before.alerts.values()]
    after = RuleState(rule(for_s=60), [Alert.from_json(a) for a in saved])
    assert phases(after.step([({"service": "a"}, 1.0)], T0 + 61)) == [("pending", "firing")]


def test_a_transition_keeps_a_snapshot_not_the_live_alert() -> None:
    state = RuleState(rule(for_s=0))
    [t] = state.step([({"service": "a"}, 1.0)], T0)
    state.step([({"service": "a"}, 5.0)], T0 + 15)
    assert t.alert.value == 1.0
    assert t.to_event() == {
        "time": T0,
        "alert": "HighErrors",
        "labels": {"service": "a", "alertname": "HighErrors"},
        "from": "inactive",
        "to": "firing",
        "value": 1.0,
    }


def test_keep_firing_for_holds_a_flapping_alert_firing_and_a_sighting_resets_it() -> None:
    """Prometheus's keep_firing_for: gone for less than it, the alert still fires; back
    in between, the wait starts again; gone for all of it, it resolves once."""
    state = RuleState(rule(for_s=0, keep_firing_for_s=60.0))
    seen = [({"service": "a"}, 7.0)]
    assert phases(state.step(seen, T0)) == [("inactive", "firing")]
    for t in (15, 30, 45, 59):  # flapping inside a minute: gone at 15 and 45, back between
        assert phases(state.step([] if t in (15, 45) else seen, T0 + t)) == []
        assert state.state == "firing"
    assert phases(state.step([], T0 + 100)) == []  # gone since 100
    assert phases(state.step([], T0 + 159)) == []
    resolved = state.step([], T0 + 160)
    assert phases(resolved) == [("firing", "resolved")] and state.alerts == {}


def test_keep_firing_for_does_not_hold_a_pending_alert() -> None:
    state = RuleState(rule(for_s=60, keep_firing_for_s=60.0))
    state.step([({"service": "a"}, 7.0)], T0)
    assert phases(state.step([], T0 + 15)) == [("pending", "inactive")]


def test_the_keep_firing_wait_and_the_notified_mark_outlast_a_restart() -> None:
    before = RuleState(rule(for_s=0, keep_firing_for_s=60.0))
    before.step([({"service": "a"}, 1.0)], T0)
    before.step([], T0 + 10)
    [alert] = before.alerts.values()
    alert.notified = True
    restored = Alert.from_json(alert.to_json())
    assert (restored.keep_firing_since, restored.notified) == (T0 + 10, True)
