"""Silences through the real server process: kept across a restart, and honoured by
notifications — a silenced alert fires on the Alerts API but sends nothing until the
silence ends, and then sends its firing once."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.alerting.receiver import AlertReceiver
from tests.alerting.test_e2e import (  # noqa: F401 - its fixtures
    Service,
    alerting_server,
    is_status,
    receiver,
    service,
)
from tests.conftest import ServerProcess

pytestmark = pytest.mark.e2e


def firing(server: ServerProcess) -> list[dict]:
    alerts = httpx.get(f"{server.url}/api/v1/alerts", timeout=10).json()["data"]["alerts"]
    return [a for a in alerts if a["state"] == "firing"]


def wait_firing(server: ServerProcess, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while not (found := firing(server)):
        assert time.monotonic() < deadline, "the alert never fired"
        time.sleep(0.2)
    return found[0]


def test_a_silenced_alert_notifies_nobody_across_a_restart_until_the_silence_ends(
    alerting_server: ServerProcess,  # noqa: F811
    receiver: AlertReceiver,  # noqa: F811
) -> None:
    alerting_server.start()
    created = httpx.post(
        f"{alerting_server.url}/api/v1/silences",
        json={"matchers": {"alertname": "CheckoutFailing"}, "duration": "1h", "comment": "deploy"},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    silence = created.json()["data"]
    assert silence["active"] and silence["kind"] == "silence"

    checkout = Service(alerting_server.url)
    checkout.tell("fail")
    alert = wait_firing(alerting_server)
    assert alert["silencedBy"] == [silence["id"]]
    time.sleep(1.5)  # several evaluations while firing and silenced
    assert receiver.accepted() == []

    checkout.close()
    alerting_server.stop()  # the silence is on disk, not only in memory
    alerting_server.start()
    checkout = Service(alerting_server.url)  # a fresh one: no SDK backoff to wait out
    checkout.tell("fail")
    [kept] = httpx.get(f"{alerting_server.url}/api/v1/silences", timeout=10).json()["data"]
    assert kept["id"] == silence["id"] and kept["active"] and kept["comment"] == "deploy"
    assert wait_firing(alerting_server)["silencedBy"] == [silence["id"]]
    time.sleep(1.0)
    assert receiver.accepted() == []

    ended = httpx.delete(f"{alerting_server.url}/api/v1/silences/{silence['id']}", timeout=10)
    assert ended.status_code == 200 and not ended.json()["data"]["active"]
    fired = receiver.wait_for(is_status("firing"))  # still firing: sent now, once
    assert fired["alerts"][0]["labels"]["alertname"] == "CheckoutFailing"
    checkout.tell("recover")
    receiver.wait_for(is_status("resolved"))
    checkout.close()
    assert [m["status"] for m in receiver.accepted()] == ["firing", "resolved"]


def test_an_acknowledgement_ends_when_its_alert_resolves_so_the_next_one_pages(
    alerting_server: ServerProcess,  # noqa: F811
    service: Service,  # noqa: F811
    receiver: AlertReceiver,  # noqa: F811
) -> None:
    service.tell("fail")
    alert = wait_firing(alerting_server)
    receiver.wait_for(is_status("firing"))
    ack = httpx.post(
        f"{alerting_server.url}/api/v1/silences",
        json={"kind": "ack", "matchers": alert["labels"], "duration": "1h"},
        timeout=10,
    ).json()["data"]
    service.tell("recover")
    deadline = time.monotonic() + 30
    while firing(alerting_server):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    time.sleep(1.0)
    # acknowledged: its resolution is not sent either
    assert [m["status"] for m in receiver.accepted()] == ["firing"]
    [after] = httpx.get(f"{alerting_server.url}/api/v1/silences", timeout=10).json()["data"]
    assert after["id"] == ack["id"] and not after["active"]  # ended with the alert

    service.tell("fail")
    receiver.wait_for(lambda m: is_status("firing")(m) and len(receiver.accepted()) >= 2)
    assert [m["status"] for m in receiver.accepted()] == ["firing", "firing"]


def test_a_silence_needs_matchers_and_a_duration_and_says_so(
    alerting_server: ServerProcess,  # noqa: F811
) -> None:
    alerting_server.start()
    bad = httpx.post(f"{alerting_server.url}/api/v1/silences", json={"duration": "1h"}, timeout=10)
    assert bad.status_code == 400 and "matchers" in bad.json()["error"]
    bad = httpx.post(
        f"{alerting_server.url}/api/v1/silences",
        json={"matchers": {"alertname": "X"}, "duration": "forever"},
        timeout=10,
    )
    assert bad.status_code == 400 and "duration" in bad.json()["error"]
    gone = httpx.delete(f"{alerting_server.url}/api/v1/silences/nope", timeout=10)
    assert gone.status_code == 404
