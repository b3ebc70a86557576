"""A tiny service protected by a circuit breaker, for the Turbine end-to-end tests.

Run: ``python example_service.py PORT``. ``POST /work?n=N`` makes N successful calls
through the ``payments`` breaker, ``POST /force-open`` opens its circuit, and
``/hystrix.stream`` serves the breaker's numbers. The rolling window is 60 s so the
counts a test produced stay put while it reads them.
"""

from __future__ import annotations

import sys
from typing import Any
from urllib.parse import parse_qs

import uvicorn

from tracelake.sdk.breaker import CircuitBreaker, HystrixStreamASGI, Isolation

payments = CircuitBreaker(
    "payments",
    group="billing",
    isolation=Isolation.SEMAPHORE,
    timeout=None,
    rolling_window=60.0,
    rolling_buckets=60,
)
stream = HystrixStreamASGI()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http" or scope["path"] == "/hystrix.stream":
        await stream(scope, receive, send)
        return
    body = b"ok"
    if scope["path"] == "/work":
        query = parse_qs(scope.get("query_string", b"").decode())
        for _ in range(int(query.get("n", ["1"])[0])):
            payments.call(int, 1)
    elif scope["path"] == "/force-open":
        payments.force_open()
    else:
        body = b"not found"
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
