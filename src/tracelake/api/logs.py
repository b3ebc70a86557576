"""``POST /api/v1/logs``: NDJSON or a JSON array of log objects, gzip accepted."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracelake.api.context import context
from tracelake.api.params import read_body
from tracelake.api.responses import JSON


async def post_logs(request: Request) -> Response:
    """Store the good lines, report the bad ones by line number (partial success).

    200 with ``{"accepted", "rejected", "errors"}`` once the accepted lines are durable;
    400 when no line at all was usable.
    """
    ctx = context(request)
    started = time.perf_counter()
    body = await read_body(request, ctx.settings.max_body_bytes)
    result = await ctx.ingest.ingest_ndjson(body, request.headers.get("content-encoding", ""))
    status = 200 if result["accepted"] or not result["rejected"] else 400
    ctx.metrics.ingest_requests.labels("http", str(status)).inc()
    ctx.metrics.ingest_seconds.labels("http").observe(time.perf_counter() - started)
    return JSON(result, status_code=status)


routes = [Route("/api/v1/logs", post_logs, methods=["POST"])]
