"""What every demo service shares: its ASGI assembly and the one log line per request.

Why: the four services should look like a team's real services — a structured access
line per request with the business fields, a trace span per request named after its
route, ``/health``, Prometheus ``/metrics`` and the ``/hystrix.stream`` of its breakers
— while each service module only says what its routes do. Everything here is the SDK
(``tracelake.sdk``) plus Starlette for routing and prometheus_client for metrics.

A handler names its line with :func:`note` (``note(request, "order placed",
order_id=..., amount=...)``); the access logger adds the route, status and latency and
logs it at INFO, WARNING when the answer used a fallback, ERROR for a 5xx.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import Counter, Histogram, make_asgi_app
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import BaseRoute, Match

from tracelake.sdk.breaker import HystrixStreamASGI, State, StateTransition, default_registry
from tracelake.sdk.breaker import register_metrics as register_breaker_metrics
from tracelake.sdk.middleware import ASGIRequestIdMiddleware
from tracelake.sdk.tracing import instrument_asgi

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Hook = Callable[[], Awaitable[None]]

REQUESTS = Counter(
    "demo_requests", "Requests served, by route and status", ["service", "route", "status"]
)
LATENCY = Histogram(
    "demo_request_duration_seconds",
    "Time to answer a request, by route",
    ["service", "route"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)

_NOTE = "demo.note"


#: Routes of the demo's own machinery, left out of tracing (a regex OpenTelemetry matches).
FAULT_CONTROL = "/fault$"


def note(request: Request, message: str, *, degraded: bool = False, **fields: Any) -> None:
    """Name this request's log line and add business fields (order id, amount...)."""
    request.scope[_NOTE] = (message, degraded, fields)


def route_of(routes: list[BaseRoute], scope: Scope) -> str:
    """The route template a request matches (``/orders/{order_id}``), or its path."""
    for route in routes:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return str(getattr(route, "path", scope["path"]))
    return str(scope.get("path", ""))


class AccessLog:
    """Logs one line per request with the handler's note, route, status and latency."""

    def __init__(self, app: Starlette, service: str) -> None:
        self.app = app
        self.service = service
        self.log = logging.getLogger(f"demo.{service}")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_see(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_see)
        finally:
            elapsed = time.perf_counter() - started
            route = route_of(self.app.routes, scope)
            self._log(scope, route, status, elapsed)
            REQUESTS.labels(self.service, route, str(status)).inc()
            LATENCY.labels(self.service, route).observe(elapsed)

    def _log(self, scope: Scope, route: str, status: int, elapsed: float) -> None:
        message, degraded, fields = scope.get(_NOTE) or (f"{scope['method']} {route}", False, {})
        level = logging.INFO
        if status >= 500:
            level = logging.ERROR
        elif degraded:
            level = logging.WARNING
        extra = {
            **fields,
            "http.method": scope["method"],
            "http.route": route,
            "http.status": status,
            "latency_ms": round(elapsed * 1000, 1),
        }
        self.log.log(level, message, extra=extra)


def log_transition(event: object) -> None:
    """A breaker's circuit moved: one WARNING line (ERROR when it opens)."""
    if not isinstance(event, StateTransition):
        return
    breaker = event.breaker
    level = logging.ERROR if event.new is State.OPEN else logging.WARNING
    logging.getLogger("demo.circuits").log(
        level,
        "circuit %s %s -> %s (%s)",
        breaker.name,
        event.old.name,
        event.new.name,
        event.reason,
        extra={"circuit": breaker.name, "circuit.state": event.new.name, "reason": event.reason},
    )


def build_app(
    service: str,
    app: Starlette,
    *,
    on_startup: Hook | None = None,
    on_shutdown: Hook | None = None,
) -> ASGIApp:
    """Wrap a service's Starlette routes into the service as it is served.

    ``/health``, ``/metrics`` and ``/hystrix.stream`` are answered before tracing and
    the access log (probes and dashboards would drown the requests that matter);
    everything else runs in a SERVER span, with a request id, and is logged.
    """
    register_breaker_metrics()
    default_registry.add_listener(log_transition, calls=False)
    routes = app.routes

    def span_details(scope: Scope) -> tuple[str, dict[str, str]]:
        route = route_of(routes, scope)
        return f"{scope.get('method', 'HTTP')} {route}", {"http.route": route}

    traced: ASGIApp = instrument_asgi(
        ASGIRequestIdMiddleware(AccessLog(app, service)),
        default_span_details=span_details,
        # the demo steering itself (payments' fault control) is no request a user made:
        # no span, so it stays out of RED figures and the service map
        excluded_urls=FAULT_CONTROL,
    )
    hystrix = HystrixStreamASGI()
    metrics: ASGIApp = make_asgi_app()
    health = f'{{"status":"ok","service":"{service}"}}'.encode()

    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, on_startup, on_shutdown)
            return
        path = scope.get("path", "")
        if path == "/health":
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": health})
        elif path == "/hystrix.stream":
            await hystrix(scope, receive, send)
        elif path == "/metrics":
            await metrics(scope, receive, send)
        else:
            await traced(scope, receive, send)

    return serve


async def _lifespan(
    receive: Receive, send: Send, startup: Hook | None, shutdown: Hook | None
) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            if startup is not None:
                await startup()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if shutdown is not None:
                await shutdown()
            await send({"type": "lifespan.shutdown.complete"})
            return
