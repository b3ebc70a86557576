"""Hystrix-grade circuit breakers for Python services, with the Hystrix stream.

Why this package exists: no Python breaker library judges a dependency on a rolling
error *rate* with a volume threshold, hands out a single trial call when half-open,
isolates by semaphore or thread pool, times calls out, runs fallbacks, keeps latency
percentiles, stays lock-free around the protected call, speaks asyncio, and emits the
``/hystrix.stream`` the Hystrix Dashboard and Turbine read. This does all of it, with
Hystrix's defaults, and nothing beyond prometheus_client and orjson.

Example:
    >>> from tracelake.sdk.breaker import CircuitBreaker
    >>> inventory = CircuitBreaker("inventory", timeout=0.5, fallback=dict, registry=None)
    >>> @inventory
    ... def stock(sku: str) -> dict[str, int]:
    ...     return {sku: 3}
    >>> stock("A-1")
    {'A-1': 3}
"""

from __future__ import annotations

from tracelake.sdk.breaker.breaker import NO_FALLBACK, BreakerSnapshot, CircuitBreaker
from tracelake.sdk.breaker.bulkhead import Semaphore, ThreadPoolBulkhead, ThreadPoolStats
from tracelake.sdk.breaker.errors import (
    BadRequest,
    BreakerError,
    CallTimeout,
    CircuitOpenError,
    FallbackFailed,
    FallbackRejected,
    SemaphoreRejected,
    ThreadPoolRejected,
)
from tracelake.sdk.breaker.events import (
    BreakerEvent,
    CallOutcome,
    Clock,
    Event,
    FailureType,
    Listener,
    State,
    StateTransition,
)
from tracelake.sdk.breaker.metrics import BreakerCollector, register_metrics
from tracelake.sdk.breaker.policy import Isolation, Policy, ThreadPoolPolicy
from tracelake.sdk.breaker.registry import BreakerRegistry, default_registry, get_breaker
from tracelake.sdk.breaker.state import Admission, CircuitStateMachine, Transition
from tracelake.sdk.breaker.stream import (
    HystrixStream,
    HystrixStreamASGI,
    HystrixStreamWSGI,
    command_data,
    thread_pool_data,
)
from tracelake.sdk.breaker.window import HealthCounts, LatencySnapshot

__all__ = [
    "NO_FALLBACK",
    "Admission",
    "BadRequest",
    "BreakerCollector",
    "BreakerError",
    "BreakerEvent",
    "BreakerRegistry",
    "BreakerSnapshot",
    "CallOutcome",
    "CallTimeout",
    "CircuitBreaker",
    "CircuitOpenError",
    "CircuitStateMachine",
    "Clock",
    "Event",
    "FailureType",
    "FallbackFailed",
    "FallbackRejected",
    "HealthCounts",
    "HystrixStream",
    "HystrixStreamASGI",
    "HystrixStreamWSGI",
    "Isolation",
    "LatencySnapshot",
    "Listener",
    "Policy",
    "Semaphore",
    "SemaphoreRejected",
    "State",
    "StateTransition",
    "ThreadPoolBulkhead",
    "ThreadPoolPolicy",
    "ThreadPoolRejected",
    "ThreadPoolStats",
    "Transition",
    "command_data",
    "default_registry",
    "get_breaker",
    "register_metrics",
    "thread_pool_data",
]
