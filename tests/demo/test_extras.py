"""SDK features the demo calls only once they exist, and never lets fail a request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import tracelake.sdk
from tracelake.demo import extras


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    extras._broken.clear()
    yield
    extras._broken.clear()


def test_nothing_is_called_while_the_sdk_lacks_the_feature() -> None:
    if hasattr(tracelake.sdk, "publish_event") or hasattr(tracelake.sdk, "register"):
        pytest.skip("the SDK has these features now")
    extras.publish_event("order_placed", order_id="ord-1")
    extras.register("orders", "http://127.0.0.1:1", "http://127.0.0.1:7700")


def test_the_feature_is_called_once_the_sdk_has_it(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(tracelake.sdk, "publish_event", lambda *a: calls.append(a), raising=False)
    extras.publish_event("order_placed", order_id="ord-1", amount=8.0)
    assert calls == [("order_placed", {"order_id": "ord-1", "amount": 8.0})]


def test_a_failing_feature_is_logged_once_and_not_called_again(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls = 0

    def broken(**kwargs: Any) -> None:
        nonlocal calls
        calls += 1
        raise TypeError("unexpected keyword argument 'url'")

    monkeypatch.setattr(tracelake.sdk, "register", broken, raising=False)
    extras.register("orders", "http://127.0.0.1:1", "http://127.0.0.1:7700")
    extras.register("orders", "http://127.0.0.1:1", "http://127.0.0.1:7700")
    assert calls == 1
    assert "tracelake.sdk.register failed" in caplog.text
