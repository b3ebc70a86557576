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
    timestamp, name, labels, value, service = rows.columns()
    return pa.record_batch(
        [
            pa.array(timestamp, pa.int64()).cast(METRICS.field("timestamp").type),
            pa.array(name, pa.string()),
            pa.array(labels, pa.binary()).cast(pa.string()),
            pa.array(value, pa.float64()),
            pa.array(service, pa.string()),
        ],
        schema=METRICS,
    )
