"""``POST /api/v1/sql``: one read-only statement over the lake's tables.

The statement is parsed by DuckDB itself and must be a single SELECT; it then runs on a
sandboxed connection (no files outside the lake, no extensions, frozen settings).
"""

from __future__ import annotations

import duckdb
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracelake.api.context import context
from tracelake.api.execute import run_query
from tracelake.api.params import read_body
from tracelake.api.responses import JSON
from tracelake.errors import BadRequest, SQLRejected

MAX_SQL_BYTES = 64 * 1024


def check_statement(sql: str) -> None:
    """Refuse anything but exactly one SELECT, with a message saying what was sent."""
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
    check_statement(payload["sql"])
    results = await run_query(ctx, payload["sql"], params, kind="sql")
    return JSON(
        {
            "columns": results.columns,
            "rows": [list(r) for r in results.rows],
            "truncated": results.truncated,
            "took_ms": round(results.elapsed_ms, 2),
        }
    )


routes = [Route("/api/v1/sql", post_sql, methods=["POST"])]
