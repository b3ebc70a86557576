"""Arrow record batches of the ``metrics`` table from decoded samples.

Why separate from the decoders: they stay sans-IO and free of pyarrow; this is the one
step between their column lists and what ``Store.append`` takes.
"""

from __future__ import annotations

import pyarrow as pa

from tracelake.ingest.decoders.sample_rows import SampleRows
from tracelake.schema import METRICS


def samples_batch(rows: SampleRows) -> pa.RecordBatch:
    """One batch of ``rows``; ``labels`` arrives as JSON bytes and is cast, not decoded."""
    series = rows.series
    return pa.record_batch(
        [
            pa.array(rows.timestamp, pa.int64()).cast(METRICS.field("timestamp").type),
            pa.array([s.name for s in series], pa.string()),
            pa.array([s.labels for s in series], pa.binary()).cast(pa.string()),
            pa.array(rows.value, pa.float64()),
            pa.array([s.service for s in series], pa.string()),
        ],
        schema=METRICS,
    )
