"""``POST /v1/logs``: OTLP/HTTP logs, protobuf or JSON, answered in the request's encoding.

Records that cannot be stored are reported in ``partial_success`` (as the OTLP spec
asks) while the rest are kept; a body that cannot be decoded at all is a 400 carrying a
``google.rpc.Status``; overload is 503 + ``Retry-After``, which every exporter retries.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracelake.api.context import context
from tracelake.api.params import read_body
from tracelake.errors import DecodeError
from tracelake.ingest.decoders.otlp_logs import (
    JSON,
    decode_logs,
    error_response,
    export_response,
    media_type,
)


async def post_logs(request: Request) -> Response:
    ctx = context(request)
    kind = media_type(request.headers.get("content-type"))
    if kind is None:
        return Response(
            b"send application/x-protobuf or application/json",
            status_code=415,
            media_type="text/plain",
        )
    as_json = kind == JSON
    body = await read_body(request, ctx.settings.max_body_bytes)
    try:
        objects, rejected = decode_logs(
            body,
            request.headers.get("content-type"),
            content_encoding=request.headers.get("content-encoding"),
            max_body_bytes=ctx.settings.max_body_bytes,
        )
    except DecodeError as e:
        return Response(
            error_response(e.message, as_json=as_json), status_code=400, media_type=kind
        )
    stored = await ctx.ingest(objects, source="otlp")
    return Response(export_response([*rejected, *stored.errors], as_json=as_json), media_type=kind)


routes = [Route("/v1/logs", post_logs, methods=["POST"])]
