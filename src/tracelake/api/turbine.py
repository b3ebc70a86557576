"""``GET /turbine.stream?cluster=NAME``: a cluster's Hystrix streams aggregated, as Turbine.

Why: one URL for the Hystrix Dashboard per cluster instead of one per instance; the
numbers are summed by Turbine's rules (``tracelake.turbine.aggregate``). Served like
Turbine 1.x: missing ``cluster`` means ``default``, an unknown one is 404 ``Cluster not
found``, ``type=HystrixCommand,HystrixThreadPool`` filters, ``delay`` is accepted and
ignored (every client gets the cluster's 500 ms tick), and each tick ends with a
``: ping`` comment so proxies and clients see the connection alive.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from tracelake.api.context import context
from tracelake.api.endpoints import READ, Endpoint
from tracelake.turbine.hub import PING, Subscription

HEADERS = {
    "Cache-Control": "no-cache, no-store, max-age=0, must-revalidate",
    "Pragma": "no-cache",
    "X-Accel-Buffering": "no",
}


async def _frames(sub: Subscription, types: frozenset[str]) -> AsyncIterator[bytes]:
    try:
        yield PING  # headers and a first byte now, not after the first tick
        async for tick in sub:
            parts = [data for kind, data in tick if not types or kind in types]
            parts.append(PING)
            yield b"".join(parts)
    finally:
        sub.close()


async def turbine_stream(request: Request) -> Response:
    hub = context(request).turbine
    cluster = request.query_params.get("cluster") or "default"
    sub = await hub.subscribe(cluster)
    if sub is None:
        return PlainTextResponse("Cluster not found", status_code=404)
    raw = request.query_params.get("type", "")
    types = frozenset(t.strip() for t in raw.split(",") if t.strip())
    return StreamingResponse(
        _frames(sub, types),
        media_type="text/event-stream;charset=UTF-8",
        headers=HEADERS,
    )


endpoints = [Endpoint("/turbine.stream", turbine_stream, ("GET", "POST"), READ)]
