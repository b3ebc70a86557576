"""A service with real circuit breakers and a Hystrix stream, for the Circuits page tests.

Run: ``python circuit_service.py PORT [semaphores]``. ``POST /work?ok=N&fail=M`` makes N successful
and M failing calls through the ``payments`` breaker (semaphore isolation): enough
failures trip its circuit the way Hystrix does (at least 20 calls, at least 50 %
errors). ``inventory`` runs its calls on a thread pool, so the stream has a
``HystrixThreadPool`` too; a third breaker is named with markup, to show that names are
only ever text. The sleep window is long so an open circuit stays open while a test
looks at it. ``GET /metrics`` serves the breakers' Prometheus metrics (the server scrapes
them into the lake). With ``semaphores`` there is no ``inventory``: every circuit runs on
semaphores, so the service has no thread pool.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from prometheus_client import CollectorRegistry, make_asgi_app

from tracelake.sdk.breaker import CircuitBreaker, HystrixStreamASGI, Isolation, register_metrics

SEMAPHORES_ONLY = sys.argv[2:] == ["semaphores"]

HOSTILE_NAME = "<img src=x onerror=alert(1)>"

payments = CircuitBreaker(
    "payments",
    group="billing",
    isolation=Isolation.SEMAPHORE,
    timeout=None,
    sleep_window=600.0,
    rolling_window=60.0,
    rolling_buckets=60,
)
inventory = None if SEMAPHORES_ONLY else CircuitBreaker("inventory", group="stock", timeout=5.0)
hostile = CircuitBreaker(
    HOSTILE_NAME, group="<script>alert(1)</script>", isolation=Isolation.SEMAPHORE, timeout=None
)
stream = HystrixStreamASGI()
metrics_registry = CollectorRegistry()
register_metrics(prometheus_registry=metrics_registry)
metrics = make_asgi_app(metrics_registry)


def fail() -> None:
    raise ConnectionError("card processor down")


def attempt(fn: Any) -> None:
    """One call through ``payments``; a failure or a short circuit is only counted."""
    with contextlib.suppress(Exception):  # the breaker has counted it: that is the point
        payments.call(fn)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http" or scope["path"] == "/hystrix.stream":
        await stream(scope, receive, send)
        return
    if scope["path"] == "/metrics":
        await metrics(scope, receive, send)
        return
    body = b"ok"
    if scope["path"] == "/work":
        query = parse_qs(scope.get("query_string", b"").decode())
        for _ in range(int(query.get("ok", ["0"])[0])):
            if inventory is not None:
                inventory.call(int, 1)
            hostile.call(int, 1)
            attempt(int)
        for _ in range(int(query.get("fail", ["0"])[0])):
            attempt(fail)
    else:
        body = b"not found"
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
