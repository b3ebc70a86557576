"""The alert state machine of one rule: inactive → pending → firing → resolved.

Sans-IO and clock-free: ``RuleState.step`` takes what the rule's query found now (a
list of label sets with a value) and the time, and returns the transitions it made.
That is Prometheus's semantics:

* a label set seen for the first time becomes a **pending** alert, active since now;
  with ``for: 0`` it fires at once;
* a pending alert still seen after ``for`` has passed since it became active **fires**;
* an alert no longer seen is **resolved** if it was firing, or forgotten (back to
  inactive) if it was only pending; so a condition that flaps inside ``for`` never
  fires, each flap starting the wait afresh;
* with ``keep_firing_for``, a firing alert no longer seen stays firing until it has
  been unseen that long (``keep_firing_since``), and a sighting in between resets it,
  so a condition flapping faster than that neither resolves nor fires again;
* every step refreshes the value and the templated annotations of the alerts seen.

Alert labels are the query's labels without ``__name__``, plus the rule's (templated)
labels, plus ``alertname``; the rule's labels win over the query's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from tracelake.alerting.rules import Rule
from tracelake.alerting.template import render

AlertState = Literal["pending", "firing"]
#: Where a transition starts or ends; ``resolved`` ends a firing alert, ``inactive`` a pending one.
Phase = Literal["inactive", "pending", "firing", "resolved"]
Sample = tuple[Mapping[str, str], float]
LabelKey = tuple[tuple[str, str], ...]


@dataclass(slots=True)
class Alert:
    """One active alert of a rule (one label set)."""

    labels: dict[str, str]
    annotations: dict[str, str]
    state: AlertState
    active_at: float
    value: float
    fired_at: float | None = None
    resolved_at: float | None = None
    #: When an Alertmanager was last told about it (Prometheus re-sends firing alerts).
    sent_at: float | None = None
    #: Since when a firing alert has not been seen (``keep_firing_for`` holds it).
    keep_firing_since: float | None = None
    #: Whether its receivers were told it fires (not while silenced): then, and only
    #: then, they are told it resolved.
    notified: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "labels": self.labels,
            "annotations": self.annotations,
            "state": self.state,
            "active_at": self.active_at,
            "value": self.value,
            "fired_at": self.fired_at,
            "sent_at": self.sent_at,
            "keep_firing_since": self.keep_firing_since,
            "notified": self.notified,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Alert:
        state = data["state"]
        if state not in ("pending", "firing"):
            raise ValueError(f"unknown alert state {state!r}")
        return cls(
            labels={str(k): str(v) for k, v in data["labels"].items()},
            annotations={str(k): str(v) for k, v in data["annotations"].items()},
            state=state,
            active_at=float(data["active_at"]),
            value=float(data["value"]),
            fired_at=None if data.get("fired_at") is None else float(data["fired_at"]),
            sent_at=None if data.get("sent_at") is None else float(data["sent_at"]),
            keep_firing_since=None
            if data.get("keep_firing_since") is None
            else float(data["keep_firing_since"]),
            # state saved before silences existed: its firing alerts were all sent
            notified=bool(data.get("notified", state == "firing")),
        )


@dataclass(frozen=True, slots=True)
class Transition:
    """An alert moved from one phase to another at ``time``; ``alert`` is a snapshot."""

    time: float
    alert: Alert
    from_phase: Phase
    to_phase: Phase

    def to_event(self) -> dict[str, Any]:
        """The history record: ``time`` is epoch seconds here, ISO in the API."""
        return {
            "time": self.time,
            "alert": self.alert.labels.get("alertname", ""),
            "labels": self.alert.labels,
            "from": self.from_phase,
            "to": self.to_phase,
            "value": self.alert.value,
        }


def label_key(labels: Mapping[str, str]) -> LabelKey:
    return tuple(sorted(labels.items()))


class RuleState:
    """The active alerts of one rule, stepped by each evaluation."""

    def __init__(self, rule: Rule, alerts: Iterable[Alert] = ()) -> None:
        self.rule = rule
        self.alerts: dict[LabelKey, Alert] = {label_key(a.labels): a for a in alerts}

    @property
    def state(self) -> Literal["inactive", "pending", "firing"]:
        """The rule's state: its most advanced alert's."""
        states = {a.state for a in self.alerts.values()}
        if "firing" in states:
            return "firing"
        return "pending" if states else "inactive"

    def alert_labels(self, sample_labels: Mapping[str, str], value: float) -> dict[str, str]:
        labels = {k: v for k, v in sample_labels.items() if k != "__name__"}
        for name, template in self.rule.labels.items():
            labels[name] = render(template, sample_labels, value)
        labels["alertname"] = self.rule.name
        return labels

    def step(self, samples: Iterable[Sample], now: float) -> list[Transition]:
        """Apply one evaluation's result at ``now``; the transitions, in order."""
        transitions: list[Transition] = []
        seen: set[LabelKey] = set()
        for sample_labels, value in samples:
            labels = self.alert_labels(sample_labels, value)
            key = label_key(labels)
            if key in seen:
                continue  # two series mapped to one label set: Prometheus errors; keep the first
            seen.add(key)
            annotations = {
                name: render(template, sample_labels, value)
                for name, template in self.rule.annotations.items()
            }
            alert = self.alerts.get(key)
            if alert is None:
                alert = Alert(labels, annotations, "pending", now, value)
                self.alerts[key] = alert
                if self.rule.for_s <= 0:
                    alert.state, alert.fired_at = "firing", now
                    transitions.append(Transition(now, replace(alert), "inactive", "firing"))
                    continue
                transitions.append(Transition(now, replace(alert), "inactive", "pending"))
            alert.value, alert.annotations = value, annotations
            alert.keep_firing_since = None
            if alert.state == "pending" and now - alert.active_at >= self.rule.for_s:
                alert.state, alert.fired_at = "firing", now
                transitions.append(Transition(now, replace(alert), "pending", "firing"))
        for key in [k for k in self.alerts if k not in seen]:
            alert = self.alerts[key]
            if alert.state == "firing" and self.rule.keep_firing_for_s > 0:
                if alert.keep_firing_since is None:
                    alert.keep_firing_since = now
                if now - alert.keep_firing_since < self.rule.keep_firing_for_s:
                    continue
            del self.alerts[key]
            if alert.state == "firing":
                alert.resolved_at = now
                transitions.append(Transition(now, alert, "firing", "resolved"))
            else:
                transitions.append(Transition(now, alert, "pending", "inactive"))
        return transitions
