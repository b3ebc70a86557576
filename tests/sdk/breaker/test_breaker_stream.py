"""/hystrix.stream served for real: ASGI under uvicorn, WSGI under wsgiref, read with httpx.

Every field of the HystrixCommand and HystrixThreadPool events that the Hystrix
Dashboard and Turbine read must be there, with the JSON type they expect.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
import pytest
import uvicorn

from tracelake.sdk.breaker import (
    BadRequest,
    BreakerCollector,
    BreakerRegistry,
    CircuitBreaker,
    HystrixStream,
    HystrixStreamASGI,
    HystrixStreamWSGI,
    Isolation,
)
from tracelake.sdk.breaker.registry import default_registry

INT, BOOL, STR, LATENCY = "int", "bool", "str", "latency"

# breakers.md section 2.2, in emission order.
COMMAND_FIELDS: dict[str, Any] = {
    "type": STR,
    "name": STR,
    "group": STR,
    "currentTime": INT,
    "isCircuitBreakerOpen": BOOL,
    "errorPercentage": INT,
    "errorCount": INT,
    "requestCount": INT,
    "rollingCountBadRequests": INT,
    "rollingCountCollapsedRequests": INT,
    "rollingCountEmit": INT,
    "rollingCountExceptionsThrown": INT,
    "rollingCountFailure": INT,
    "rollingCountFallbackEmit": INT,
    "rollingCountFallbackFailure": INT,
    "rollingCountFallbackMissing": INT,
    "rollingCountFallbackRejection": INT,
    "rollingCountFallbackSuccess": INT,
    "rollingCountResponsesFromCache": INT,
    "rollingCountSemaphoreRejected": INT,
    "rollingCountShortCircuited": INT,
    "rollingCountSuccess": INT,
    "rollingCountThreadPoolRejected": INT,
    "rollingCountTimeout": INT,
    "currentConcurrentExecutionCount": INT,
    "rollingMaxConcurrentExecutionCount": INT,
    "latencyExecute_mean": INT,
    "latencyExecute": LATENCY,
    "latencyTotal_mean": INT,
    "latencyTotal": LATENCY,
    "propertyValue_circuitBreakerRequestVolumeThreshold": INT,
    "propertyValue_circuitBreakerSleepWindowInMilliseconds": INT,
    "propertyValue_circuitBreakerErrorThresholdPercentage": INT,
    "propertyValue_circuitBreakerForceOpen": BOOL,
    "propertyValue_circuitBreakerForceClosed": BOOL,
    "propertyValue_circuitBreakerEnabled": BOOL,
    "propertyValue_executionIsolationStrategy": STR,
    "propertyValue_executionIsolationThreadTimeoutInMilliseconds": INT,
    "propertyValue_executionTimeoutInMilliseconds": INT,
    "propertyValue_executionIsolationThreadInterruptOnTimeout": BOOL,
    "propertyValue_executionIsolationThreadPoolKeyOverride": (STR, None),
    "propertyValue_executionIsolationSemaphoreMaxConcurrentRequests": INT,
    "propertyValue_fallbackIsolationSemaphoreMaxConcurrentRequests": INT,
    "propertyValue_metricsRollingStatisticalWindowInMilliseconds": INT,
    "propertyValue_requestCacheEnabled": BOOL,
    "propertyValue_requestLogEnabled": BOOL,
    "reportingHosts": INT,
    "threadPool": STR,
}
# breakers.md section 2.3, in emission order.
POOL_FIELDS: dict[str, Any] = {
    "type": STR,
    "name": STR,
    "currentTime": INT,
    "currentActiveCount": INT,
    "currentCompletedTaskCount": INT,
    "currentCorePoolSize": INT,
    "currentLargestPoolSize": INT,
    "currentMaximumPoolSize": INT,
    "currentPoolSize": INT,
    "currentQueueSize": INT,
    "currentTaskCount": INT,
    "rollingCountThreadsExecuted": INT,
    "rollingMaxActiveThreads": INT,
    "rollingCountCommandRejections": INT,
    "propertyValue_queueSizeRejectionThreshold": INT,
    "propertyValue_metricsRollingStatisticalWindowInMilliseconds": INT,
    "reportingHosts": INT,
}
PERCENTILE_KEYS = ["0", "25", "50", "75", "90", "95", "99", "99.5", "100"]


def has_type(value: Any, kind: Any) -> bool:
    if isinstance(kind, tuple):
        return any(has_type(value, k) for k in kind)
    if kind is None:
        return value is None
    if kind == INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == BOOL:
        return isinstance(value, bool)
    if kind == STR:
        return isinstance(value, str)
    return (
        isinstance(value, dict)
        and list(value) == PERCENTILE_KEYS
        and all(has_type(v, INT) for v in value.values())
    )


def check_event(event: dict[str, Any], fields: dict[str, Any]) -> None:
    assert list(event) == list(fields), "fields missing, extra or out of Hystrix's order"
    for key, kind in fields.items():
        assert has_type(event[key], kind), f"{key}={event[key]!r} is not {kind}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def populated() -> Iterator[BreakerRegistry]:
    """Two breakers with traffic; one THREAD-isolated so a thread pool exists."""
    reg = BreakerRegistry()
    sem = CircuitBreaker(
        "users-db", group="users", registry=reg, isolation=Isolation.SEMAPHORE, timeout=None
    )
    pooled = CircuitBreaker("payments-api", group="payments", registry=reg, timeout=1.0)
    for _ in range(5):
        sem.call(lambda: time.sleep(0.002))
        pooled.call(lambda: "ok")
    with contextlib.suppress(ZeroDivisionError):
        sem.call(lambda: 1 / 0)
    yield reg
    reg.close()


def read_sse(url: str, ticks: int = 2, timeout: float = 5.0) -> tuple[httpx.Response, list[str]]:
    """Read ``ticks`` ping-terminated ticks of the stream; returns response and lines."""
    lines: list[str] = []
    with httpx.stream("GET", url, timeout=timeout) as response:
        if response.status_code != 200:
            response.read()
            return response, lines
        pings = 0
        for line in response.iter_lines():
            lines.append(line)
            if line.startswith("ping:"):
                pings += 1
                if pings >= ticks:
                    break
    return response, lines


def check_stream(url: str) -> None:
    t0 = time.perf_counter()
    response, lines = read_sse(url + "?delay=50", ticks=3)
    assert time.perf_counter() - t0 < 3.0  # ?delay=50 (ms) honoured
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream;charset=UTF-8"
    assert "no-cache" in response.headers["cache-control"]
    events = [json.loads(line[len("data: ") :]) for line in lines if line.startswith("data: ")]
    assert all(line in ("", "ping: ") or line.startswith("data: {") for line in lines)
    first_tick = events[:3]
    assert [e["type"] for e in first_tick] == [
        "HystrixCommand",
        "HystrixCommand",
        "HystrixThreadPool",
    ]
    for event in events:
        check_event(event, COMMAND_FIELDS if event["type"] == "HystrixCommand" else POOL_FIELDS)
    users = next(e for e in events if e.get("name") == "users-db")
    assert users["rollingCountSuccess"] == 5 and users["rollingCountFailure"] == 1
    assert users["requestCount"] == 6 and users["errorPercentage"] == 16
    assert users["latencyExecute"]["50"] >= 1 and users["threadPool"] == "users"
    assert users["propertyValue_executionIsolationStrategy"] == "SEMAPHORE"
    pool = next(e for e in events if e["type"] == "HystrixThreadPool")
    assert pool["name"] == "payments" and pool["rollingCountThreadsExecuted"] == 5
    assert abs(users["currentTime"] - time.time() * 1000) < 60_000


def wait_for_no_connections(stream: HystrixStream) -> None:
    deadline = time.monotonic() + 3
    while stream.connections:
        assert time.monotonic() < deadline, "connection slot never released"
        time.sleep(0.01)


def test_asgi_stream_under_uvicorn(populated: BreakerRegistry) -> None:
    stream = HystrixStream(populated, max_connections=1)
    app = HystrixStreamASGI(stream)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 5
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        base = f"http://127.0.0.1:{port}"
        check_stream(base + "/hystrix.stream")
        assert httpx.get(base + "/elsewhere").status_code == 404
        wait_for_no_connections(stream)  # the slot comes back when the client leaves
        # One client holds the only slot: the next gets Hystrix's 503.
        with httpx.stream("GET", base + "/hystrix.stream?delay=50", timeout=5) as held:
            assert held.status_code == 200
            held_lines = held.iter_lines()  # keep a reference: dropping it closes the stream
            next(held_lines)
            refused, _ = read_sse(base + "/hystrix.stream")
            assert refused.status_code == 503
            assert refused.text == "MaxConcurrentConnections reached: 1"
        wait_for_no_connections(stream)
    finally:
        server.should_exit = True
        thread.join(5)


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_wsgi_stream_under_wsgiref(populated: BreakerRegistry) -> None:
    app = HystrixStreamWSGI(HystrixStream(populated))
    server = make_server(
        "127.0.0.1", 0, app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        check_stream(base + "/hystrix.stream")
        assert httpx.get(base + "/nope").status_code == 404
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_stream_reports_open_circuit_and_properties() -> None:
    reg = BreakerRegistry()
    b = CircuitBreaker(
        "flaky",
        registry=reg,
        isolation=Isolation.SEMAPHORE,
        timeout=0.25,
        request_volume_threshold=1,
        thread_pool_key="custom",
    )
    with contextlib.suppress(ZeroDivisionError):
        b.call(lambda: 1 / 0)
    (event,) = HystrixStream(reg, wall_clock=lambda: 1.5).dicts()
    check_event(event, COMMAND_FIELDS)
    assert event["isCircuitBreakerOpen"] is True and event["currentTime"] == 1500
    assert event["propertyValue_executionTimeoutInMilliseconds"] == 250
    assert event["propertyValue_executionIsolationThreadPoolKeyOverride"] == "custom"
    assert event["threadPool"] == "custom"
    tick = HystrixStream(reg).tick()
    assert tick.startswith(b"data: {") and tick.endswith(b"\n\nping: \n\n")


def test_exceptions_thrown_counts_every_exception_producing_event_as_hystrix_does() -> None:
    """Hystrix sums EXCEPTION_PRODUCING_EVENT_TYPES: bad requests, missing, failed and
    rejected fallbacks; a fallback that answers throws nothing."""
    reg = BreakerRegistry()
    bare = CircuitBreaker("bare", registry=reg, isolation=Isolation.SEMAPHORE, timeout=None)
    with contextlib.suppress(BadRequest):
        bare.call(_raise, BadRequest("no such order"))
    with contextlib.suppress(ConnectionError):
        bare.call(_raise, ConnectionError("down"))  # no fallback
    rescued = CircuitBreaker(
        "rescued", registry=reg, isolation=Isolation.SEMAPHORE, timeout=None, fallback=lambda *_: 0
    )
    rescued.call(_raise, ConnectionError("down"))
    failing = CircuitBreaker(
        "failing",
        registry=reg,
        isolation=Isolation.SEMAPHORE,
        timeout=None,
        fallback=lambda *_: _raise(ValueError("fallback down")),
    )
    with contextlib.suppress(Exception):
        failing.call(_raise, ConnectionError("down"))
    events = {e["name"]: e for e in HystrixStream(reg).dicts()}
    assert events["bare"]["rollingCountBadRequests"] == 1
    assert events["bare"]["rollingCountFallbackMissing"] == 1
    assert events["bare"]["rollingCountExceptionsThrown"] == 2
    assert events["rescued"]["rollingCountExceptionsThrown"] == 0
    assert events["failing"]["rollingCountFallbackFailure"] == 1
    assert events["failing"]["rollingCountExceptionsThrown"] == 1


def test_an_empty_registry_streams_and_exposes_nothing_not_the_process_wide_one() -> None:
    """Only None means the process-wide registry; an empty one is a registry of its own."""
    everywhere = CircuitBreaker("process-wide", isolation=Isolation.SEMAPHORE, timeout=None)
    try:
        everywhere.call(lambda: 1)
        empty = BreakerRegistry()
        assert HystrixStream(empty).dicts() == []
        assert HystrixStream(empty).tick() == b"ping: \n\n"
        assert [m for m in BreakerCollector(empty).collect() if m.samples] == []
        assert any(e["name"] == "process-wide" for e in HystrixStream(None).dicts())
    finally:
        default_registry.unregister("process-wide")


def _raise(exc: BaseException) -> Any:
    raise exc
