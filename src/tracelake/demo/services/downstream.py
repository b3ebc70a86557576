"""Calls from one demo service to another, each guarded by a circuit breaker.

Why: this is the pattern the demo exists to show — an HTTP call to a dependency through
a ``CircuitBreaker`` (Hystrix semantics: rolling error rate, volume threshold, timeout,
one trial call when half-open) with a fallback that answers when the dependency cannot.
The trace context travels on the call because ``configure_tracing`` instrumented httpx;
the request id is passed on by hand, as a service would. The client span of each call
names the service it calls (``peer.service``, OpenTelemetry's attribute for it) and the
route (``POST /charge``, not httpx's bare ``POST``), set by ``PeerService`` as the span
starts, so the trace, the service map and the on-call link know whom orders called.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Span, SpanProcessor
from opentelemetry.trace import SpanKind

from tracelake.sdk.breaker import BadRequest, CircuitBreaker, Isolation
from tracelake.sdk.middleware import REQUEST_ID_HEADER, get_request_id

Json = dict[str, Any]
#: Answers a call the breaker did not let through or that failed: gets the same
#: (method, path, body) and returns what the caller uses instead.
Fallback = Callable[[str, str, Json | None], Json]

#: Tuned for a demo: a circuit opens after 10 calls in 10 s with half of them failing
#: (Hystrix: 20), and tries again after 5 s. Async calls are bounded by a semaphore.
BREAKER_OPTIONS: dict[str, Any] = {
    "isolation": Isolation.SEMAPHORE,
    "max_concurrent_requests": 100,
    "fallback_max_concurrent_requests": 100,
    "timeout": 2.0,
    "request_volume_threshold": 10,
    "error_threshold_percentage": 50,
    "sleep_window": 5.0,
}


class DownstreamError(Exception):
    """The dependency answered 5xx: counts as a failure of the circuit."""


class DownstreamRejected(BadRequest):
    """The dependency answered 4xx: the caller's fault, passed back, not counted."""

    def __init__(self, status: int, body: Json) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


class Downstream:
    """One dependency: its base URL and the breaker (named after it) guarding calls to it.

    Args:
        name: The dependency's service name; also the breaker's name and group.
        url: Its base URL.
        client: Returns the shared ``httpx.AsyncClient`` (made when the service starts).
    """

    def __init__(self, name: str, url: str, client: Callable[[], httpx.AsyncClient]) -> None:
        self.name = name
        self.url = url.rstrip("/")
        self._client = client
        self.breaker = CircuitBreaker(name, group=name, fallback=_run_fallback, **BREAKER_OPTIONS)

    async def call(
        self, method: str, path: str, body: Json | None = None, *, fallback: Fallback
    ) -> Json:
        """``method path`` on the dependency through the breaker; ``fallback`` if it fails.

        Raises:
            DownstreamRejected: the dependency answered 4xx.
        """
        result: Json = await self.breaker.acall(self._request, method, path, body, fallback)
        return result

    async def _request(self, method: str, path: str, body: Json | None, fallback: Fallback) -> Json:
        token = _calling.set((self.name, f"{method} {_ID.sub('/{id}', path)}"))
        try:
            return await self._send(method, path, body)
        finally:
            _calling.reset(token)

    async def _send(self, method: str, path: str, body: Json | None) -> Json:
        headers = {}
        request_id = get_request_id()
        if request_id is not None:
            headers[REQUEST_ID_HEADER] = request_id
        response = await self._client().request(method, self.url + path, json=body, headers=headers)
        answer = _json(response)
        if response.status_code >= 500:
            raise DownstreamError(f"{self.name} answered {response.status_code}: {answer}")
        if response.status_code >= 400:
            raise DownstreamRejected(response.status_code, answer)
        return answer


#: A path segment with a digit is an id (``/orders/ord-3f2a``): a span name names the
#: route, not each order.
_ID = re.compile(r"/[^/]*\d[^/]*")
#: The dependency being called and the call's name, while a call is made.
_calling: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar(
    "demo_calling", default=None
)


class PeerService(SpanProcessor):
    """Names the called service and route on the client span httpx starts for a call."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        calling = _calling.get()
        if calling is None or span.kind is not SpanKind.CLIENT:
            return
        peer, name = calling
        span.set_attribute("peer.service", peer)
        span.update_name(name)


def _json(response: httpx.Response) -> Json:
    try:
        value = response.json()
    except ValueError:
        return {"text": response.text[:200]}
    return value if isinstance(value, dict) else {"value": value}


def _run_fallback(
    method: str, path: str, body: Json | None, fallback: Fallback
) -> Json | Awaitable[Json]:
    return fallback(method, path, body)


class Client:
    """The service's one ``httpx.AsyncClient``, opened and closed with the service."""

    def __init__(self) -> None:
        self._client: httpx.AsyncClient | None = None

    def __call__(self) -> httpx.AsyncClient:
        if self._client is None:
            raise RuntimeError("the HTTP client is opened when the service starts")
        return self._client

    async def open(self) -> None:
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(3.0, connect=1.0),
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        )

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
