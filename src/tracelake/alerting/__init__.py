"""Alerting: rules over metrics, logs and circuit breakers, their alerts, notifications.

``rules`` reads rule files (Prometheus's format plus log and breaker rules); ``state``
is the sans-IO state machine of a rule's alerts (pending → firing → resolved);
``evaluate`` runs a rule's query; ``payloads`` and ``notifier`` tell webhooks and
Alertmanagers; ``persist`` keeps the state across restarts; ``manager`` runs it all on
the server's event loop. docs/alerting.md describes it for users.
"""

from __future__ import annotations

from tracelake.alerting.manager import AlertManager
from tracelake.alerting.rules import Rule, RuleGroup, load_rule_files
from tracelake.alerting.state import Alert, RuleState, Transition

__all__ = [
    "Alert",
    "AlertManager",
    "Rule",
    "RuleGroup",
    "RuleState",
    "Transition",
    "load_rule_files",
]
