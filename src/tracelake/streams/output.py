"""A committed window's values as rows of ``derived`` and samples of ``metrics``.

Both tables get the same numbers: ``derived`` keeps the window (start, end), the query
and the aggregate's name; ``metrics`` gets a sample named
``tracelake_cq_<query>_<aggregate>`` at the window's end with the group keys as labels,
so PromQL and alert rules read continuous queries like any other series.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
import pyarrow as pa

from tracelake.schema import DERIVED, METRICS


@dataclass(frozen=True, slots=True)
class Value:
    """One aggregate of one group of one window."""

    start_us: int
    end_us: int
    labels: str  # canonical JSON, as in metrics.labels
    aggregate: str
    value: float


def canonical_labels(labels: dict[str, str]) -> str:
    return orjson.dumps(labels, option=orjson.OPT_SORT_KEYS).decode()


def derived_batch(query: str, values: list[Value], committed_at_us: int) -> pa.RecordBatch:
    n = len(values)
    return pa.record_batch(
        [
            pa.array([v.start_us for v in values], DERIVED.field("timestamp").type),
            pa.array([v.end_us for v in values], DERIVED.field("window_end").type),
            pa.array([query] * n, pa.string()),
            pa.array([v.labels for v in values], pa.string()),
            pa.array([v.aggregate for v in values], pa.string()),
            pa.array([v.value for v in values], pa.float64()),
            pa.array([committed_at_us] * n, DERIVED.field("tl_committed_at").type),
        ],
        schema=DERIVED,
    )


def metrics_batch(prefix: str, values: list[Value]) -> pa.RecordBatch:
    services = [orjson.loads(v.labels).get("service") for v in values]
    return pa.record_batch(
        [
            pa.array([v.end_us for v in values], METRICS.field("timestamp").type),
            pa.array([prefix + v.aggregate for v in values], pa.string()),
            pa.array([v.labels for v in values], pa.string()),
            pa.array([v.value for v in values], pa.float64()),
            pa.array(services, pa.string()),
        ],
        schema=METRICS,
    )
