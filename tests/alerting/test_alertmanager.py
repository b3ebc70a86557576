"""A real Alertmanager takes tracelake's alerts and routes them to its own webhook."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.alerting.receiver import AlertReceiver, alert_receiver
from tests.conftest import free_port
from tracelake.alerting.notifier import Notifier, RetryPolicy
from tracelake.alerting.payloads import Outgoing, alertmanager_alerts, fingerprint
from tracelake.alerting.state import Alert

BINARY = "prometheus-alertmanager"


@pytest.fixture
def receiver() -> Iterator[AlertReceiver]:
    with alert_receiver() as r:
        yield r


@pytest.fixture
def alertmanager(tmp_path: Path, receiver: AlertReceiver) -> Iterator[str]:
    binary = shutil.which(BINARY) or shutil.which("alertmanager")
    assert binary is not None, f"{BINARY} missing: run scripts/system-deps.sh"
    config = tmp_path / "alertmanager.yml"
    config.write_text(
        "route:\n"
        "  receiver: hook\n"
        "  group_by: [alertname]\n"
        "  group_wait: 100ms\n"
        "  group_interval: 500ms\n"
        "  repeat_interval: 1h\n"
        "receivers:\n"
        "  - name: hook\n"
        "    webhook_configs:\n"
        f"      - url: {receiver.url}/from-alertmanager\n"
        "        send_resolved: true\n"
    )
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, "alertmanager did not start"
        time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(10)


def test_alertmanager_accepts_firing_and_resolved_alerts_and_notifies_its_webhook(
    alertmanager: str, receiver: AlertReceiver
) -> None:
    now = time.time()
    alert = Alert(
        labels={"alertname": "CheckoutErrors", "service": "checkout"},
        annotations={"summary": "checkout fails"},
        state="firing",
        active_at=now - 60,
        value=12.0,
        fired_at=now - 5,
    )
    policy = RetryPolicy(attempts=3, backoff_s=0.1, timeout_s=5.0)

    async def send(item: Outgoing) -> None:
        notifier = Notifier([], [alertmanager], policy)
        notifier.start()
        notifier.send("alertmanager", alertmanager_alerts([item]))
        await notifier.aclose(drain_s=10)
        assert notifier.receivers[0].stats.delivered == 1

    asyncio.run(send(Outgoing(alert, "firing", "http://tl/#/logs", ends_at=now + 300)))
    [held] = httpx.get(f"{alertmanager}/api/v2/alerts").json()
    assert held["labels"] == alert.labels and held["status"]["state"] == "active"
    assert held["fingerprint"] == fingerprint(alert.labels)
    assert held["generatorURL"] == "http://tl/#/logs"
    fired = receiver.wait_for(lambda m: m["status"] == "firing")
    assert fired["alerts"][0]["labels"] == alert.labels
    assert fired["alerts"][0]["fingerprint"] == fingerprint(alert.labels)

    asyncio.run(send(Outgoing(alert, "resolved", "http://tl/#/logs", ends_at=time.time())))
    resolved = receiver.wait_for(lambda m: m["status"] == "resolved")
    assert resolved["alerts"][0]["labels"] == alert.labels
