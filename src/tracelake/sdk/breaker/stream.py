"""``/hystrix.stream``: the breakers' numbers as Hystrix's server-sent events.

Why: the Hystrix Dashboard and Turbine are the tools people already have for watching
circuits across a fleet. Emitting the exact ``HystrixCommand`` / ``HystrixThreadPool``
JSON of ``hystrix-metrics-event-stream`` (same field names, order and JSON types, one
``data: {json}\\n\\n`` event per command and per pool, a ``ping: \\n\\n`` keep-alive every
tick) lets them read a Python service unchanged.

Why no web framework: the SDK must stay importable without the server's dependencies,
so the ASGI app is a plain ASGI callable and the WSGI app a plain WSGI callable; mount
either in any framework (FastAPI/Starlette ``app.mount``, Django/Flask WSGI middleware)
or serve it alone.

Transport details kept from Hystrix: ``Content-Type: text/event-stream;charset=UTF-8``,
no-cache headers, a snapshot every 500 ms (``?delay=<ms>`` changes it per connection, as
the pre-1.5.4 servlet did and the dashboard still sends), at most 5 concurrent
connections (HTTP 503 ``MaxConcurrentConnections reached: 5`` beyond), all commands then
all thread pools in each tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from typing import Any
from urllib.parse import parse_qs

import orjson

from tracelake.sdk.breaker.bulkhead import ThreadPoolStats
from tracelake.sdk.breaker.events import Event
from tracelake.sdk.breaker.registry import BreakerRegistry, default_registry
from tracelake.sdk.breaker.snapshot import BreakerSnapshot
from tracelake.sdk.breaker.window import LatencySnapshot

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
StartResponse = Callable[..., Any]

PATH = "/hystrix.stream"
PING = b"ping: \n\n"
HEADERS: list[tuple[str, str]] = [
    ("Content-Type", "text/event-stream;charset=UTF-8"),
    ("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate"),
    ("Pragma", "no-cache"),
]
_MIN_DELAY = 0.01


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


def _latency(snap: LatencySnapshot) -> dict[str, int]:
    return {key: _ms(value) for key, value in snap.percentiles.items()}


def command_data(s: BreakerSnapshot, current_time_ms: int) -> dict[str, Any]:
    """One ``HystrixCommand`` event, fields in Hystrix's emission order.

    Args:
        s: The breaker's snapshot.
        current_time_ms: Wall-clock milliseconds since the epoch (``currentTime``).
    """
    r = s.rolling
    p = s.policy
    h = s.health
    timeout_ms = _ms(p.timeout) if p.timeout is not None else 0
    return {
        "type": "HystrixCommand",
        "name": s.name,
        "group": s.group,
        "currentTime": current_time_ms,
        "isCircuitBreakerOpen": s.is_open,
        "errorPercentage": h.error_percentage,
        "errorCount": h.errors,
        "requestCount": h.total,
        "rollingCountBadRequests": r[Event.BAD_REQUEST],
        "rollingCountCollapsedRequests": r[Event.COLLAPSED],
        "rollingCountEmit": r[Event.EMIT],
        "rollingCountExceptionsThrown": r[Event.EXCEPTION_THROWN],
        "rollingCountFailure": r[Event.FAILURE],
        "rollingCountFallbackEmit": r[Event.FALLBACK_EMIT],
        "rollingCountFallbackFailure": r[Event.FALLBACK_FAILURE],
        "rollingCountFallbackMissing": r[Event.FALLBACK_MISSING],
        "rollingCountFallbackRejection": r[Event.FALLBACK_REJECTION],
        "rollingCountFallbackSuccess": r[Event.FALLBACK_SUCCESS],
        "rollingCountResponsesFromCache": r[Event.RESPONSE_FROM_CACHE],
        "rollingCountSemaphoreRejected": r[Event.SEMAPHORE_REJECTED],
        "rollingCountShortCircuited": r[Event.SHORT_CIRCUITED],
        "rollingCountSuccess": r[Event.SUCCESS],
        "rollingCountThreadPoolRejected": r[Event.THREAD_POOL_REJECTED],
        "rollingCountTimeout": r[Event.TIMEOUT],
        "currentConcurrentExecutionCount": s.concurrent,
        "rollingMaxConcurrentExecutionCount": s.max_concurrent,
        "latencyExecute_mean": _ms(s.execution.mean),
        "latencyExecute": _latency(s.execution),
        "latencyTotal_mean": _ms(s.total.mean),
        "latencyTotal": _latency(s.total),
        "propertyValue_circuitBreakerRequestVolumeThreshold": p.request_volume_threshold,
        "propertyValue_circuitBreakerSleepWindowInMilliseconds": _ms(p.sleep_window),
        "propertyValue_circuitBreakerErrorThresholdPercentage": p.error_threshold_percentage,
        "propertyValue_circuitBreakerForceOpen": p.force_open,
        "propertyValue_circuitBreakerForceClosed": p.force_closed,
        "propertyValue_circuitBreakerEnabled": p.enabled,
        "propertyValue_executionIsolationStrategy": p.isolation.value,
        "propertyValue_executionIsolationThreadTimeoutInMilliseconds": timeout_ms,
        "propertyValue_executionTimeoutInMilliseconds": timeout_ms,
        "propertyValue_executionIsolationThreadInterruptOnTimeout": p.interrupt_on_timeout,
        "propertyValue_executionIsolationThreadPoolKeyOverride": p.thread_pool_key,
        "propertyValue_executionIsolationSemaphoreMaxConcurrentRequests": (
            p.max_concurrent_requests
        ),
        "propertyValue_fallbackIsolationSemaphoreMaxConcurrentRequests": (
            p.fallback_max_concurrent_requests
        ),
        "propertyValue_metricsRollingStatisticalWindowInMilliseconds": _ms(p.rolling_window),
        "propertyValue_requestCacheEnabled": False,
        "propertyValue_requestLogEnabled": False,
        "reportingHosts": 1,
        "threadPool": s.thread_pool_key,
    }


def thread_pool_data(st: ThreadPoolStats, current_time_ms: int) -> dict[str, Any]:
    """One ``HystrixThreadPool`` event, fields in Hystrix's emission order."""
    return {
        "type": "HystrixThreadPool",
        "name": st.name,
        "currentTime": current_time_ms,
        "currentActiveCount": st.current_active_count,
        "currentCompletedTaskCount": st.current_completed_task_count,
        "currentCorePoolSize": st.current_core_pool_size,
        "currentLargestPoolSize": st.current_largest_pool_size,
        "currentMaximumPoolSize": st.current_maximum_pool_size,
        "currentPoolSize": st.current_pool_size,
        "currentQueueSize": st.current_queue_size,
        "currentTaskCount": st.current_task_count,
        "rollingCountThreadsExecuted": st.rolling_count_threads_executed,
        "rollingMaxActiveThreads": st.rolling_max_active_threads,
        "rollingCountCommandRejections": st.rolling_count_command_rejections,
        "propertyValue_queueSizeRejectionThreshold": st.queue_size_rejection_threshold,
        "propertyValue_metricsRollingStatisticalWindowInMilliseconds": st.rolling_window_ms,
        "reportingHosts": 1,
    }


class HystrixStream:
    """Builds the stream's ticks and counts connections; the ASGI and WSGI apps share it.

    Args:
        registry: Breakers to report (default: the process-wide registry).
        interval: Seconds between ticks (Hystrix: 500 ms); ``?delay=<ms>`` overrides it.
        max_connections: Concurrent clients allowed (Hystrix: 5).
        wall_clock: Epoch seconds for ``currentTime`` (Turbine drops stale events).
        path: Where the stream is served.
    """

    def __init__(
        self,
        registry: BreakerRegistry | None = None,
        *,
        interval: float = 0.5,
        max_connections: int = 5,
        wall_clock: Callable[[], float] = time.time,
        path: str = PATH,
    ) -> None:
        # an empty registry is a registry: only None means the process-wide one
        self.registry = registry if registry is not None else default_registry
        self.interval = interval
        self.max_connections = max_connections
        self.wall_clock = wall_clock
        self.path = path
        self._lock = threading.Lock()
        self._connections = 0

    def dicts(self) -> list[dict[str, Any]]:
        """The current tick as JSON-ready dicts: all commands, then all thread pools."""
        now_ms = int(self.wall_clock() * 1000)
        out = [command_data(b.snapshot(), now_ms) for b in self.registry.breakers()]
        out += [thread_pool_data(p.stats(), now_ms) for p in self.registry.thread_pools()]
        return out

    def tick(self) -> bytes:
        """The current tick as SSE bytes: one ``data:`` event per entity, then a ping."""
        parts = [b"data: " + orjson.dumps(d) + b"\n\n" for d in self.dicts()]
        parts.append(PING)
        return b"".join(parts)

    def delay_for(self, query_string: str) -> float:
        """The tick interval for a connection: ``?delay=<ms>`` if valid, else the default."""
        values = parse_qs(query_string).get("delay")
        if values:
            with contextlib.suppress(ValueError):
                return max(float(values[0]) / 1000.0, _MIN_DELAY)
        return self.interval

    def acquire(self) -> bool:
        """Take a connection slot; False when ``max_connections`` are in use."""
        with self._lock:
            if self._connections >= self.max_connections:
                return False
            self._connections += 1
            return True

    def release(self) -> None:
        """Give a connection slot back."""
        with self._lock:
            self._connections -= 1

    @property
    def connections(self) -> int:
        """Clients connected now."""
        return self._connections

    def refusal(self) -> bytes:
        """The 503 body Hystrix sends when the connection cap is reached."""
        return f"MaxConcurrentConnections reached: {self.max_connections}".encode()


class HystrixStreamASGI:
    """A plain ASGI app serving ``/hystrix.stream`` (404 elsewhere).

    Args:
        stream: A ``HystrixStream`` (or pass its keyword arguments instead).
        **kwargs: ``HystrixStream`` arguments when ``stream`` is None.

    Example:
        >>> app = HystrixStreamASGI(interval=0.5)   # uvicorn module:app
    """

    def __init__(self, stream: HystrixStream | None = None, **kwargs: Any) -> None:
        self.stream = stream or HystrixStream(**kwargs)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        stream = self.stream
        if scope["path"].rstrip("/") != stream.path:
            await _plain(send, 404, b"Not Found")
            return
        if scope["method"] not in ("GET", "POST"):
            await _plain(send, 405, b"Method Not Allowed")
            return
        if not stream.acquire():
            await _plain(send, 503, stream.refusal())
            return
        try:
            qs = scope.get("query_string", b"").decode("latin-1")
            await self._serve(stream, stream.delay_for(qs), receive, send)
        finally:
            stream.release()

    @staticmethod
    async def _serve(stream: HystrixStream, delay: float, receive: Receive, send: Send) -> None:
        gone = asyncio.Event()

        async def watch() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    gone.set()
                    return

        watcher = asyncio.create_task(watch())
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(k.lower().encode(), v.encode()) for k, v in HEADERS],
                }
            )
            while not gone.is_set():
                await send({"type": "http.response.body", "body": stream.tick(), "more_body": True})
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(gone.wait(), timeout=delay)
        except OSError:
            pass  # client went away mid-write
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher


async def _plain(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain;charset=UTF-8")],
        }
    )
    await send({"type": "http.response.body", "body": body})


class HystrixStreamWSGI:
    """A plain WSGI app serving ``/hystrix.stream`` (404 elsewhere).

    Each connection holds one server thread for as long as it stays connected (that is
    how a WSGI server streams), so run it on a threaded server.

    Args:
        stream: A ``HystrixStream`` (or pass its keyword arguments instead).
        sleep: How to wait between ticks (injectable for tests).
        **kwargs: ``HystrixStream`` arguments when ``stream`` is None.
    """

    def __init__(
        self,
        stream: HystrixStream | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        **kwargs: Any,
    ) -> None:
        self.stream = stream or HystrixStream(**kwargs)
        self._sleep = sleep

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """WSGI entry point."""
        stream = self.stream
        path = (environ.get("PATH_INFO") or "/").rstrip("/")
        if path != stream.path:
            start_response("404 Not Found", [("Content-Type", "text/plain;charset=UTF-8")])
            return [b"Not Found"]
        if not stream.acquire():
            start_response(
                "503 Service Unavailable", [("Content-Type", "text/plain;charset=UTF-8")]
            )
            return [stream.refusal()]
        delay = stream.delay_for(environ.get("QUERY_STRING", ""))
        start_response("200 OK", list(HEADERS))
        return self._generate(stream, delay)

    def _generate(self, stream: HystrixStream, delay: float) -> Iterator[bytes]:
        try:
            while True:
                yield stream.tick()
                self._sleep(delay)
        finally:
            stream.release()
