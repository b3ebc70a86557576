"""``tracelake lake export``: a table's rows, in a time range and filter, to one file.

It runs on the user's machine with its own DuckDB over the files of the table's current
Delta version (its commit log's, read once at the start: compaction committing meanwhile
changes nothing for the export, whose files vacuum keeps for ``lake_vacuum_hours``), so
the server's SQL sandbox (no file writes, nothing outside the lake) stays as it is. The
time range is bound as parameters; ``where`` is the user's own SQL on their own
files, run on a connection that can read only the lake and write only the output.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb

from tracelake.errors import BadRequest
from tracelake.lake.catalog import files, open_lake
from tracelake.schema import SCHEMAS, schema_of

#: Output formats and the DuckDB COPY options that write them.
FORMATS: dict[str, str] = {
    "parquet": "FORMAT parquet, COMPRESSION zstd",
    "csv": "FORMAT csv, HEADER true",
    "jsonl": "FORMAT json",
}


def export_table(
    lake: Path,
    table: str,
    out: Path,
    fmt: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    where: str | None = None,
    data_dir: Path | None = None,
) -> int:
    """Write the rows of ``table`` in [start, end) matching ``where`` to ``out``.

    ``lake`` is the lake directory (``<data_dir>/lake`` unless ``lake_dir`` moved it);
    ``data_dir``, when known, goes into the hint of a lake that needs repair.
    Returns the number of rows written (0 writes an empty file with the header/schema).
    """
    if table not in SCHEMAS:
        raise BadRequest(f"no table {table!r}: tables are {', '.join(SCHEMAS)}")
    if fmt not in FORMATS:
        raise BadRequest(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    paths = files(open_lake(lake, data_dir), table)
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        "SET allowed_directories = ?",
        [[str(lake.resolve()) + "/", str(out.parent) + "/"]],
    )
    con.execute("SET enable_external_access = false")
    if paths:
        con.read_parquet(paths, union_by_name=True).create_view("src")
    else:  # an empty table still exports its columns
        con.from_arrow(schema_of(table).empty_table()).create_view("src")
    conditions: list[str] = []
    params: list[datetime] = []
    if start is not None:
        conditions.append("timestamp >= ?")
        params.append(start)
    if end is not None:
        conditions.append("timestamp < ?")
        params.append(end)
    if where:
        conditions.append(f"({where})")
    query = "SELECT * FROM src"
    if conditions:
        query += " WHERE " + " AND ".join(conditions)
    query += " ORDER BY timestamp"
    target = str(out).replace("'", "''")  # a path, not a value: COPY takes no parameter here
    try:
        row = con.execute(f"COPY ({query}) TO '{target}' ({FORMATS[fmt]})", params).fetchone()
    except duckdb.Error as e:
        raise BadRequest(f"export failed: {str(e).splitlines()[0]}") from e
    finally:
        con.close()
    return int(row[0]) if row else 0
