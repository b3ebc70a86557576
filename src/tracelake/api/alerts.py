"""``/api/v1/alerts``, ``/api/v1/rules``, ``/api/v1/alerts/history``: alerting, read-only.

The alerts and rules answers have Prometheus's shapes exactly, and are served under
``/prometheus/api/v1/`` as well, so Grafana's Prometheus data source (its alert list
and rules views) reads tracelake's alerts as it reads Prometheus's. Beyond Prometheus's
fields, each rule carries ``kind`` (``promql``, ``log`` or ``breaker``). A recording
rule answers as Prometheus's: no ``lastError`` while healthy, no ``labels`` when it
has none.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tracelake.alerting.manager import HISTORY_MAX, RecordRuntime, RuleRuntime, ui_link
from tracelake.alerting.numbers import go_exponent
from tracelake.alerting.payloads import iso
from tracelake.alerting.state import Alert
from tracelake.api.context import context
from tracelake.api.endpoints import READ, Endpoint
from tracelake.api.openapi import answer, error_answers, query_param, schema
from tracelake.api.params import bounded_int
from tracelake.api.responses import JSON
from tracelake.errors import BadRequest

DEFAULT_HISTORY = 100
_RULE_TYPES = ("alert", "record")


def _success(data: dict[str, Any]) -> Response:
    return JSON({"status": "success", "data": data})


def alert_json(alert: Alert, silenced_by: list[str] | None = None) -> dict[str, Any]:
    """Prometheus's alert; ``silencedBy`` (tracelake's) lists the silences over it."""
    out: dict[str, Any] = {
        "labels": alert.labels,
        "annotations": alert.annotations,
        "state": alert.state,
        "activeAt": iso(alert.active_at),
        "value": go_exponent(alert.value),
    }
    if silenced_by is not None:
        out["silencedBy"] = silenced_by
    return out


def rule_json(rr: RuleRuntime) -> dict[str, Any]:
    rule = rr.rule
    return {
        "type": "alerting",
        "kind": rule.kind,
        "name": rule.name,
        "query": rule.describe(),
        "link": ui_link(rule),
        "duration": rule.for_s,
        "keepFiringFor": rule.keep_firing_for_s,
        "labels": rule.labels,
        "annotations": rule.annotations,
        "state": rr.state.state,
        "health": rr.health,
        "lastError": rr.last_error,
        "lastEvaluation": iso(rr.last_evaluation) if rr.last_evaluation else None,
        "evaluationTime": rr.evaluation_s,
        "alerts": [alert_json(a) for a in rr.state.alerts.values()],
    }


def record_json(rr: RecordRuntime) -> dict[str, Any]:
    rule = rr.rule
    out: dict[str, Any] = {"name": rule.name, "query": rule.expr}
    if rule.labels:
        out["labels"] = rule.labels
    out["health"] = rr.health
    if rr.last_error:
        out["lastError"] = rr.last_error
    out.update(
        evaluationTime=rr.evaluation_s,
        lastEvaluation=iso(rr.last_evaluation) if rr.last_evaluation else None,
        type="recording",
        kind=rule.kind,
    )
    return out


async def alerts(request: Request) -> Response:
    """Every pending and firing alert (Prometheus: ``GET /api/v1/alerts``)."""
    manager = context(request).alerts
    now = time.time()
    return _success(
        {
            "alerts": [
                alert_json(a, [s.id for s in manager.silences.silencing(a.labels, now)])
                for _, a in manager.active_alerts()
            ]
        }
    )


async def rules(request: Request) -> Response:
    """Rule groups with their rules' state (Prometheus: ``GET /api/v1/rules``).

    ``type=alert`` keeps alerting rules, ``type=record`` recording rules; as in
    Prometheus 2.42 a group stays listed when the type leaves none of its rules.
    ``rule_name[]`` and ``rule_group[]`` filter.
    """
    manager = context(request).alerts
    kind = request.query_params.get("type")
    if kind is not None and kind not in _RULE_TYPES:
        raise BadRequest(f"type={kind!r} is not a rule type: use alert or record")
    names = set(request.query_params.getlist("rule_name[]"))
    group_names = set(request.query_params.getlist("rule_group[]"))
    groups = []
    for g in manager.groups:
        if group_names and g.group.name not in group_names:
            continue
        selected = [rr for rr in g.rules if not names or rr.rule.name in names]
        if names and not selected:
            continue
        if kind is not None:
            wanted = RecordRuntime if kind == "record" else RuleRuntime
            selected = [rr for rr in selected if isinstance(rr, wanted)]
        groups.append(
            {
                "name": g.group.name,
                "file": g.group.file,
                "interval": g.group.interval_s,
                "limit": 0,
                "rules": [
                    record_json(rr) if isinstance(rr, RecordRuntime) else rule_json(rr)
                    for rr in selected
                ],
                "lastEvaluation": iso(g.last_evaluation) if g.last_evaluation else None,
                "evaluationTime": g.evaluation_s,
            }
        )
    return _success({"groups": groups})


async def history(request: Request) -> Response:
    """State changes of alerts, newest first: ``limit`` (default 100) of the last 1000."""
    limit = bounded_int(request, "limit", DEFAULT_HISTORY, 1, HISTORY_MAX)
    events = context(request).alerts.recent_history(limit)
    return _success({"events": [{**e, "time": iso(e["time"])} for e in events]})


_SUCCESS = {"200": answer(schema("Success"))}
_NAMES = {"type": "array", "items": {"type": "string"}}

endpoints = [
    Endpoint(
        "/api/v1/alerts",
        alerts,
        ("GET",),
        READ,
        doc={
            "operationId": "alerts",
            "summary": "Pending and firing alerts (Prometheus's shape)",
            "tags": ["alerting"],
            "responses": _SUCCESS,
        },
    ),
    Endpoint(
        "/api/v1/alerts/history",
        history,
        ("GET",),
        READ,
        doc={
            "operationId": "alertHistory",
            "summary": "Alert state changes, newest first",
            "tags": ["alerting"],
            "parameters": [
                query_param("limit", "events to return", {"type": "integer", "minimum": 1})
            ],
            "responses": {**_SUCCESS, **error_answers("BadRequest")},
        },
    ),
    Endpoint(
        "/api/v1/rules",
        rules,
        ("GET",),
        READ,
        doc={
            "operationId": "rules",
            "summary": "Alerting and recording rule groups and their state (Prometheus's shape)",
            "tags": ["alerting"],
            "parameters": [
                query_param("type", "alert or record", {"type": "string"}),
                *(
                    {
                        "name": name,
                        "in": "query",
                        "schema": _NAMES,
                        "style": "form",
                        "explode": True,
                    }
                    for name in ("rule_name[]", "rule_group[]")
                ),
            ],
            "responses": {**_SUCCESS, **error_answers("BadRequest")},
        },
    ),
    Endpoint("/prometheus/api/v1/alerts", alerts, ("GET",), READ),
    Endpoint("/prometheus/api/v1/rules", rules, ("GET",), READ),
]
