"""Readiness, liveness and the server's own metrics."""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response

from tracelake import __version__
from tracelake.api.context import context
from tracelake.api.endpoints import PUBLIC, READ, Endpoint
from tracelake.api.openapi import answer
from tracelake.api.responses import JSON


async def ready(request: Request) -> Response:
    """200 once the WAL is replayed and every listener is up; 503 before."""
    ctx = context(request)
    if not ctx.state.ready:
        return JSON({"status": "starting"}, status_code=503)
    return JSON({"status": "ready"})


async def health(request: Request) -> Response:
    ctx = context(request)
    return JSON(
        {
            "status": "ok",
            "version": __version__,
            "uptime_s": round(time.time() - ctx.state.started_at, 3),
            "listeners": ctx.state.listeners,
        }
    )


async def metrics(request: Request) -> Response:
    return Response(
        generate_latest(context(request).metrics.registry), media_type=CONTENT_TYPE_LATEST
    )


endpoints = [
    Endpoint(
        "/-/ready",
        ready,
        ("GET",),
        PUBLIC,
        doc={
            "operationId": "ready",
            "summary": "Readiness: 200 once the WAL is replayed and every listener is up",
            "tags": ["server"],
            "responses": {
                "200": answer(
                    {
                        "type": "object",
                        "properties": {"status": {"type": "string", "enum": ["ready"]}},
                        "required": ["status"],
                    }
                ),
                "503": answer(
                    {"type": "object", "properties": {"status": {"type": "string"}}},
                    "still starting",
                ),
            },
        },
    ),
    Endpoint(
        "/-/health",
        health,
        ("GET",),
        PUBLIC,
        doc={
            "operationId": "health",
            "summary": "Liveness, version and the listeners' addresses",
            "tags": ["server"],
            "responses": {
                "200": answer(
                    {
                        "type": "object",
                        "required": ["status", "version", "uptime_s", "listeners"],
                        "properties": {
                            "status": {"type": "string"},
                            "version": {"type": "string"},
                            "uptime_s": {"type": "number"},
                            "listeners": {
                                "type": "object",
                                "additionalProperties": {"type": "string"},
                            },
                        },
                    }
                )
            },
        },
    ),
    # read, not public: it names services and listeners and counts their traffic
    Endpoint("/metrics", metrics, ("GET",), READ),
]
