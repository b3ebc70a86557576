"""``POST /api/v1/logs``: NDJSON or a JSON array of log objects, gzip accepted."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tracelake.api.context import context
from tracelake.api.endpoints import INGEST, Endpoint
from tracelake.api.openapi import CONTENT_ENCODING, answer, error_answers, ndjson_or_json, schema
from tracelake.api.params import read_body
from tracelake.api.responses import JSON
from tracelake.ingest.decoders.ndjson import TOO_LONG
from tracelake.ingest.jobs import body_headers
from tracelake.ingest.tables import logs


async def post_logs(request: Request) -> Response:
    """Store the good lines, report the bad ones by line number (partial success).

    200 with ``{"accepted", "rejected", "dropped", "errors"}`` once the accepted lines
    are durable; 413 when every line was over the line limit; 400 when no line was usable.
    """
    ctx = context(request)
    started = time.perf_counter()
    body = await read_body(request, ctx.settings.max_body_bytes)
    decoded = await ctx.ingest.submit(logs.ndjson_job, body, body_headers(request.headers), "http")
    result = decoded.result.as_dict()
    status = _status(result)
    ctx.metrics.ingest_requests.labels("http", str(status)).inc()
    ctx.metrics.ingest_seconds.labels("http").observe(time.perf_counter() - started)
    return JSON(result, status_code=status)


def _status(result: dict[str, Any]) -> int:
    """200 when anything was taken; 413 when every line was over the line limit; else 400."""
    if result["accepted"] or not result["rejected"]:
        return 200
    if all(e["error"].startswith(TOO_LONG) for e in result["errors"]):
        return 413
    return 400


endpoints = [
    Endpoint(
        "/api/v1/logs",
        post_logs,
        ("POST",),
        INGEST,
        doc={
            "operationId": "postLogs",
            "summary": "Store log objects; bad lines are reported by line number (partial success)",
            "tags": ["ingest"],
            "parameters": [CONTENT_ENCODING],
            "requestBody": ndjson_or_json(
                "LogObject",
                "NDJSON or a JSON array of log objects, at most max_body_bytes after"
                " decompression, each line at most max_line_bytes",
            ),
            "responses": {
                "200": answer(schema("IngestResult"), "the accepted lines are durable"),
                **error_answers("BadRequest", "PayloadTooLarge", "Overloaded"),
            },
        },
    )
]
