"""Arrow record batches of the ``spans`` table from decoded span rows.

Why separate from the decoders: they stay sans-IO and free of pyarrow; this is the one
step between their column lists and what ``Store.append`` takes.
"""

from __future__ import annotations

import pyarrow as pa

from tracelake.ingest.decoders.span_rows import SpanRows
from tracelake.schema import SPANS

_JSON_COLUMNS = frozenset({"attributes", "events", "resource", "details"})


def spans_batch(rows: SpanRows) -> pa.RecordBatch:
    """One batch of ``rows``; JSON columns arrive as bytes and are cast, not decoded."""
    arrays = []
    for column, values in zip(SPANS, rows.columns(), strict=True):
        if column.name in _JSON_COLUMNS:
            arrays.append(pa.array(values, pa.binary()).cast(pa.string()))
        else:
            arrays.append(pa.array(values, column.type))
    return pa.record_batch(arrays, schema=SPANS)
