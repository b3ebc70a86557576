"""Prometheus metrics of every breaker and thread pool, read at scrape time.

Why a custom collector instead of ``Counter``/``Gauge`` objects updated per call: the
breaker already keeps every number; updating prometheus_client metrics on the hot path
would take their locks on every call. A collector reads ``snapshot()`` only when
Prometheus scrapes. Names follow Prometheus conventions under ``tracelake_breaker_``;
the state gauge mirrors Resilience4j's ``resilience4j_circuitbreaker_state``.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector

from tracelake.sdk.breaker.events import Event, State
from tracelake.sdk.breaker.registry import BreakerRegistry, default_registry
from tracelake.sdk.breaker.window import PERCENTILES

_STATES = ("closed", "open", "half_open", "forced_open", "forced_closed", "disabled")


def _state_label(state: State, force_open: bool, force_closed: bool, enabled: bool) -> str:
    if force_open:
        return "forced_open"
    if force_closed:
        return "forced_closed"
    if not enabled:
        return "disabled"
    return state.value


class BreakerCollector(Collector):
    """Exposes all breakers and pools of a ``BreakerRegistry`` to Prometheus.

    Metrics (label ``name`` = breaker or pool):

    * ``tracelake_breaker_state{state}`` -- 1 for the current state, 0 for the others.
    * ``tracelake_breaker_calls_total{event}`` -- events since start (Hystrix names,
      lower case: ``success``, ``failure``, ``short_circuited`` ...).
    * ``tracelake_breaker_error_percentage``, ``tracelake_breaker_request_count`` --
      the health counts the circuit decides on.
    * ``tracelake_breaker_concurrent_executions``.
    * ``tracelake_breaker_execution_seconds`` -- summary (count/sum since start) and
      ``tracelake_breaker_latency_seconds{kind,quantile}`` over the percentile window.
    * ``tracelake_breaker_thread_pool_{active_threads,queue_size,pool_size}`` and
      ``..._executed_total`` / ``..._rejected_total``.

    Args:
        registry: Breakers to expose (default: the process-wide registry).
    """

    def __init__(self, registry: BreakerRegistry | None = None) -> None:
        # an empty registry is a registry: only None means the process-wide one
        self._registry = registry if registry is not None else default_registry

    def collect(self) -> Iterator[Metric]:
        """Called by prometheus_client on each scrape."""
        state = GaugeMetricFamily(
            "tracelake_breaker_state", "Circuit state (1 = current)", labels=["name", "state"]
        )
        calls = CounterMetricFamily(
            "tracelake_breaker_calls", "Call events since start", labels=["name", "event"]
        )
        err_pct = GaugeMetricFamily(
            "tracelake_breaker_error_percentage",
            "Error percentage over the rolling window",
            labels=["name"],
        )
        req = GaugeMetricFamily(
            "tracelake_breaker_request_count",
            "Calls counted in health over the rolling window",
            labels=["name"],
        )
        conc = GaugeMetricFamily(
            "tracelake_breaker_concurrent_executions", "Calls running now", labels=["name"]
        )
        exec_summary = SummaryMetricFamily(
            "tracelake_breaker_execution_seconds",
            "Time spent in the protected function",
            labels=["name"],
        )
        lat = GaugeMetricFamily(
            "tracelake_breaker_latency_seconds",
            "Latency percentiles over the rolling percentile window",
            labels=["name", "kind", "quantile"],
        )
        for b in self._registry.breakers():
            s = b.snapshot()
            p = s.policy
            current = _state_label(s.state, p.force_open, p.force_closed, p.enabled)
            for label in _STATES:
                state.add_metric([s.name, label], 1.0 if label == current else 0.0)
            for ev in Event:
                calls.add_metric([s.name, ev.name.lower()], float(s.totals[ev]))
            err_pct.add_metric([s.name], float(s.health.error_percentage))
            req.add_metric([s.name], float(s.health.total))
            conc.add_metric([s.name], float(s.concurrent))
            exec_summary.add_metric([s.name], s.execution_count_total, s.execution_sum_total)
            for kind, snap in (("execute", s.execution), ("total", s.total)):
                for key, q in PERCENTILES:
                    lat.add_metric([s.name, kind, str(q / 100)], snap.percentiles[key])
        yield from (state, calls, err_pct, req, conc, exec_summary, lat)

        active = GaugeMetricFamily(
            "tracelake_breaker_thread_pool_active_threads", "Threads running", labels=["name"]
        )
        queued = GaugeMetricFamily(
            "tracelake_breaker_thread_pool_queue_size", "Calls waiting", labels=["name"]
        )
        size = GaugeMetricFamily(
            "tracelake_breaker_thread_pool_pool_size", "Threads started", labels=["name"]
        )
        executed = CounterMetricFamily(
            "tracelake_breaker_thread_pool_executed", "Calls run by the pool", labels=["name"]
        )
        rejected = CounterMetricFamily(
            "tracelake_breaker_thread_pool_rejected", "Calls the pool rejected", labels=["name"]
        )
        for pool in self._registry.thread_pools():
            st = pool.stats()
            active.add_metric([st.name], float(st.current_active_count))
            queued.add_metric([st.name], float(st.current_queue_size))
            size.add_metric([st.name], float(st.current_pool_size))
            executed.add_metric([st.name], float(st.executed_total))
            rejected.add_metric([st.name], float(st.rejected_total))
        yield from (active, queued, size, executed, rejected)


def register_metrics(
    registry: BreakerRegistry | None = None,
    prometheus_registry: CollectorRegistry = REGISTRY,
) -> BreakerCollector:
    """Register a ``BreakerCollector`` with prometheus_client (default: its global registry).

    Returns:
        The collector, so it can be unregistered.
    """
    collector = BreakerCollector(registry)
    prometheus_registry.register(collector)
    return collector
