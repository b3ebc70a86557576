"""Arrow schemas of the lake's tables: the one place their columns and types are set.

Times are microseconds since the epoch in UTC (Parquet ``TIMESTAMP(MICROS, UTC)``),
which Spark, DuckDB, pandas and Polars all read without conversion.
"""

from __future__ import annotations

import pyarrow as pa

from tracelake.model import LOG_COLUMNS

TIMESTAMP = pa.timestamp("us", tz="UTC")

LOGS = pa.schema(
    [pa.field("timestamp", TIMESTAMP, nullable=False)]
    + [pa.field(name, pa.string()) for name in LOG_COLUMNS[1:]]
)

SCHEMAS: dict[str, pa.Schema] = {"logs": LOGS}


def schema_of(table: str) -> pa.Schema:
    """The schema of a lake table; KeyError names the tables that exist."""
    try:
        return SCHEMAS[table]
    except KeyError:
        raise KeyError(f"no table {table!r}; tables: {', '.join(SCHEMAS)}") from None
