"""Timeouts, fallbacks, bulkheads, asyncio, the three ways in, the registry and metrics."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from tracelake.sdk.breaker import (
    BreakerRegistry,
    CallTimeout,
    CircuitBreaker,
    CircuitOpenError,
    Event,
    FailureType,
    FallbackFailed,
    FallbackRejected,
    SemaphoreRejected,
    State,
    ThreadPoolPolicy,
    ThreadPoolRejected,
    get_breaker,
    register_metrics,
)

from .conftest import FakeClock, boom, ok, run

# -- timeouts ---------------------------------------------------------------------------


def test_hystrix_timeout_thread_isolation_stops_waiting(registry: BreakerRegistry) -> None:
    b = CircuitBreaker("slow", timeout=0.05, registry=registry)  # Hystrix default: THREAD
    done = threading.Event()

    def hang() -> str:
        done.wait(2)
        return "late"

    t0 = time.perf_counter()
    out = run(b, hang)
    waited = time.perf_counter() - t0
    done.set()
    assert isinstance(out, CallTimeout) and isinstance(out, TimeoutError)
    assert out.failure_type is FailureType.TIMEOUT
    assert waited < 1.0
    snap = b.snapshot()
    assert snap.rolling[Event.TIMEOUT] == 1 and snap.health.errors == 1


def test_hystrix_timeout_semaphore_isolation_discards_late_result(
    make: Any, clock: FakeClock
) -> None:
    b = make(timeout=1.0, fallback="cached")

    def late() -> str:
        clock.advance(1.5)
        return "fresh"

    assert b.call(late) == "cached"
    snap = b.snapshot()
    assert snap.rolling[Event.TIMEOUT] == 1 and snap.rolling[Event.FALLBACK_SUCCESS] == 1


def test_hystrix_timeout_cancels_the_coroutine(make: Any) -> None:
    b = make(timeout=0.05)
    cancelled = asyncio.Event()

    async def hang() -> str:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "late"

    async def main() -> Any:
        try:
            return await b.acall(hang)
        except CallTimeout as exc:
            return exc

    t0 = time.perf_counter()
    out = asyncio.run(main())
    assert isinstance(out, CallTimeout) and cancelled.is_set()
    assert time.perf_counter() - t0 < 1.0
    assert b.snapshot().rolling[Event.TIMEOUT] == 1


def test_timeout_without_interrupt_leaves_coroutine_running(make: Any) -> None:
    b = make(timeout=0.02, interrupt_on_timeout=False, fallback="fb")
    finished = asyncio.Event()

    async def slow() -> str:
        await asyncio.sleep(0.1)
        finished.set()
        return "late"

    async def main() -> str:
        value = await b.acall(slow)
        await asyncio.wait_for(finished.wait(), 2)
        return value

    assert asyncio.run(main()) == "fb"


def test_hystrix_trial_timeout_reopens(make: Any, clock: FakeClock) -> None:
    b = make(timeout=1.0, request_volume_threshold=1)
    run(b, boom)
    clock.advance(5.001)

    def late() -> str:
        clock.advance(2.0)
        return "x"

    assert isinstance(run(b, late), CallTimeout)
    assert b.state is State.OPEN


# -- fallbacks --------------------------------------------------------------------------


def test_hystrix_fallback_value_on_failure(make: Any) -> None:
    b = make(fallback=[])
    assert b.call(boom) == []
    snap = b.snapshot()
    assert snap.rolling[Event.FAILURE] == 1 and snap.rolling[Event.FALLBACK_SUCCESS] == 1
    assert snap.rolling[Event.EXCEPTION_THROWN] == 0


def test_hystrix_fallback_function_gets_the_call_arguments(make: Any) -> None:
    b = make(fallback=lambda uid, *, region: f"guest-{uid}-{region}")

    @b
    def user(uid: int, *, region: str) -> str:
        raise ConnectionError

    assert user(7, region="eu") == "guest-7-eu"


def test_hystrix_fallback_runs_when_short_circuited(make: Any) -> None:
    b = make(request_volume_threshold=1, fallback="stale")
    assert b.call(boom) == "stale"
    calls: list[int] = []
    assert b.call(lambda: calls.append(1)) == "stale" and calls == []
    assert b.snapshot().rolling[Event.SHORT_CIRCUITED] == 1


def test_hystrix_fallback_failure_is_counted_and_raised(make: Any) -> None:
    def bad_fallback() -> str:
        raise ValueError("cache down too")

    b = make(fallback=bad_fallback)
    out = run(b, boom)
    assert isinstance(out, FallbackFailed)
    assert out.failure_type is FailureType.COMMAND_EXCEPTION
    assert isinstance(out.__cause__, ValueError) and isinstance(out.original, ConnectionError)
    snap = b.snapshot()
    assert snap.rolling[Event.FALLBACK_FAILURE] == 1
    assert snap.rolling[Event.EXCEPTION_THROWN] == 1


def test_hystrix_fallback_missing_reraises_the_original(make: Any) -> None:
    b = make()
    assert isinstance(run(b, boom), ConnectionError)
    assert b.snapshot().rolling[Event.FALLBACK_MISSING] == 1


def test_hystrix_fallback_disabled(make: Any) -> None:
    b = make(fallback="x", fallback_enabled=False)
    assert isinstance(run(b, boom), ConnectionError)
    assert b.snapshot().rolling[Event.FALLBACK_DISABLED] == 1


def test_hystrix_fallback_rejection_when_fallback_semaphore_full(make: Any) -> None:
    inside, release = threading.Event(), threading.Event()

    def blocking_fallback() -> str:
        inside.set()
        release.wait(5)
        return "fb"

    b = make(fallback=blocking_fallback, fallback_max_concurrent_requests=1)
    t = threading.Thread(target=lambda: run(b, boom))
    t.start()
    assert inside.wait(5)
    out = run(b, boom)
    release.set()
    t.join(5)
    assert isinstance(out, FallbackRejected)
    assert out.failure_type is FailureType.REJECTED_SEMAPHORE_FALLBACK
    assert b.snapshot().rolling[Event.FALLBACK_REJECTION] == 1


def test_async_fallback_coroutine_is_awaited(make: Any) -> None:
    async def fb() -> str:
        await asyncio.sleep(0)
        return "async-fb"

    b = make(fallback=fb)

    @b
    async def call() -> str:
        raise ConnectionError

    assert asyncio.run(call()) == "async-fb"


# -- bulkheads --------------------------------------------------------------------------


def test_hystrix_semaphore_rejected_counts_as_error(make: Any) -> None:
    b = make(max_concurrent_requests=1)
    inside, release = threading.Event(), threading.Event()

    def hold() -> str:
        inside.set()
        release.wait(5)
        return "held"

    t = threading.Thread(target=lambda: run(b, hold))
    t.start()
    assert inside.wait(5)
    out = run(b)
    assert b.snapshot().concurrent == 1
    release.set()
    t.join(5)
    assert isinstance(out, SemaphoreRejected)
    snap = b.snapshot()
    assert snap.rolling[Event.SEMAPHORE_REJECTED] == 1
    assert snap.health.errors == 1 and snap.rolling[Event.SHORT_CIRCUITED] == 0
    assert snap.max_concurrent == 1


def test_hystrix_thread_pool_rejected_counts_separately(registry: BreakerRegistry) -> None:
    b = CircuitBreaker(
        "pooled",
        registry=registry,
        thread_pool_policy=ThreadPoolPolicy(core_size=1),
        timeout=2.0,
    )
    inside, release = threading.Event(), threading.Event()

    def hold() -> str:
        inside.set()
        release.wait(5)
        return "held"

    results: list[Any] = []
    t = threading.Thread(target=lambda: results.append(run(b, hold)))
    t.start()
    assert inside.wait(5)
    out = run(b)
    release.set()
    t.join(5)
    assert results == ["held"]
    assert isinstance(out, ThreadPoolRejected)
    snap = b.snapshot()
    assert snap.rolling[Event.THREAD_POOL_REJECTED] == 1
    assert snap.rolling[Event.SEMAPHORE_REJECTED] == 0 and snap.health.errors == 1
    stats = b.thread_pool.stats()
    assert stats.rolling_count_command_rejections == 1
    assert stats.rolling_count_threads_executed == 1 and stats.current_core_pool_size == 1


def test_thread_pool_is_shared_by_group_and_carries_context(registry: BreakerRegistry) -> None:
    a = CircuitBreaker("a", group="payments", registry=registry)
    c = CircuitBreaker("c", group="payments", registry=registry)
    var: contextvars.ContextVar[str] = contextvars.ContextVar("trace", default="none")
    var.set("trace-1")
    assert a.call(var.get) == "trace-1"
    assert c.call(threading.current_thread) is not threading.current_thread()
    assert a.thread_pool is c.thread_pool and a.thread_pool.key == "payments"
    assert [p.key for p in registry.thread_pools()] == ["payments"]


def test_async_semaphore_bulkhead(make: Any) -> None:
    b = make(max_concurrent_requests=2)

    @b
    async def work() -> str:
        await asyncio.sleep(0.01)
        return "done"

    async def main() -> list[Any]:
        return await asyncio.gather(*(work() for _ in range(3)), return_exceptions=True)

    out = asyncio.run(main())
    assert out.count("done") == 2
    assert sum(isinstance(x, SemaphoreRejected) for x in out) == 1


# -- the three ways in ------------------------------------------------------------------


def test_decorator_sync_and_async(make: Any) -> None:
    b = make()

    @b
    def add(x: int, y: int = 1) -> int:
        return x + y

    @b
    async def aadd(x: int) -> int:
        return x + 2

    assert add(1, y=2) == 3 and add.__name__ == "add"
    assert asyncio.run(aadd(1)) == 3
    assert b.snapshot().rolling[Event.SUCCESS] == 2


def test_context_manager_counts_and_rejects(make: Any) -> None:
    b = make(request_volume_threshold=1)
    with b:
        pass
    with pytest.raises(ConnectionError), b:
        raise ConnectionError
    assert b.state is State.OPEN
    with pytest.raises(CircuitOpenError), b:
        pytest.fail("must not enter")
    snap = b.snapshot()
    assert snap.rolling[Event.SUCCESS] == 1 and snap.rolling[Event.FAILURE] == 1
    assert snap.rolling[Event.SHORT_CIRCUITED] == 1 and snap.concurrent == 0


def test_async_context_manager_cancels_on_timeout(make: Any) -> None:
    b = make(timeout=0.05)

    async def main() -> None:
        async with b:
            await asyncio.sleep(5)

    t0 = time.perf_counter()
    with pytest.raises(CallTimeout):
        asyncio.run(main())
    assert time.perf_counter() - t0 < 1.0
    assert b.snapshot().rolling[Event.TIMEOUT] == 1


def test_context_manager_late_block_is_a_timeout(make: Any, clock: FakeClock) -> None:
    b = make(timeout=1.0)
    with pytest.raises(CallTimeout), b:
        clock.advance(2.0)


def test_plain_call_and_acall(make: Any) -> None:
    b = make()

    async def double(x: int) -> int:
        return 2 * x

    assert b.call(pow, 2, 5) == 32
    assert asyncio.run(b.acall(double, 4)) == 8


def test_cancelled_coroutine_is_not_a_failure(make: Any) -> None:
    b = make(request_volume_threshold=1)

    async def main() -> None:
        task = asyncio.ensure_future(b.acall(asyncio.sleep, 5))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    snap = b.snapshot()
    assert snap.rolling[Event.CANCELLED] == 1 and snap.health.total == 0
    assert b.state is State.CLOSED


# -- slow calls -------------------------------------------------------------------------


def test_resilience4j_slow_call_rate_opens_the_circuit(make: Any, clock: FakeClock) -> None:
    b = make(slow_call_duration=0.1, slow_call_rate_threshold=50)

    def slow() -> str:
        clock.advance(0.15)  # slow: strictly above 100 ms
        return "ok"

    for _ in range(10):
        b.call(ok)
    for _ in range(9):
        b.call(slow)
    assert b.state is State.CLOSED
    seen: list[Any] = []
    b.add_listener(seen.append, calls=False)
    b.call(slow)  # 10 slow of 20 executed = 50 %
    assert b.state is State.OPEN
    assert seen[0].reason == "slow_call_rate"
    assert b.snapshot().totals[Event.SLOW_CALL] == 10


# -- registry and metrics ---------------------------------------------------------------


def test_registry_refuses_duplicate_names_but_shares_by_name(registry: BreakerRegistry) -> None:
    a = registry.breaker("db", timeout=0.1)
    assert registry.breaker("db") is a and a.policy.timeout == 0.1
    with pytest.raises(ValueError):
        CircuitBreaker("db", registry=registry)
    assert registry.get("db") is a and len(registry) == 1


def test_get_breaker_uses_the_process_registry() -> None:
    b = get_breaker("test-process-wide")
    try:
        assert get_breaker("test-process-wide") is b
    finally:
        from tracelake.sdk.breaker import default_registry

        default_registry.unregister("test-process-wide")


def test_prometheus_collector(make: Any, registry: BreakerRegistry) -> None:
    b = make("inventory", request_volume_threshold=1)
    b.call(ok)
    run(b, boom)
    prom = CollectorRegistry()
    register_metrics(registry, prom)
    text = generate_latest(prom).decode()
    assert 'tracelake_breaker_state{name="inventory",state="open"} 1.0' in text
    assert 'tracelake_breaker_calls_total{event="success",name="inventory"} 1.0' in text
    assert 'tracelake_breaker_calls_total{event="failure",name="inventory"} 1.0' in text
    assert 'tracelake_breaker_error_percentage{name="inventory"} 50.0' in text
    assert "tracelake_breaker_execution_seconds_count" in text
    assert 'tracelake_breaker_latency_seconds{kind="execute",name="inventory",quantile="0.5"}' in (
        text
    )


def test_update_swaps_policy_atomically(make: Any) -> None:
    b = make()
    b.update(max_concurrent_requests=1, request_volume_threshold=1)
    assert b.policy.max_concurrent_requests == 1
    run(b, boom)
    assert b.state is State.OPEN
