"""``/api/v1/alerts``, ``/api/v1/rules``, ``/api/v1/alerts/history`` (and the same under
``/prometheus``) on a real server with a log rule fed over HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ServerProcess

pytestmark = pytest.mark.e2e

RULES = """\
groups:
  - name: checkout
    interval: 200ms
    rules:
      - alert: CheckoutErrors
        log_query: 'level:error service:checkout'
        window: 1m
        threshold: 3
        group_by: [service]
        for: 2s
        labels: {severity: page}
        annotations: {summary: "{{ $value }} errors"}
  - name: circuits
    rules:
      - alert: CircuitOpen
        breaker: '*'
        open_for: 30s
"""


@pytest.fixture
def server(server_factory: type[ServerProcess], tmp_path: Path) -> ServerProcess:
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES)
    config = tmp_path / "tracelake.toml"
    config.write_text(f"ingest_workers = 0\nalert_rule_files = [{str(rules)!r}]\n")
    return server_factory(tmp_path / "data", extra_args=["--config", str(config)]).start()


def errors(server: ServerProcess, n: int) -> None:
    lines = [{"service": "checkout", "level": "error", "message": "boom"} for _ in range(n)]
    r = httpx.post(f"{server.url}/api/v1/logs", json=lines)
    assert r.status_code == 200, r.text


def until(read: Callable[[], Any], ok: Callable[[Any], bool], timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if ok(value):
            return value
        assert time.monotonic() < deadline, f"gave up waiting; last: {value}"
        time.sleep(0.05)


def test_alerts_show_pending_then_firing_in_prometheus_shape(server: ServerProcess) -> None:
    errors(server, 4)

    def alerts() -> dict[str, Any]:
        r = httpx.get(f"{server.url}/api/v1/alerts")
        assert r.status_code == 200
        body: dict[str, Any] = r.json()
        return body

    pending = until(alerts, lambda b: b["data"]["alerts"])
    assert pending["status"] == "success"
    [alert] = pending["data"]["alerts"]
    assert alert["state"] == "pending"
    assert alert["labels"] == {
        "alertname": "CheckoutErrors",
        "service": "checkout",
        "severity": "page",
    }
    assert alert["annotations"] == {"summary": "4 errors"}
    assert alert["value"] == "4e+00"
    active_at = datetime.fromisoformat(alert["activeAt"])
    assert abs(active_at - datetime.now(UTC)).total_seconds() < 10

    firing = until(alerts, lambda b: b["data"]["alerts"][0]["state"] == "firing")
    assert firing["data"]["alerts"][0]["activeAt"] == alert["activeAt"]
    assert httpx.get(f"{server.url}/prometheus/api/v1/alerts").json() == alerts()


def test_rules_list_groups_with_state_health_and_alerts(server: ServerProcess) -> None:
    errors(server, 3)

    def rules() -> dict[str, Any]:
        body: dict[str, Any] = httpx.get(f"{server.url}/api/v1/rules").json()
        return body

    body = until(rules, lambda b: b["data"]["groups"][0]["rules"][0]["state"] != "inactive")
    checkout, circuits = body["data"]["groups"]
    assert (checkout["name"], checkout["interval"]) == ("checkout", 0.2)
    assert checkout["file"].endswith("rules.yml")
    [rule] = checkout["rules"]
    assert rule["type"] == "alerting" and rule["kind"] == "log"
    assert rule["name"] == "CheckoutErrors" and rule["duration"] == 2.0
    assert rule["query"] == "count(level:error service:checkout) over 1m >= 3 by service"
    assert rule["health"] == "ok" and rule["lastError"] == ""
    assert rule["labels"] == {"severity": "page"}
    assert rule["alerts"][0]["labels"]["service"] == "checkout"
    assert circuits["interval"] == 15.0
    assert circuits["rules"][0]["kind"] == "breaker"
    assert circuits["rules"][0]["state"] == "inactive"

    only = httpx.get(f"{server.url}/prometheus/api/v1/rules", params={"rule_group[]": "circuits"})
    assert [g["name"] for g in only.json()["data"]["groups"]] == ["circuits"]
    none = httpx.get(f"{server.url}/api/v1/rules", params={"type": "record"})
    # no recording rules: every group stays listed without rules, as in Prometheus 2.42
    assert [g["rules"] for g in none.json()["data"]["groups"]] == [[], []]


def test_history_lists_state_changes_newest_first(server: ServerProcess) -> None:
    errors(server, 3)

    def history() -> list[dict[str, Any]]:
        r = httpx.get(f"{server.url}/api/v1/alerts/history", params={"limit": 10})
        assert r.status_code == 200
        events: list[dict[str, Any]] = r.json()["data"]["events"]
        return events

    events = until(history, lambda e: len(e) == 2)
    assert [(e["from"], e["to"]) for e in events] == [
        ("pending", "firing"),
        ("inactive", "pending"),
    ]
    assert events[0]["alert"] == "CheckoutErrors" and events[0]["value"] == 3.0
    assert events[0]["labels"]["service"] == "checkout"
    assert datetime.fromisoformat(events[0]["time"]) > datetime.fromisoformat(events[1]["time"])
    one = httpx.get(f"{server.url}/api/v1/alerts/history", params={"limit": 1})
    assert one.json()["data"]["events"] == events[:1]


@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        ("/api/v1/alerts/history", {"limit": "0"}, "limit"),
        ("/api/v1/alerts/history", {"limit": "many"}, "limit"),
        ("/api/v1/rules", {"type": "recording"}, "type='recording' is not a rule type"),
    ],
)
def test_bad_parameters_are_a_400_with_a_message(
    server: ServerProcess, path: str, params: dict[str, str], message: str
) -> None:
    r = httpx.get(f"{server.url}{path}", params=params)
    assert r.status_code == 400
    assert message in r.json()["error"]
