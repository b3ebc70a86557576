"""``POST /api/v1/sql``: one read-only statement over the lake's tables.

The statement is parsed by DuckDB itself and must be a single SELECT; it then runs on a
sandboxed connection (no files outside the lake, no extensions, frozen settings). The
sandbox has one hole DuckDB will not close — its spill directory is always readable — and
server paths show in its settings and view definitions, so the parsed statement is also
walked: it may name only the lake's tables (and its own CTEs), a few row-generating table
functions, and no function that reads files or settings.

``as_of`` (a table version or an RFC 3339 time) runs the statement over the tables as
their Delta commit logs had them then, memtable excluded. Only the tables the statement
names are read then: each costs a load of its log at that point, and a version number is
one table's (versions are counted per table).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Collection, Iterator
from typing import Any

import duckdb
import orjson
from starlette.requests import Request
from starlette.responses import Response

from tracelake.api.context import context
from tracelake.api.endpoints import READ, Endpoint
from tracelake.api.execute import run_query
from tracelake.api.openapi import answer, error_answers, json_content, schema
from tracelake.api.params import AS_OF_FORMS, as_of_value, read_body
from tracelake.api.responses import dumps
from tracelake.errors import BadRequest, QueryTimeout, SQLRejected
from tracelake.schema import SCHEMAS

MAX_SQL_BYTES = 64 * 1024

#: Table functions a statement may call: they make rows from values, never from files.
TABLE_FUNCTIONS = frozenset(
    {"range", "generate_series", "unnest", "json_each", "json_tree", "repeat_row"}
)
#: Functions refused wherever they appear: they run SQL from text or show server settings,
#: paths and environment.
REFUSED_FUNCTIONS = frozenset(
    {"current_setting", "getenv", "json_execute_serialized_sql", "query", "query_table"}
)
#: DuckDB's own catalog views a statement may read besides the lake tables (no view
#: definitions: those hold the lake's file paths).
CATALOG_VIEWS = frozenset({"information_schema.tables", "information_schema.columns"})
LAKE_TABLES = ", ".join(SCHEMAS)

_parser = duckdb.connect(config={"enable_external_access": False})
_parser_lock = threading.Lock()


def check_statement(sql: str, tables: Collection[str] = tuple(SCHEMAS)) -> list[str]:
    """Refuse anything but exactly one SELECT over ``tables``, with a message saying what
    was sent and what to do; returns those of ``tables`` it names (a CTE shadowing one
    counts: reading a table too many is harmless)."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as e:
        raise SQLRejected(f"SQL does not parse: {str(e).splitlines()[0]}") from e
    if len(statements) != 1:
        raise SQLRejected(f"send exactly one statement, got {len(statements)}")
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise SQLRejected(
            f"only SELECT is allowed here, got {kind.name}: the lake is read-only over SQL"
        )
    with _parser_lock:
        row = _parser.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()
    tree = orjson.loads(row[0]) if row else {"error": True}
    if tree.get("error"):
        raise SQLRejected(
            "only a plain SELECT is allowed here (no PIVOT or other rewritten statements): "
            f"{tree.get('error_message', 'it does not parse')}"
        )
    allowed = {t.lower() for t in tables} | set(_cte_names(tree))
    named = {name for node in _nodes(tree) if (name := _check_node(node, allowed))}
    return [t for t in tables if t.lower() in named]


def _check_node(node: dict[str, Any], allowed: set[str]) -> str | None:
    """Raise SQLRejected for a node the statement may not hold; the table's name when the
    node reads a lake table (or a CTE)."""
    kind = node.get("type")
    if kind == "BASE_TABLE":
        name = str(node.get("table_name", "")).lower()
        schema = str(node.get("schema_name", "")).lower()
        catalog = str(node.get("catalog_name", "")).lower()
        if f"{schema}.{name}" in CATALOG_VIEWS and catalog in ("", "memory"):
            return None
        if name in allowed and schema in ("", "main") and catalog in ("", "memory"):
            return name
        raise SQLRejected(
            f"unknown table {node.get('table_name')!r}: query the lake tables "
            f"({LAKE_TABLES}); files and DuckDB's catalog are not readable over SQL"
        )
    if kind == "TABLE_FUNCTION":
        function = node.get("function") or {}
        name = str(function.get("function_name", "")).lower()
        if name not in TABLE_FUNCTIONS:
            raise SQLRejected(
                f"table function {name}() is not available over SQL: query the lake tables "
                f"({LAKE_TABLES}); only {', '.join(sorted(TABLE_FUNCTIONS))} make rows here"
            )
    if node.get("class") == "FUNCTION":
        name = str(node.get("function_name", "")).lower()
        if name in REFUSED_FUNCTIONS or name.startswith(("duckdb_", "pragma_")):
            raise SQLRejected(
                f"{name}() is not available over SQL: it reads server settings, files or "
                "SQL text; ask the server's operator for what you need"
            )
    return None


def _nodes(value: Any) -> Iterator[dict[str, Any]]:
    """Every object of DuckDB's JSON parse tree, depth first."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _cte_names(tree: Any) -> Iterator[str]:
    for node in _nodes(tree):
        cte_map = node.get("cte_map")
        if isinstance(cte_map, dict):
            for entry in cte_map.get("map", []):
                yield str(entry.get("key", "")).lower()


async def post_sql(request: Request) -> Response:
    ctx = context(request)
    body = await read_body(request, MAX_SQL_BYTES)
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise BadRequest(f'body must be JSON like {{"sql": "SELECT ..."}}: {e}') from e
    if not isinstance(payload, dict) or not isinstance(payload.get("sql"), str):
        raise BadRequest('body must be JSON like {"sql": "SELECT ..."}')
    params = payload.get("params", [])
    if not isinstance(params, list):
        raise BadRequest('"params" must be a JSON array of values for the ? placeholders')
    as_of = as_of_value(payload.get("as_of"))
    named = check_statement(payload["sql"])
    results = await run_query(
        ctx,
        payload["sql"],
        params,
        kind="sql",
        # as of a past point, only the tables named (see the module's docstring)
        tables=(named or None) if as_of is not None else None,
        as_of=as_of,
    )
    answer = {
        "columns": results.columns,
        "rows": [list(r) for r in results.rows],
        "truncated": results.truncated,
        "took_ms": round(results.elapsed_ms, 2),
    }
    # Encoding up to query_max_answer_bytes takes a while: off the event loop, and within
    # the query's time limit like the fetching before it.
    started = time.perf_counter()
    encoded = await asyncio.to_thread(dumps, answer)
    limit = ctx.settings.query_timeout_s
    if results.elapsed_ms / 1000 + time.perf_counter() - started > limit:
        raise QueryTimeout(
            f"query ran past its time limit of {limit:g} s: narrow the time range or filter more"
        )
    return Response(encoded, media_type="application/json")


endpoints = [
    Endpoint(
        "/api/v1/sql",
        post_sql,
        ("POST",),
        READ,  # a query, even though it is a POST
        doc={
            "operationId": "sql",
            "summary": "One read-only SELECT over the lake tables",
            "tags": ["query"],
            "requestBody": {
                "required": True,
                "description": "at most 64 KiB",
                "content": json_content(
                    {
                        "type": "object",
                        "required": ["sql"],
                        "properties": {
                            "sql": {"type": "string"},
                            "params": {"type": "array", "items": {}},
                            "as_of": {
                                "oneOf": [
                                    {"type": "string", "format": "date-time"},
                                    {"type": "integer", "minimum": 0},
                                ],
                                "description": "read the tables as their commit logs had "
                                f"them then (time travel, memtable excluded): {AS_OF_FORMS}; "
                                "a version reads a statement over one table",
                            },
                        },
                    }
                ),
            },
            "responses": {
                "200": answer(schema("SQLResult")),
                **error_answers(
                    "BadRequest", "NotFound", "PayloadTooLarge", "Overloaded", "QueryTimeout"
                ),
            },
        },
    )
]
