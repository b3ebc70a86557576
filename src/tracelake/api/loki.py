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
from tracelake.ingest.decoders.loki import decode_push
from tracelake.ingest.decoders.otlp_logs import partial_success_message


async def push(request: Request) -> Response:
    ctx = context(request)
    body = await read_body(request, ctx.settings.max_body_bytes)
    objects, errors = decode_push(
        body,
        request.headers.get("content-type"),
        content_encoding=request.headers.get("content-encoding"),
        max_body_bytes=ctx.settings.max_body_bytes,
        max_line_bytes=ctx.settings.max_line_bytes,
    )
    stored = await ctx.ingest(objects, source="loki")
    errors += stored.errors
    if errors:
        return PlainTextResponse(partial_success_message(errors), status_code=400)
    return Response(status_code=204)


endpoints = [Endpoint("/loki/api/v1/push", push, ("POST",), INGEST)]
