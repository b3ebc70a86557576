"""OTLP/HTTP: ``POST /v1/logs``, ``/v1/traces`` and ``/v1/metrics``, protobuf or JSON.

The three signals share the protocol's rules, kept here once: the request's media type
picks the answer's encoding (anything else is a 415); records that cannot be stored are
reported in ``partial_success`` (as the OTLP spec asks) while the rest are kept; a body
that cannot be decoded at all is a 400 carrying a ``google.rpc.Status``; overload is
503 + ``Retry-After`` (``api/errors.py``), which every exporter retries. Every signal is
decoded in the ingest worker processes by its table's job (``ingest/tables/``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from starlette.requests import Request
from starlette.responses import Response

from tracelake.api.context import context
from tracelake.api.endpoints import INGEST, Endpoint
from tracelake.api.params import read_body
from tracelake.errors import DecodeError
from tracelake.ingest.decoders import otlp_logs, otlp_metrics, otlp_traces
from tracelake.ingest.decoders.otlp_common import JSON, error_response, media_type
from tracelake.ingest.jobs import Job, body_headers
from tracelake.ingest.tables import logs, samples, spans
from tracelake.model import RecordError


class Encode(Protocol):
    """A signal's ``Export*ServiceResponse`` encoder."""

    def __call__(self, rejected: Sequence[RecordError], *, as_json: bool) -> bytes: ...


def _endpoint(job: Job, source: str, encode: Encode) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
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
            decoded = await ctx.ingest.submit(job, body, body_headers(request.headers), source)
        except DecodeError as e:
            status = error_response(e.message, as_json=as_json)
            return Response(status, status_code=400, media_type=kind)
        return Response(encode(decoded.result.errors, as_json=as_json), media_type=kind)

    return endpoint


_logs = _endpoint(logs.otlp_job, "otlp", otlp_logs.export_response)
_spans = _endpoint(spans.otlp_job, "otlp_traces", otlp_traces.export_response)
_metrics = _endpoint(samples.otlp_job, "otlp_metrics", otlp_metrics.export_response)


endpoints = [
    Endpoint("/v1/logs", _logs, ("POST",), INGEST),
    Endpoint("/v1/traces", _spans, ("POST",), INGEST),
    Endpoint("/v1/metrics", _metrics, ("POST",), INGEST),
]
