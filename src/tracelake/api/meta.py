"""Readiness, liveness and the server's own metrics."""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracelake import __version__
from tracelake.api.context import context
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


routes = [
    Route("/-/ready", ready, methods=["GET"]),
    Route("/-/health", health, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
]
