"""End to end: a service starts failing, a log rule fires at a real webhook, the service
recovers, the alert resolves — through the real server process, across a restart."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.alerting.receiver import AlertReceiver, alert_receiver
from tests.conftest import ServerProcess

SERVICE = Path(__file__).with_name("checkout_service.py")

RULES = """\
groups:
  - name: checkout
    interval: 250ms
    rules:
      - alert: CheckoutFailing
        log_query: 'level:error service:checkout'
        window: 2s
        threshold: 5
        group_by: [service]
        for: 1s
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.service }} logged {{ $value }} errors in 2s"
"""

pytestmark = pytest.mark.e2e


@pytest.fixture
def receiver() -> Iterator[AlertReceiver]:
    with alert_receiver() as r:
        yield r


@pytest.fixture
def alerting_server(
    server_factory: type[ServerProcess], tmp_path: Path, receiver: AlertReceiver
) -> ServerProcess:
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES)
    config = tmp_path / "tracelake.toml"
    config.write_text(
        "ingest_workers = 0\n"
        f"alert_rule_files = [{str(rules)!r}]\n"
        f'alert_webhooks = ["{receiver.url}/hook"]\n'
        "alert_notify_backoff_s = 0.1\n"
    )
    return server_factory(tmp_path / "data", extra_args=["--config", str(config)])


class Service:
    """The checkout service process, steered through its stdin."""

    def __init__(self, endpoint: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(SERVICE), endpoint], stdin=subprocess.PIPE, text=True
        )

    def tell(self, word: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(word + "\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        self.tell("quit")
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def service(alerting_server: ServerProcess) -> Iterator[Service]:
    alerting_server.start()
    svc = Service(alerting_server.url)
    yield svc
    svc.close()


def is_status(status: str) -> Any:
    return lambda m: m["status"] == status and m["groupLabels"] == {"alertname": "CheckoutFailing"}


def history(server: ServerProcess) -> list[tuple[str, str]]:
    state = orjson.loads((server.data_dir / "alerts" / "state.json").read_bytes())
    return [(e["from"], e["to"]) for e in state["history"]]


def test_a_failing_service_fires_at_the_webhook_and_resolves_when_it_recovers(
    alerting_server: ServerProcess, service: Service, receiver: AlertReceiver
) -> None:
    service.tell("fail")
    fired = receiver.wait_for(is_status("firing"))
    [alert] = fired["alerts"]
    assert alert["labels"] == {
        "alertname": "CheckoutFailing",
        "service": "checkout",
        "severity": "page",
    }
    assert alert["annotations"]["summary"].startswith("checkout logged ")
    assert fired["externalURL"] == alerting_server.url
    assert alert["generatorURL"].startswith(f"{alerting_server.url}/#/logs?q=level%3Aerror")

    service.tell("recover")
    resolved = receiver.wait_for(is_status("resolved"))
    assert resolved["alerts"][0]["fingerprint"] == alert["fingerprint"]
    assert resolved["alerts"][0]["startsAt"] == alert["startsAt"]
    assert [m["status"] for m in receiver.accepted()] == ["firing", "resolved"]

    alerting_server.stop()
    assert history(alerting_server) == [
        ("inactive", "pending"),
        ("pending", "firing"),
        ("firing", "resolved"),
    ]


def test_a_firing_alert_stays_firing_across_a_restart_and_resolves_after_it(
    alerting_server: ServerProcess, service: Service, receiver: AlertReceiver
) -> None:
    service.tell("fail")
    fired = receiver.wait_for(is_status("firing"))
    alerting_server.stop()  # the service keeps failing; its SDK retries meanwhile
    alerting_server.start()
    service.tell("recover")
    resolved = receiver.wait_for(is_status("resolved"))
    assert resolved["alerts"][0]["startsAt"] == fired["alerts"][0]["startsAt"]
    # kept, not re-learnt: no second pending → firing after the restart
    assert [m["status"] for m in receiver.accepted()] == ["firing", "resolved"]
    alerting_server.stop()
    assert history(alerting_server) == [
        ("inactive", "pending"),
        ("pending", "firing"),
        ("firing", "resolved"),
    ]
