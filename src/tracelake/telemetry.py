"""The server's own metrics, in Prometheus's naming, on a registry of its own.

Counters and histograms are updated where things happen; gauges of the store (WAL,
memtable, segments) are read at scrape time by a collector, so nothing polls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

# ``*_created`` series double every counter's output for no use here.
disable_created_metrics()

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class ServerMetrics:
    """Every metric the server exports; one instance per server."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.ingest_records = Counter(
            "tracelake_ingest_records",
            "Records received, by input and outcome",
            ["input", "outcome"],
            registry=r,
        )
        self.ingest_bytes = Counter(
            "tracelake_ingest_bytes", "Bytes received on ingest, by input", ["input"], registry=r
        )
        self.ingest_requests = Counter(
            "tracelake_ingest_requests",
            "Ingest requests or frames, by input and status",
            ["input", "status"],
            registry=r,
        )
        self.ingest_seconds = Histogram(
            "tracelake_ingest_seconds",
            "Time from request to acknowledgement, by input",
            ["input"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.queries = Counter(
            "tracelake_queries", "Queries run, by kind and outcome", ["kind", "outcome"], registry=r
        )
        self.query_seconds = Histogram(
            "tracelake_query_seconds",
            "Query latency, by kind",
            ["kind"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )

    def add_gauges(self, read: Callable[[], dict[str, tuple[str, float]]]) -> None:
        """Publish ``read()``'s ``{name: (help, value)}`` as gauges at every scrape."""
        self.registry.register(_Gauges(read))

    def add_listener_stats(self, read: Callable[[], Iterable[tuple[str, Any]]]) -> None:
        """Publish each stream listener's counters (``ListenerStats``) at every scrape."""
        self.registry.register(_ListenerStats(read))


class _ListenerStats(Collector):
    def __init__(self, read: Callable[[], Iterable[tuple[str, Any]]]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        received = CounterMetricFamily(
            "tracelake_listener_records",
            "Records decoded by a stream listener",
            labels=["listener"],
        )
        rejected = CounterMetricFamily(
            "tracelake_listener_rejects",
            "Frames or records a stream listener refused, by reason",
            labels=["listener", "reason"],
        )
        connections = GaugeMetricFamily(
            "tracelake_listener_connections",
            "Open connections of a stream listener",
            labels=["listener"],
        )
        for name, stats in self._read():
            received.add_metric([name], stats.received)
            connections.add_metric([name], stats.connections)
            for reason, count in stats.rejected_by_reason.items():
                rejected.add_metric([name, reason], count)
        yield from (received, rejected, connections)


class _Gauges(Collector):
    def __init__(self, read: Callable[[], dict[str, tuple[str, float]]]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        for name, (help_text, value) in self._read().items():
            yield GaugeMetricFamily(name, help_text, value=value)
