"""The demo's events and registration go through the SDK and never fail a request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import tracelake.sdk
from tests.conftest import ServerProcess
from tracelake.demo import extras


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    extras._broken.clear()
    yield
    extras.deregister()
    extras._broken.clear()


def test_a_failing_sdk_call_is_logged_once_and_not_made_again(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls = 0

    def broken(*args: Any, **kwargs: Any) -> None:
        nonlocal calls
        calls += 1
        raise TypeError("payload must be a mapping")

    monkeypatch.setattr(tracelake.sdk, "publish_event", broken)
    extras.publish_event("order_placed", {"order_id": "ord-1"}, key="ord-1")
    extras.publish_event("order_placed", {"order_id": "ord-2"}, key="ord-2")
    assert calls == 1
    assert "tracelake.sdk.publish_event failed" in caplog.text


@pytest.mark.e2e
def test_events_and_the_registration_reach_a_real_server(server: ServerProcess) -> None:
    extras.configure("orders", server.url)
    extras.publish_event(
        "order_placed", {"order_id": "ord-7", "status": "placed", "amount": 8.0}, key="ord-7"
    )
    extras.flush(10)
    rows = httpx.post(
        f"{server.url}/api/v1/sql",
        json={"sql": "SELECT type, key, service, payload FROM events"},
    ).json()["rows"]
    assert [r[:3] for r in rows] == [["order_placed", "ord-7", "orders"]]
    assert '"status":"placed"' in rows[0][3].replace(" ", "")

    extras.register("orders", 9999, server.url)
    listed = httpx.get(f"{server.url}/api/v1/registry/instances", params={"service": "orders"})
    (instance,) = listed.json()["instances"]
    assert (instance["port"], instance["hystrix_stream_path"]) == (9999, "/hystrix.stream")
    extras.deregister()
    listed = httpx.get(f"{server.url}/api/v1/registry/instances", params={"service": "orders"})
    assert listed.json()["instances"] == []
