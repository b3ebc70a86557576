"""End to end: a PromQL rule over scraped counters goes pending, fires at a real webhook
with its templated annotation, and resolves when the service recovers.

Nothing reaches the server but what its scraper pulls from the service's prometheus_client
``/metrics``: the rule sees the failure only through the scrape → ``metrics`` table →
PromQL path.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.alerting.receiver import AlertReceiver, alert_receiver
from tests.conftest import ServerProcess
from tracelake.alerting.template import humanize

SERVICE = Path(__file__).with_name("metrics_service.py")
ALERT = "CheckoutErrorRate"

RULES = """\
groups:
  - name: checkout-metrics
    interval: 250ms
    rules:
      - alert: CheckoutErrorRate
        expr: sum by (service, status) (rate(checkout_errors_total[5s])) > 0
        for: 2s
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.service }} fails {{ $value | humanize }} requests/s with {{ $labels.status }}"
"""

pytestmark = pytest.mark.e2e


class MetricsService:
    """The counters-only service process, steered through its stdin."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(SERVICE)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline().split()
        if first[:1] != ["port"]:
            self.proc.kill()
            raise RuntimeError(f"metrics service did not start: {first}")
        self.port = int(first[1])

    def tell(self, word: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(word + "\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.tell("quit")
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def receiver() -> Iterator[AlertReceiver]:
    with alert_receiver() as r:
        yield r


@pytest.fixture
def service() -> Iterator[MetricsService]:
    svc = MetricsService()
    yield svc
    svc.close()


@pytest.fixture
def scraping_server(
    server_factory: type[ServerProcess],
    tmp_path: Path,
    receiver: AlertReceiver,
    service: MetricsService,
) -> ServerProcess:
    """A server scraping the service every second, with the PromQL rule and the webhook."""
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES)
    config = tmp_path / "tracelake.toml"
    config.write_text(
        "ingest_workers = 0\n"
        "scrape_interval_s = 1.0\n"
        f'scrape_targets = {{checkout = ["127.0.0.1:{service.port}"]}}\n'
        f"alert_rule_files = [{str(rules)!r}]\n"
        f'alert_webhooks = ["{receiver.url}/hook"]\n'
        "alert_notify_backoff_s = 0.1\n"
    )
    server = server_factory(tmp_path / "data", extra_args=["--config", str(config)])
    return server.start()


def is_status(status: str) -> Any:
    return lambda m: m["status"] == status and m["groupLabels"] == {"alertname": ALERT}


def get_data(server: ServerProcess, path: str) -> Any:
    answer = httpx.get(f"{server.url}{path}", timeout=10)
    answer.raise_for_status()
    return answer.json()["data"]


def wait_for_pending(server: ServerProcess, timeout: float = 30.0) -> dict[str, Any]:
    """The alert while pending: it lasts ``for`` (2 s), polled ten times a second."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for alert in get_data(server, "/api/v1/alerts")["alerts"]:
            if alert["labels"]["alertname"] == ALERT:
                assert alert["state"] == "pending", f"seen first as {alert}"
                return dict(alert)
        time.sleep(0.1)
    raise AssertionError(f"no pending {ALERT} in {timeout} s; server log:\n{server.output()}")


def test_a_promql_rule_on_scraped_counters_fires_with_its_annotation_and_resolves(
    scraping_server: ServerProcess, service: MetricsService, receiver: AlertReceiver
) -> None:
    server = scraping_server
    # Healthy and scraped: the error series exists at 0, so the rule is quiet.
    scraped = get_data(server, "/prometheus/api/v1/query?query=checkout_errors_total")
    deadline = time.monotonic() + 15
    while not scraped["result"] and time.monotonic() < deadline:
        time.sleep(0.2)
        scraped = get_data(server, "/prometheus/api/v1/query?query=checkout_errors_total")
    [series] = scraped["result"]
    assert series["metric"]["service"] == "checkout"
    assert series["metric"]["instance"] == f"127.0.0.1:{service.port}"
    assert float(series["value"][1]) == 0.0
    assert get_data(server, "/api/v1/alerts")["alerts"] == []

    service.tell("fail")
    pending = wait_for_pending(server)
    assert pending["labels"] == {
        "alertname": ALERT,
        "service": "checkout",
        "status": "503",
        "severity": "page",
    }

    fired = receiver.wait_for(is_status("firing"))
    [alert] = fired["alerts"]
    assert alert["labels"] == pending["labels"]
    query = quote("sum by (service, status) (rate(checkout_errors_total[5s])) > 0", safe="")
    assert alert["generatorURL"] == f"{server.url}/#/metrics?q={query}&from=-1h"  # its graph
    events = get_data(server, "/api/v1/alerts/history")["events"]
    [to_firing] = [e for e in events if e["alert"] == ALERT and e["to"] == "firing"]
    assert to_firing["value"] > 0
    assert alert["annotations"]["summary"] == (
        f"checkout fails {humanize(to_firing['value'])} requests/s with 503"
    )
    [rules_group] = get_data(server, "/api/v1/rules")["groups"]
    [rule] = rules_group["rules"]
    assert (rule["kind"], rule["health"], rule["state"]) == ("promql", "ok", "firing")

    service.tell("recover")
    resolved = receiver.wait_for(is_status("resolved"))
    assert resolved["alerts"][0]["fingerprint"] == alert["fingerprint"]
    assert resolved["alerts"][0]["startsAt"] == alert["startsAt"]
    assert [m["status"] for m in receiver.accepted()] == ["firing", "resolved"]

    changes = [
        e for e in reversed(get_data(server, "/api/v1/alerts/history")["events"])
        if e["alert"] == ALERT
    ]  # fmt: skip
    assert [(e["from"], e["to"]) for e in changes] == [
        ("inactive", "pending"),
        ("pending", "firing"),
        ("firing", "resolved"),
    ]
    became_pending, fired_at = (datetime.fromisoformat(e["time"]) for e in changes[:2])
    # the rule's for: 2s, less the times' millisecond truncation
    assert (fired_at - became_pending).total_seconds() >= 2.0 - 0.001
