"""Elasticsearch-compatible ingest under ``/es``: ``_bulk`` and the handshake routes.

Shippers (Logstash, Filebeat, Fluent Bit, Vector, the official clients) first call a few
cluster routes and check the ``X-Elastic-Product`` header; ``es_handshake`` answers those.
``_bulk`` stores the good documents and answers per item exactly as Elasticsearch does,
so the clients' retry logic (on 429 and per-item errors) works unchanged.
"""

from __future__ import annotations

import time
from functools import partial

from starlette.requests import Request
from starlette.responses import Response

from tracelake.api.context import context
from tracelake.api.endpoints import INGEST, Endpoint
from tracelake.api.params import read_body
from tracelake.api.responses import dumps
from tracelake.errors import DecodeError, Overloaded, PayloadTooLarge
from tracelake.ingest.decoders.es_bulk import with_took
from tracelake.ingest.decoders.es_handshake import RESPONSE_HEADERS, error_body, respond
from tracelake.ingest.jobs import body_headers
from tracelake.ingest.tables import logs


def _es_error(status: int, kind: str, reason: str, **headers: str) -> Response:
    return Response(
        dumps(error_body(status, kind, reason)),
        status_code=status,
        headers={**dict(RESPONSE_HEADERS), **headers},
    )


async def bulk(request: Request) -> Response:
    ctx = context(request)
    started = time.perf_counter()
    job = partial(logs.bulk_job, default_index=request.path_params.get("index"))
    try:
        body = await read_body(request, ctx.settings.max_body_bytes)
        decoded = await ctx.ingest.submit(job, body, body_headers(request.headers), "es_bulk")
    except PayloadTooLarge as e:
        return _es_error(413, "content_too_long_exception", e.message)
    except DecodeError as e:
        return _es_error(400, "illegal_argument_exception", e.message)
    except Overloaded as e:
        return _es_error(
            429, "es_rejected_execution_exception", e.message, **{"Retry-After": str(e.retry_after)}
        )
    took = int((time.perf_counter() - started) * 1000)
    body = decoded.answer.body_for(decoded.duplicates)
    return Response(with_took(body, took), headers=dict(RESPONSE_HEADERS))


async def handshake(request: Request) -> Response:
    path = "/" + request.path_params.get("path", "")
    answer = respond(request.method, path)
    if answer is None:
        return _es_error(
            404,
            "tracelake_unsupported",
            f"{request.method} /es{path} is not supported: tracelake takes _bulk",
        )
    return Response(answer.body, status_code=answer.status, headers=dict(answer.headers))


METHODS = ("GET", "HEAD", "PUT", "POST", "DELETE")

# The handshake is sent with the clients' ingest credentials; any method needs ingest.
endpoints = [
    Endpoint("/es/_bulk", bulk, ("POST", "PUT"), INGEST),
    Endpoint("/es/{index}/_bulk", bulk, ("POST", "PUT"), INGEST),
    Endpoint("/es", handshake, METHODS, INGEST, any_method=True),
    Endpoint("/es/{path:path}", handshake, METHODS, INGEST, any_method=True),
]
