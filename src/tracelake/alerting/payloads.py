"""What receivers are sent: Alertmanager's API v2 alerts and its webhook message.

Sans-IO. ``alertmanager_alerts`` is the body of ``POST /api/v2/alerts`` (what Prometheus
sends an Alertmanager); ``webhook_message`` is the JSON an Alertmanager webhook receiver
gets (version 4), so anything written for Alertmanager webhooks — chat bridges, paging
tools — takes tracelake's notifications as they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from tracelake.alerting.state import Alert

#: Alertmanager's "not set" time, used as ``endsAt`` of a firing alert in webhooks.
ZERO_TIME = "0001-01-01T00:00:00Z"
RECEIVER = "tracelake"

_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3


def iso(epoch_s: float) -> str:
    """RFC 3339 in UTC with milliseconds: ``2026-01-02T03:04:05.678Z``."""
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def fingerprint(labels: Mapping[str, str]) -> str:
    """Prometheus's label-set fingerprint (FNV-1a 64 over sorted names and values)."""
    h = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode() + b"\xff":
                h = ((h ^ byte) * _FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


@dataclass(frozen=True, slots=True)
class Outgoing:
    """An alert as a notification: firing, or resolved at ``ends_at``."""

    alert: Alert
    status: Literal["firing", "resolved"]
    generator_url: str
    ends_at: float | None = None


def alertmanager_alerts(items: Sequence[Outgoing]) -> list[dict[str, Any]]:
    """The body of ``POST /api/v2/alerts``; a firing alert's ``endsAt`` is when it
    lapses unless re-sent (Alertmanager then resolves it by itself)."""
    out = []
    for item in items:
        alert = item.alert
        body: dict[str, Any] = {
            "labels": alert.labels,
            "annotations": alert.annotations,
            "startsAt": iso(alert.fired_at or alert.active_at),
            "generatorURL": item.generator_url,
        }
        if item.ends_at is not None:
            body["endsAt"] = iso(item.ends_at)
        out.append(body)
    return out


def webhook_message(items: Sequence[Outgoing], external_url: str) -> dict[str, Any]:
    """One Alertmanager webhook message (version 4) about alerts of one rule."""
    alerts = []
    for item in items:
        alert = item.alert
        alerts.append(
            {
                "status": item.status,
                "labels": alert.labels,
                "annotations": alert.annotations,
                "startsAt": iso(alert.fired_at or alert.active_at),
                "endsAt": ZERO_TIME if item.status == "firing" else iso(item.ends_at or 0),
                "generatorURL": item.generator_url,
                "fingerprint": fingerprint(alert.labels),
            }
        )
    name = items[0].alert.labels.get("alertname", "") if items else ""
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{name}"}}',
        "truncatedAlerts": 0,
        "status": "firing" if any(i.status == "firing" for i in items) else "resolved",
        "receiver": RECEIVER,
        "groupLabels": {"alertname": name},
        "commonLabels": _common([i.alert.labels for i in items]),
        "commonAnnotations": _common([i.alert.annotations for i in items]),
        "externalURL": external_url,
        "alerts": alerts,
    }


def _common(maps: Sequence[Mapping[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    first = dict(maps[0])
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in maps[1:])}
