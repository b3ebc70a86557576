"""``POST /prometheus/api/v1/write``: Prometheus remote_write 1.0, so a Prometheus forwards here.

A good request answers 204 once its samples are durable. Series that break a rule are
rejected while the rest are kept, and the request answers 400 naming them (the spec's
answer for invalid samples: Prometheus does not retry them). A body that cannot be
decoded is a 400, a remote_write 2.0 request a 415 (the spec lets a 1.0 receiver say
so), overload a 503 with ``Retry-After`` that Prometheus retries. Decoding runs in the
ingest worker processes.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from tracelake.api.context import context
from tracelake.api.endpoints import INGEST, Endpoint
from tracelake.api.params import read_body
from tracelake.errors import BadRequest
from tracelake.ingest.decoders.remote_write import protocol_of, rejection_message
from tracelake.ingest.jobs import body_headers
from tracelake.ingest.tables import samples

SOURCE = "remote_write"


async def post_write(request: Request) -> Response:
    ctx = context(request)
    content_type = request.headers.get("content-type")
    if protocol_of(content_type) is None:
        return Response(
            f"unsupported Content-Type {content_type!r}: this receiver speaks remote_write 1.0 "
            "(application/x-protobuf, prometheus.WriteRequest); set protobuf_message: "
            "prometheus.WriteRequest in the remote_write config".encode(),
            status_code=415,
            media_type="text/plain",
        )
    body = await read_body(request, ctx.settings.max_body_bytes)
    headers = body_headers(request.headers)
    decoded = await ctx.ingest.submit(samples.remote_write_job, body, headers, SOURCE)
    if decoded.result.errors:
        raise BadRequest(rejection_message(decoded.result.errors))
    return Response(
        status_code=204,
        headers={
            "X-Prometheus-Remote-Write-Samples-Written": str(decoded.result.stored),
            "X-Prometheus-Remote-Write-Histograms-Written": "0",
            "X-Prometheus-Remote-Write-Exemplars-Written": "0",
        },
    )


endpoints = [Endpoint("/prometheus/api/v1/write", post_write, ("POST",), INGEST)]
