"""``POST /v1/traces``: OTLP/HTTP spans, protobuf or JSON, answered in the request's encoding.

Spans that cannot be stored are reported in ``partial_success`` (as the OTLP spec asks)
while the rest are kept; a body that cannot be decoded at all is a 400 carrying a
``google.rpc.Status``; overload is 503 + ``Retry-After`` (``api/errors.py``), which
every exporter retries. Decoding runs in the ingest worker processes.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracelake.api.context import context
from tracelake.api.params import read_body
from tracelake.errors import DecodeError
from tracelake.ingest.decoders.otlp_common import JSON, error_response, media_type
from tracelake.ingest.decoders.otlp_traces import export_response
from tracelake.tracing.batches import append_spans
from tracelake.tracing.jobs import otlp_spans_job


async def post_traces(request: Request) -> Response:
    ctx = context(request)
    content_type = request.headers.get("content-type")
    kind = media_type(content_type)
    if kind is None:
        return Response(
            b"send application/x-protobuf or application/json",
            status_code=415,
            media_type="text/plain",
        )
    as_json = kind == JSON
    body = await read_body(request, ctx.settings.max_body_bytes)
    try:
        ipc, count, rejected = await ctx.ingest.offload(
            otlp_spans_job,
            body,
            content_type,
            request.headers.get("content-encoding"),
            ctx.settings.max_body_bytes,
        )
    except DecodeError as e:
        status = error_response(e.message, as_json=as_json)
        return Response(status, status_code=400, media_type=kind)
    await append_spans(ctx.store, ctx.metrics, ipc, count, len(rejected), "otlp_traces", len(body))
    return Response(export_response(rejected, as_json=as_json), media_type=kind)


routes = [Route("/v1/traces", post_traces, methods=["POST"])]
