"""Breaker rules: circuit flips folded into "open since", and one end to end through the
Turbine hub of a real server watching a real breaker-protected service."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.alerting.receiver import AlertReceiver, alert_receiver
from tests.conftest import ServerProcess, free_port
from tracelake.alerting.breakers import OVERLAP_US, CircuitTracker, statement
from tracelake.alerting.rules import BreakerQuery

EXAMPLE = Path(__file__).resolve().parents[1] / "turbine" / "example_service.py"
S = 1_000_000  # µs per second
T0 = 1_700_000_000


def test_a_circuit_open_longer_than_open_for_is_active_with_its_seconds_open() -> None:
    tracker = CircuitTracker(BreakerQuery("payments", None, open_for_s=30))
    tracker.fold([("orders", "h1:80", "payments", "circuit_open", T0 * S)])
    assert tracker.samples(T0 + 29.9) == []
    assert tracker.samples(T0 + 45) == [
        ({"breaker": "payments", "service": "orders", "host": "h1:80"}, 45.0)
    ]


def test_the_last_flip_wins_in_any_order_and_per_host() -> None:
    tracker = CircuitTracker(BreakerQuery("*", None, open_for_s=0))
    tracker.fold(
        [
            ("orders", "h1:80", "payments", "circuit_closed", (T0 + 10) * S),
            ("orders", "h1:80", "payments", "circuit_open", T0 * S),
            ("orders", "h2:80", "payments", "circuit_open", (T0 + 5) * S),
        ]
    )
    assert [labels["host"] for labels, _ in tracker.samples(T0 + 20)] == ["h2:80"]


def test_folding_replaces_the_circuits_a_saver_may_be_reading_instead_of_changing_them() -> None:
    tracker = CircuitTracker(BreakerQuery("*", None, open_for_s=0))
    tracker.fold([("orders", "h1:80", "payments", "circuit_open", T0 * S)])
    being_saved = tracker.circuits
    tracker.fold([("orders", "h2:80", "payments", "circuit_open", (T0 + 1) * S)])
    assert list(being_saved) == [("orders", "h1:80", "payments")]
    assert len(tracker.circuits) == 2


def test_scans_resume_from_the_last_flip_seen_less_an_overlap() -> None:
    tracker = CircuitTracker(BreakerQuery("payments", None, open_for_s=0, lookback_s=3600))
    now = (T0 + 100) * S
    assert tracker.scan_start(now) == now - 3600 * S
    tracker.fold([("orders", "h1:80", "payments", "circuit_open", T0 * S)])
    assert tracker.scan_start(now) == T0 * S - OVERLAP_US
    restored = CircuitTracker(tracker.query)
    restored.restore(tracker.to_json())
    assert restored.circuits == tracker.circuits and restored.cursor_us == tracker.cursor_us


def test_the_statement_filters_by_breaker_and_service_with_bound_values_only() -> None:
    sql, params = statement(BreakerQuery("pay'ments", "orders", 1.0), T0 * S)
    assert "pay'ments" not in sql and "orders" not in sql
    assert params[-3:] == ["$.breaker", "pay'ments", "orders"]
    any_sql, any_params = statement(BreakerQuery("*", None, 1.0), T0 * S)
    assert any_sql.count("?") == len(any_params) == 6


@pytest.fixture
def receiver() -> Iterator[AlertReceiver]:
    with alert_receiver() as r:
        yield r


@pytest.fixture
def breaker_service() -> Iterator[int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(EXAMPLE), str(port)])
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.post(f"http://127.0.0.1:{port}/work?n=5", timeout=1)
            break
        except httpx.TransportError:
            assert time.monotonic() < deadline, "example service did not start"
            time.sleep(0.05)
    yield port
    proc.kill()
    proc.wait(10)


@pytest.mark.e2e
def test_a_circuit_open_past_open_for_fires_at_the_webhook(
    server_factory: type[ServerProcess],
    tmp_path: Path,
    receiver: AlertReceiver,
    breaker_service: int,
) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(
        "groups:\n"
        "  - name: circuits\n"
        "    interval: 250ms\n"
        "    rules:\n"
        "      - alert: CircuitOpen\n"
        "        breaker: payments\n"
        "        open_for: 1s\n"
        "        annotations:\n"
        '          summary: "{{ $labels.breaker }} open for {{ humanizeDuration $value }}"\n'
    )
    config = tmp_path / "tracelake.toml"
    config.write_text(
        "ingest_workers = 0\n"
        f"alert_rule_files = [{str(rules)!r}]\n"
        f'alert_webhooks = ["{receiver.url}"]\n'
        f'turbine_clusters = {{ orders = ["127.0.0.1:{breaker_service}"] }}\n'
    )
    server = server_factory(tmp_path / "data", extra_args=["--config", str(config)]).start()
    time.sleep(1.0)  # the hub's feed connects and sees the circuit closed first
    opened_at = time.time()
    httpx.post(f"http://127.0.0.1:{breaker_service}/force-open", timeout=5)
    fired = receiver.wait_for(lambda m: m["status"] == "firing")
    assert time.time() - opened_at >= 1.0
    [alert] = fired["alerts"]
    assert alert["labels"]["alertname"] == "CircuitOpen"
    assert alert["labels"]["breaker"] == "payments" and alert["labels"]["service"] == "orders"
    assert alert["annotations"]["summary"].startswith("payments open for ")
    assert alert["generatorURL"] == f"{server.url}/#/circuits"
