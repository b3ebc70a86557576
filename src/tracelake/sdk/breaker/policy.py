"""The breaker's configuration as immutable values, with Hystrix's defaults.

Why a frozen value object: the hot path reads settings without a lock, so a change must
be one atomic swap of the whole policy (``CircuitBreaker.update``), never a half-applied
edit. Durations are seconds (floats), as everywhere in Python; the Hystrix stream turns
them back into milliseconds. Each field names the Hystrix property it mirrors.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Isolation(enum.Enum):
    """Where a protected *sync* call runs (``execution.isolation.strategy``).

    Coroutines always run on their event loop, bounded by the execution semaphore.
    """

    THREAD = "THREAD"
    SEMAPHORE = "SEMAPHORE"


@dataclass(frozen=True, slots=True)
class Policy:
    """How one breaker decides. Defaults are Hystrix 1.5's.

    Attributes:
        enabled: ``circuitBreaker.enabled``; False never trips (metrics still kept).
        request_volume_threshold: ``circuitBreaker.requestVolumeThreshold`` (20): fewest
            calls in the rolling window before the error rate may trip the circuit.
        error_threshold_percentage: ``circuitBreaker.errorThresholdPercentage`` (50).
        sleep_window: ``circuitBreaker.sleepWindowInMilliseconds`` (5 s) before one trial.
        force_open: ``circuitBreaker.forceOpen``: reject everything.
        force_closed: ``circuitBreaker.forceClosed``: allow everything (force_open wins).
        rolling_window: ``metrics.rollingStats.timeInMilliseconds`` (10 s).
        rolling_buckets: ``metrics.rollingStats.numBuckets`` (10).
        percentile_window: ``metrics.rollingPercentile.timeInMilliseconds`` (60 s).
        percentile_buckets: ``metrics.rollingPercentile.numBuckets`` (6).
        percentile_enabled: ``metrics.rollingPercentile.enabled``.
        isolation: ``execution.isolation.strategy`` (THREAD).
        timeout: ``execution.isolation.thread.timeoutInMilliseconds`` (1 s); None turns
            timeouts off (``execution.timeout.enabled=false``).
        interrupt_on_timeout: ``execution.isolation.thread.interruptOnTimeout``. Only
            coroutines can be interrupted (cancelled); a sync call in a worker thread is
            abandoned, never killed.
        max_concurrent_requests: ``execution.isolation.semaphore.maxConcurrentRequests`` (10).
        fallback_enabled: ``fallback.enabled``.
        fallback_max_concurrent_requests:
            ``fallback.isolation.semaphore.maxConcurrentRequests`` (10).
        thread_pool_key: ``execution.isolation.threadPoolKeyOverride``; default: the group.
        ignore_exceptions: Exception types treated like ``BadRequest`` (re-raised, no
            fallback, not in health).
        slow_call_duration: Resilience4j ``slowCallDurationThreshold``; None (default)
            turns slow-call detection off. A call is slow when its execution took
            strictly longer.
        slow_call_rate_threshold: Resilience4j ``slowCallRateThreshold`` (percent); the
            circuit also trips when that share of executed calls was slow (with at least
            ``request_volume_threshold`` calls in the window).
    """

    enabled: bool = True
    request_volume_threshold: int = 20
    error_threshold_percentage: int = 50
    sleep_window: float = 5.0
    force_open: bool = False
    force_closed: bool = False
    rolling_window: float = 10.0
    rolling_buckets: int = 10
    percentile_window: float = 60.0
    percentile_buckets: int = 6
    percentile_enabled: bool = True
    isolation: Isolation = Isolation.THREAD
    timeout: float | None = 1.0
    interrupt_on_timeout: bool = True
    max_concurrent_requests: int = 10
    fallback_enabled: bool = True
    fallback_max_concurrent_requests: int = 10
    thread_pool_key: str | None = None
    ignore_exceptions: tuple[type[BaseException], ...] = field(default=())
    slow_call_duration: float | None = None
    slow_call_rate_threshold: int = 100

    def __post_init__(self) -> None:
        positive = {
            "sleep_window": self.sleep_window,
            "rolling_window": self.rolling_window,
            "percentile_window": self.percentile_window,
        }
        for name, value in positive.items():
            if value <= 0:
                raise ValueError(f"Policy.{name} must be > 0, got {value!r}")
        for name, count in (
            ("rolling_buckets", self.rolling_buckets),
            ("percentile_buckets", self.percentile_buckets),
            ("max_concurrent_requests", self.max_concurrent_requests),
            ("fallback_max_concurrent_requests", self.fallback_max_concurrent_requests),
        ):
            if count < 1:
                raise ValueError(f"Policy.{name} must be >= 1, got {count!r}")
        if self.request_volume_threshold < 0:
            raise ValueError("Policy.request_volume_threshold must be >= 0")
        for name, pct in (
            ("error_threshold_percentage", self.error_threshold_percentage),
            ("slow_call_rate_threshold", self.slow_call_rate_threshold),
        ):
            if not 0 <= pct <= 100:
                raise ValueError(f"Policy.{name} must be within 0..100, got {pct!r}")
        if self.timeout is not None and self.timeout <= 0:
            raise ValueError("Policy.timeout must be > 0 or None")
        if self.slow_call_duration is not None and self.slow_call_duration < 0:
            raise ValueError("Policy.slow_call_duration must be >= 0 or None")


@dataclass(frozen=True, slots=True)
class ThreadPoolPolicy:
    """One thread pool's settings (``HystrixThreadPoolProperties``), Hystrix defaults.

    Attributes:
        core_size: ``coreSize`` (10) threads; Python threads are started lazily and kept.
        max_queue_size: ``maxQueueSize`` (-1: no queue, reject as soon as all threads are
            busy, like Java's SynchronousQueue).
        queue_size_rejection_threshold: ``queueSizeRejectionThreshold`` (5): the
            effective queue cap when ``max_queue_size > 0``.
        rolling_window: ``metrics.rollingStats.timeInMilliseconds`` (10 s).
        rolling_buckets: ``metrics.rollingStats.numBuckets`` (10).
    """

    core_size: int = 10
    max_queue_size: int = -1
    queue_size_rejection_threshold: int = 5
    rolling_window: float = 10.0
    rolling_buckets: int = 10

    def __post_init__(self) -> None:
        if self.core_size < 1:
            raise ValueError("ThreadPoolPolicy.core_size must be >= 1")
        if self.rolling_window <= 0 or self.rolling_buckets < 1:
            raise ValueError("ThreadPoolPolicy rolling window must be > 0 with >= 1 bucket")

    @property
    def queue_capacity(self) -> int:
        """How many calls may wait for a thread: 0 unless ``max_queue_size > 0``."""
        if self.max_queue_size <= 0:
            return 0
        return min(self.max_queue_size, max(self.queue_size_rejection_threshold, 0))
