"""The server's own metrics, in Prometheus's naming, on a registry of its own.

Counters and histograms of ingest and queries are updated where things happen. Every
other figure belongs to the part that holds it: each part (the store, the listeners, the
scraper …) is a prometheus_client custom collector, a ``collect()`` yielding metric
families read at scrape time, so nothing polls and ``server.py`` only registers parts.
Counts that only grow are ``CounterMetricFamily`` (exposed with ``_total``); levels are
``GaugeMetricFamily``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.registry import Collector

# ``*_created`` series double every counter's output for no use here.
disable_created_metrics()

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class ServerMetrics:
    """The server's metrics: ingest and query counters here, the parts' own figures
    through ``register``; one instance per server."""

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

    def register(self, *parts: Collector) -> None:
        """Publish what each part's ``collect()`` yields, at every scrape."""
        for part in parts:
            self.registry.register(part)
