"""The lake over HTTP: what it holds, exports, and compaction now.

``GET /api/v1/lake/tables`` and ``GET /api/v1/lake/tables/{table}/partitions`` answer
what ``tracelake lake tables | partitions`` print, from the running store's snapshots;
``GET /api/v1/lake/tables/{table}/export`` writes a table's rows (a time range, a SQL
condition) to one Parquet, CSV or JSON-lines file and sends it. So every ``lake``
command works against a running server, wherever its lake is.

The export runs ``lake/export.py`` on the server, into a file of its own under
``<data_dir>/tmp`` (deleted once sent). ``where`` is checked first as the SQL endpoint
checks a statement (``SELECT * FROM table WHERE (where)`` must be one plain SELECT
over the lake's tables), and the export's DuckDB may read only the lake and write only
that file.

``POST /api/v1/lake/compact``: flush the memtable and compact every partition now.

The running server flushes its own memtable (only it knows its WAL), so ``tracelake
lake compact`` asks it; the compaction itself is a Delta commit, safe beside other
writers of the lake (they take turns on the lake's maintenance lock). Normal
compaction waits for a partition to gather ``compaction_min_segments`` segments or for
its hour to close; this rewrites every flushed segment at once, e.g. before copying
the lake elsewhere or reading it from Spark.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from tracelake.api.context import context
from tracelake.api.endpoints import ADMIN, READ, Endpoint
from tracelake.api.openapi import TIME, answer, error_answers, path_param, query_param
from tracelake.api.params import parse_time
from tracelake.api.responses import JSON
from tracelake.api.sql import check_statement
from tracelake.errors import BadRequest, SQLRejected
from tracelake.lake.catalog import Lake, partitions, tables
from tracelake.lake.export import FORMATS, export_table
from tracelake.schema import SCHEMAS

#: The media type of each export format.
MEDIA_TYPES = {
    "parquet": "application/vnd.apache.parquet",
    "csv": "text/csv",
    "jsonl": "application/x-ndjson",
}


def _lake(request: Request) -> Lake:
    store = context(request).store
    return Lake.over(store.lake, store.tables)


def _table(request: Request) -> str:
    table = request.path_params["table"]
    if table not in SCHEMAS:
        raise BadRequest(f"no table {table!r}: tables are {', '.join(SCHEMAS)}")
    return str(table)


def check_where(table: str, where: str) -> None:
    """Refuse a condition that is not one plain expression over ``table``: checked as the
    SQL endpoint checks a statement, and without comments or statement breaks, which
    could end the export's own statement around it."""
    if any(mark in where for mark in (";", "--", "/*")):
        raise SQLRejected(
            "where must be one SQL condition, without ';' or comments: e.g. type = 'refund'"
        )
    check_statement(f"SELECT * FROM {table} WHERE ({where})", [table])  # noqa: S608 (parsed only)


async def get_tables(request: Request) -> Response:
    def run() -> list[dict[str, Any]]:
        return [t.as_dict() for t in tables(_lake(request))]

    return JSON({"tables": await asyncio.to_thread(run)})


async def get_partitions(request: Request) -> Response:
    table = _table(request)
    found = await asyncio.to_thread(partitions, _lake(request), table)
    return JSON({"table": table, "partitions": [p.as_dict() for p in found]})


async def get_export(request: Request) -> Response:
    table, params = _table(request), request.query_params
    fmt = params.get("format", "parquet")
    if fmt not in FORMATS:
        raise BadRequest(f"format={fmt!r} is not one of {', '.join(FORMATS)}")
    now = datetime.now(UTC)
    start = parse_time(params.get("from"), "from", now)
    end = parse_time(params.get("to"), "to", now)
    where = params.get("where") or None
    if where is not None:
        check_where(table, where)
    store = context(request).store
    scratch = store.root / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="export-", dir=scratch))
    out = folder / f"{table}.{fmt}"
    try:
        rows = await asyncio.to_thread(
            export_table, store.lake, table, out, fmt, start=start, end=end, where=where
        )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return FileResponse(
        out,
        media_type=MEDIA_TYPES[fmt],
        filename=out.name,
        headers={"X-Tracelake-Rows": str(rows)},
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )


async def post_compact(request: Request) -> Response:
    store = context(request).store

    def run() -> dict[str, int]:
        flushed = store.flush()
        groups = store.compact(min_segments=1)
        return {
            "flushed_rows": flushed,
            "compacted_groups": groups,
            "segments": store.segment_count(),
        }

    return JSON(await asyncio.to_thread(run))


_SUMMARY: dict[str, Any] = {
    "type": "object",
    "required": ["name", "version", "segments", "compacted", "rows", "bytes"],
    "properties": {
        "name": {"type": "string"},
        "version": {"type": ["integer", "null"], "description": "Delta version read"},
        "segments": {"type": "integer"},
        "compacted": {"type": "integer"},
        "rows": {"type": "integer"},
        "bytes": {"type": "integer"},
        "oldest": {"type": ["string", "null"], "format": "date-time"},
        "newest": {"type": ["string", "null"], "format": "date-time"},
    },
}
_TABLE = path_param("table", ", ".join(SCHEMAS))

endpoints = [
    Endpoint(
        "/api/v1/lake/tables",
        get_tables,
        ("GET",),
        READ,
        doc={
            "operationId": "lakeTables",
            "summary": "Each table's Delta version, segments, rows, bytes, time range and last commit",
            "tags": ["lake"],
            "responses": {
                "200": answer(
                    {
                        "type": "object",
                        "properties": {
                            "tables": {
                                "type": "array",
                                "items": {
                                    **_SUMMARY,
                                    "properties": {
                                        **_SUMMARY["properties"],
                                        "committed": {"type": ["string", "null"]},
                                        "operation": {"type": ["string", "null"]},
                                    },
                                },
                            }
                        },
                    }
                ),
            },
        },
    ),
    Endpoint(
        "/api/v1/lake/tables/{table}/partitions",
        get_partitions,
        ("GET",),
        READ,
        doc={
            "operationId": "lakePartitions",
            "summary": "The Hive partitions of a table's current version",
            "tags": ["lake"],
            "parameters": [_TABLE],
            "responses": {
                "200": answer(
                    {
                        "type": "object",
                        "properties": {
                            "table": {"type": "string"},
                            "partitions": {"type": "array", "items": _SUMMARY},
                        },
                    }
                ),
                **error_answers("BadRequest"),
            },
        },
    ),
    Endpoint(
        "/api/v1/lake/tables/{table}/export",
        get_export,
        ("GET",),
        READ,
        doc={
            "operationId": "lakeExport",
            "summary": "A table's rows (time range, SQL condition) as one file",
            "tags": ["lake"],
            "parameters": [
                _TABLE,
                query_param("from", "start of the range (default: the oldest row)", TIME),
                query_param("to", "end of the range, exclusive (default: none)", TIME),
                query_param(
                    "where",
                    "a SQL condition on the table's columns, e.g. type = 'refund'",
                    {"type": "string"},
                ),
                query_param(
                    "format",
                    "file format (default parquet)",
                    {"type": "string", "enum": list(FORMATS)},
                ),
            ],
            "responses": {
                "200": {
                    "description": "the file; X-Tracelake-Rows says how many rows it holds",
                    "content": {media: {} for media in MEDIA_TYPES.values()},
                },
                **error_answers("BadRequest"),
            },
        },
    ),
    Endpoint(
        "/api/v1/lake/compact",
        post_compact,
        ("POST",),
        ADMIN,
        doc={
            "operationId": "compact",
            "summary": "Flush the memtable and compact every partition now",
            "tags": ["lake"],
            "responses": {
                "200": answer(
                    {
                        "type": "object",
                        "required": ["flushed_rows", "compacted_groups", "segments"],
                        "properties": {
                            "flushed_rows": {"type": "integer"},
                            "compacted_groups": {"type": "integer"},
                            "segments": {"type": "integer"},
                        },
                    }
                ),
                **error_answers("Overloaded"),
            },
        },
    ),
]
