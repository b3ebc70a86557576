"""``POST /api/v1/events``: business events (NDJSON or a JSON array), gzip accepted.

The answer is ``{"accepted", "rejected", "errors": [{"index", "reason"}]}`` once the
accepted events are durable: 200 when any event was taken (or the body was empty),
400 when every item was refused, 413 for a body over ``max_body_bytes``. Decoding runs
in an ingest worker process when there are some, like ``POST /api/v1/logs``.
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response

from tracelake.api.context import context
from tracelake.api.endpoints import INGEST, Endpoint
from tracelake.api.openapi import CONTENT_ENCODING, answer, error_answers, ndjson_or_json, schema
from tracelake.api.params import read_body
from tracelake.api.responses import JSON
from tracelake.ingest.jobs import body_headers
from tracelake.ingest.tables.events import events_job


async def post_events(request: Request) -> Response:
    ctx = context(request)
    started = time.perf_counter()
    body = await read_body(request, ctx.settings.max_body_bytes)
    decoded = await ctx.ingest.submit(events_job, body, body_headers(request.headers), "events")
    result = decoded.answer
    status = 400 if result["rejected"] and not result["accepted"] else 200
    ctx.metrics.ingest_requests.labels("events", str(status)).inc()
    ctx.metrics.ingest_seconds.labels("events").observe(time.perf_counter() - started)
    return JSON(result, status_code=status)


endpoints = [
    Endpoint(
        "/api/v1/events",
        post_events,
        ("POST",),
        INGEST,
        doc={
            "operationId": "postEvents",
            "summary": "Store business events (NDJSON or a JSON array); bad items reported by index",
            "tags": ["ingest"],
            "parameters": [CONTENT_ENCODING],
            "requestBody": ndjson_or_json(
                "Event",
                "NDJSON or a JSON array of events, each payload at most max_event_bytes as JSON",
            ),
            "responses": {
                "200": answer(schema("EventsResult"), "the accepted events are durable"),
                **error_answers("BadRequest", "PayloadTooLarge", "Overloaded"),
            },
        },
    )
]
