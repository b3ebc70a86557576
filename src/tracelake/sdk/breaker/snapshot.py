"""One consistent read of a breaker, as the stream, the metrics and people see it.

Why a module of its own: the Hystrix stream and the Prometheus collector only read
snapshots; keeping the value here lets them depend on what they read, not on the
breaker that produces it.
"""

from __future__ import annotations

from dataclasses import dataclass

from tracelake.sdk.breaker.events import State
from tracelake.sdk.breaker.policy import Policy
from tracelake.sdk.breaker.window import HealthCounts, LatencySnapshot


@dataclass(frozen=True, slots=True)
class BreakerSnapshot:
    """A consistent read of one breaker, for the stream, metrics and humans.

    Attributes:
        name: Command key.
        group: Group key.
        thread_pool_key: Key of the pool THREAD-isolated calls use.
        state: The circuit's own state.
        is_open: Hystrix ``isCircuitBreakerOpen`` (true while OPEN or HALF_OPEN or forced
            open; false when forced closed or disabled).
        health: Health counts over the rolling window.
        rolling: Per-event counts over the rolling window, indexed by ``Event``.
        totals: Per-event counts since the breaker was created (Prometheus counters).
        concurrent: Calls running right now.
        max_concurrent: Highest concurrency in the rolling window.
        execution: Execution latency over the percentile window.
        total: Total (caller-observed) latency over the percentile window.
        execution_count_total: Execution latency samples since creation.
        execution_sum_total: Sum of those samples (seconds).
        policy: The policy in force.
    """

    name: str
    group: str
    thread_pool_key: str
    state: State
    is_open: bool
    health: HealthCounts
    rolling: tuple[int, ...]
    totals: tuple[int, ...]
    concurrent: int
    max_concurrent: int
    execution: LatencySnapshot
    total: LatencySnapshot
    execution_count_total: int
    execution_sum_total: float
    policy: Policy
