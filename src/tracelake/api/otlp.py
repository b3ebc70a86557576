"""OTLP/HTTP: ``POST /v1/logs``, ``/v1/traces`` and ``/v1/metrics``, protobuf or JSON.

The three signals share the protocol's rules, kept here once: the request's media type
picks the answer's encoding (anything else is a 415); records that cannot be stored are
reported in ``partial_success`` (as the OTLP spec asks) while the rest are kept; a body
that cannot be decoded at all is a 400 carrying a ``google.rpc.Status``; overload is
503 + ``Retry-After`` (``api/errors.py``), which every exporter retries. Spans and
metrics are decoded in the ingest worker processes; log records go through the pipeline.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from starlette.requests import Request
from starlette.responses import Response

from tracelake.api.context import AppContext, context
from tracelake.api.endpoints import INGEST, Endpoint
from tracelake.api.params import read_body
from tracelake.errors import DecodeError
from tracelake.ingest.decoders import otlp_logs, otlp_metrics, otlp_traces
from tracelake.ingest.decoders.otlp_common import JSON, error_response, media_type
from tracelake.metrics.jobs import otlp_metrics_job, series_limits
from tracelake.model import RecordError
from tracelake.tracing.jobs import otlp_spans_job

#: Decode ``body`` and store what is good; returns the records refused.
Store = Callable[[AppContext, Request, bytes], Awaitable[list[RecordError]]]


class Encode(Protocol):
    """A signal's ``Export*ServiceResponse`` encoder."""

    def __call__(self, rejected: Sequence[RecordError], *, as_json: bool) -> bytes: ...


def _endpoint(store: Store, encode: Encode) -> Callable[[Request], Awaitable[Response]]:
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
            rejected = await store(ctx, request, body)
        except DecodeError as e:
            status = error_response(e.message, as_json=as_json)
            return Response(status, status_code=400, media_type=kind)
        return Response(encode(rejected, as_json=as_json), media_type=kind)

    return endpoint


async def _logs(ctx: AppContext, request: Request, body: bytes) -> list[RecordError]:
    objects, rejected = otlp_logs.decode_logs(
        body,
        request.headers.get("content-type"),
        content_encoding=request.headers.get("content-encoding"),
        max_body_bytes=ctx.settings.max_body_bytes,
    )
    stored = await ctx.ingest(objects, source="otlp")
    return [*rejected, *stored.errors]


async def _spans(ctx: AppContext, request: Request, body: bytes) -> list[RecordError]:
    ipc, count, rejected = await ctx.ingest.offload(
        otlp_spans_job,
        body,
        request.headers.get("content-type"),
        request.headers.get("content-encoding"),
        ctx.settings.max_body_bytes,
    )
    await ctx.ingest.append(
        "spans", ipc, source="otlp_traces", stored=count, rejected=len(rejected), nbytes=len(body)
    )
    return rejected


async def _metrics(ctx: AppContext, request: Request, body: bytes) -> list[RecordError]:
    ipc, count, rejected = await ctx.ingest.offload(
        otlp_metrics_job,
        body,
        request.headers.get("content-type"),
        request.headers.get("content-encoding"),
        ctx.settings.max_body_bytes,
        series_limits(ctx.settings),
    )
    await ctx.ingest.append(
        "metrics",
        ipc,
        source="otlp_metrics",
        stored=count,
        rejected=len(rejected),
        nbytes=len(body),
    )
    return rejected


endpoints = [
    Endpoint("/v1/logs", _endpoint(_logs, otlp_logs.export_response), ("POST",), INGEST),
    Endpoint("/v1/traces", _endpoint(_spans, otlp_traces.export_response), ("POST",), INGEST),
    Endpoint("/v1/metrics", _endpoint(_metrics, otlp_metrics.export_response), ("POST",), INGEST),
]
