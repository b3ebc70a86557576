"""Notifications over real HTTP: a webhook receiver and an Alertmanager-shaped one,
with scripted failures to show what is retried and what is not."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.alerting.receiver import AlertReceiver, alert_receiver
from tests.conftest import free_port
from tracelake.alerting.notifier import Notifier, RetryPolicy, alertmanager_endpoint
from tracelake.alerting.payloads import (
    Outgoing,
    alertmanager_alerts,
    fingerprint,
    iso,
    webhook_message,
)
from tracelake.alerting.state import Alert

FAST = RetryPolicy(attempts=3, backoff_s=0.05, max_backoff_s=0.2, timeout_s=5.0)
T0 = 1_700_000_000.0


@pytest.fixture
def receiver() -> Iterator[AlertReceiver]:
    with alert_receiver() as r:
        yield r


def firing(service: str = "checkout") -> Alert:
    return Alert(
        labels={"alertname": "CheckoutErrors", "service": service, "severity": "page"},
        annotations={"summary": f"{service} fails"},
        state="firing",
        active_at=T0,
        value=12.0,
        fired_at=T0 + 60,
    )


async def deliver(notifier: Notifier, *messages: tuple[str, object]) -> None:
    notifier.start()
    for kind, payload in messages:
        notifier.send(kind, payload)  # type: ignore[arg-type]
    await notifier.aclose(drain_s=10)


def test_a_webhook_gets_alertmanagers_webhook_message(receiver: AlertReceiver) -> None:
    notifier = Notifier([receiver.url + "/hook"], [], FAST)
    fire = webhook_message([Outgoing(firing(), "firing", "http://tl/#/logs")], "http://tl")
    resolve = webhook_message(
        [Outgoing(firing(), "resolved", "http://tl/#/logs", ends_at=T0 + 300)], "http://tl"
    )
    asyncio.run(deliver(notifier, ("webhook", fire), ("webhook", resolve)))
    first, second = receiver.accepted()
    assert [d.path for d in receiver.deliveries] == ["/hook", "/hook"]
    assert first["version"] == "4" and first["status"] == "firing"
    assert first["receiver"] == "tracelake" and first["externalURL"] == "http://tl"
    assert first["groupLabels"] == {"alertname": "CheckoutErrors"}
    assert first["commonLabels"]["service"] == "checkout"
    [alert] = first["alerts"]
    assert alert["status"] == "firing" and alert["endsAt"] == "0001-01-01T00:00:00Z"
    assert alert["startsAt"] == iso(T0 + 60) == "2023-11-14T22:14:20.000Z"
    assert alert["fingerprint"] == fingerprint(alert["labels"])
    assert second["status"] == "resolved"
    assert second["alerts"][0]["endsAt"] == iso(T0 + 300)
    assert notifier.receivers[0].stats.delivered == 2


def test_an_alertmanager_gets_v2_alerts_and_a_500_is_retried(receiver: AlertReceiver) -> None:
    receiver.fail_next(500, 503)
    notifier = Notifier([], [receiver.url], FAST)
    body = alertmanager_alerts([Outgoing(firing(), "firing", "http://tl/#/logs", ends_at=T0 + 600)])
    asyncio.run(deliver(notifier, ("alertmanager", body)))
    assert [d.status for d in receiver.deliveries] == [500, 503, 200]
    assert {d.path for d in receiver.deliveries} == {"/api/v2/alerts"}
    [alert] = receiver.accepted()[0]
    assert alert == {
        "labels": {"alertname": "CheckoutErrors", "service": "checkout", "severity": "page"},
        "annotations": {"summary": "checkout fails"},
        "startsAt": iso(T0 + 60),
        "endsAt": iso(T0 + 600),
        "generatorURL": "http://tl/#/logs",
    }
    stats = notifier.receivers[0].stats
    assert (stats.delivered, stats.retries, stats.failed) == (1, 2, 0)


def test_a_4xx_answer_is_not_retried(receiver: AlertReceiver) -> None:
    receiver.fail_next(400)
    notifier = Notifier([receiver.url], [], FAST)
    asyncio.run(deliver(notifier, ("webhook", {"n": 1}), ("webhook", {"n": 2})))
    assert [(d.status, d.body["n"]) for d in receiver.deliveries] == [(400, 1), (200, 2)]
    stats = notifier.receivers[0].stats
    assert (stats.delivered, stats.retries, stats.failed) == (1, 0, 1)


def test_an_unreachable_receiver_is_given_up_after_the_attempts_and_blocks_no_other(
    receiver: AlertReceiver,
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    notifier = Notifier([dead, receiver.url], [], FAST)
    asyncio.run(deliver(notifier, ("webhook", {"n": 1})))
    down, up = notifier.receivers
    assert (down.stats.failed, down.stats.retries) == (1, FAST.attempts - 1)
    assert up.stats.delivered == 1 and receiver.accepted() == [{"n": 1}]


def test_messages_to_one_receiver_arrive_in_order_even_across_retries(
    receiver: AlertReceiver,
) -> None:
    receiver.fail_next(500)
    notifier = Notifier([receiver.url], [], FAST)
    asyncio.run(deliver(notifier, *[("webhook", {"n": n}) for n in range(5)]))
    assert [b["n"] for b in receiver.accepted()] == [0, 1, 2, 3, 4]


def test_retry_waits_double_up_to_the_cap() -> None:
    backoff = RetryPolicy(attempts=6, backoff_s=1.0, max_backoff_s=5.0).backoff()
    assert [backoff.ceiling(a) for a in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    for ceiling in [1.0, 2.0, 4.0, 5.0, 5.0]:
        assert ceiling / 2 <= backoff.next() <= ceiling  # jittered like the SDK's and agent's
    assert backoff.attempt == 5


def test_a_receivers_retry_after_is_honoured(receiver: AlertReceiver) -> None:
    receiver.fail_next(429, retry_after="1")
    policy = RetryPolicy(attempts=3, backoff_s=0.01, max_backoff_s=5.0)  # own waits: 10 ms
    notifier = Notifier([receiver.url], [], policy)
    asyncio.run(deliver(notifier, ("webhook", {"n": 1})))
    first, second = receiver.deliveries
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 0.95
    assert notifier.receivers[0].stats.delivered == 1


def test_alertmanager_urls_may_be_base_or_full() -> None:
    assert alertmanager_endpoint("http://am:9093") == "http://am:9093/api/v2/alerts"
    assert alertmanager_endpoint("http://am:9093/") == "http://am:9093/api/v2/alerts"
    assert alertmanager_endpoint("http://am/api/v2/alerts") == "http://am/api/v2/alerts"


def test_common_labels_are_those_every_alert_shares() -> None:
    message = webhook_message(
        [Outgoing(firing("a"), "firing", ""), Outgoing(firing("b"), "resolved", "", T0)], ""
    )
    assert message["commonLabels"] == {"alertname": "CheckoutErrors", "severity": "page"}
    assert message["commonAnnotations"] == {}
    assert message["status"] == "firing"
