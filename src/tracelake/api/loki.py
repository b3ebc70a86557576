"""``POST /loki/api/v1/push``: what Promtail, Grafana Alloy and Loki clients send.

JSON or snappy-compressed protobuf. Like Loki, a push whose every entry was stored
answers 204; one with bad entries stores the good ones and answers 400 naming the bad.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from tracelake.api.context import context
from tracelake.api.endpoints import INGEST, Endpoint
from tracelake.api.params import read_body
from tracelake.ingest.decoders.otlp_logs import partial_success_message
from tracelake.ingest.jobs import body_headers
from tracelake.ingest.tables import logs


async def push(request: Request) -> Response:
    ctx = context(request)
    body = await read_body(request, ctx.settings.max_body_bytes)
    decoded = await ctx.ingest.submit(logs.loki_job, body, body_headers(request.headers), "loki")
    if decoded.result.errors:
        return PlainTextResponse(partial_success_message(decoded.result.errors), status_code=400)
    return Response(status_code=204)


endpoints = [Endpoint("/loki/api/v1/push", push, ("POST",), INGEST)]
