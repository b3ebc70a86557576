"""``GET /turbine.stream?cluster=NAME``: a cluster's Hystrix streams aggregated, as Turbine.

Why: one URL for the Hystrix Dashboard per cluster instead of one per instance; the
numbers are summed by Turbine's rules (``tracelake.turbine.aggregate``). Served like
Turbine 1.x: missing ``cluster`` means ``default``, an unknown one is 404 ``Cluster not
found``, ``type=HystrixCommand,HystrixThreadPool`` filters, ``delay`` is accepted and
ignored (every client gets the cluster's 500 ms tick), and each tick ends with a
``: ping`` comment so proxies and clients see the connection alive.

``GET /api/v1/turbine/overview`` is every cluster at once, for the Circuits page's
overview: one stream (a browser holds only a few connections per server) carrying each
cluster's ticks as ``data: {"cluster": NAME, "events": [...]}``, after a first
``data: {"clusters": [...]}``. The clusters are those of ``turbine_clusters`` and the
registered services with a Hystrix stream, looked up again every few seconds. With no
cluster it ends after its first frame and asks the browser to come back in 5 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

import orjson
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from tracelake.api.context import context
from tracelake.api.endpoints import READ, Endpoint
from tracelake.turbine.hub import PING, Subscription, Tick, TurbineHub
from tracelake.turbine.registry_source import RegistrySource

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


#: How often the overview looks for clusters that appeared.
RELIST_S = 5.0
#: Frames the overview may fall behind by before the oldest are dropped.
OVERVIEW_BACKLOG = 64


def cluster_frame(cluster: str, tick: Tick) -> bytes:
    """One cluster's tick as one overview frame; the events are spliced, not re-encoded."""
    events = b",".join(data.removeprefix(b"data: ").rstrip(b"\n") for _, data in tick)
    return b'data: {"cluster":' + orjson.dumps(cluster) + b',"events":[' + events + b"]}\n\n"


async def _overview_frames(hub: TurbineHub, known: Callable[[], list[str]]) -> AsyncIterator[bytes]:
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(OVERVIEW_BACKLOG)
    pumps: dict[str, asyncio.Task[None]] = {}

    def put(frame: bytes | None) -> None:
        if queue.full():
            queue.get_nowait()
        queue.put_nowait(frame)

    async def pump(cluster: str, sub: Subscription) -> None:
        try:
            async for tick in sub:
                put(cluster_frame(cluster, tick))
        finally:
            sub.close()
            put(None)  # wakes the loop to see whether any cluster is left

    async def join_new() -> bool:
        added = False
        for cluster in known():
            if cluster not in pumps:
                sub = await hub.subscribe(cluster)
                if sub is not None:
                    pumps[cluster] = asyncio.create_task(pump(cluster, sub))
                    added = True
        return added

    try:
        await join_new()
        yield b'data: {"clusters":' + orjson.dumps(sorted(pumps)) + b"}\n\n"
        if not pumps:
            yield b"retry: 5000\n\n"
            return
        relist_at = time.monotonic() + RELIST_S
        while any(not task.done() for task in pumps.values()):
            with contextlib.suppress(TimeoutError):
                frame = await asyncio.wait_for(queue.get(), RELIST_S)
                if frame is not None:
                    yield frame
            if time.monotonic() >= relist_at:
                relist_at = time.monotonic() + RELIST_S
                if await join_new():
                    yield b'data: {"clusters":' + orjson.dumps(sorted(pumps)) + b"}\n\n"
    finally:
        for task in pumps.values():
            task.cancel()
        await asyncio.gather(*pumps.values(), return_exceptions=True)


async def overview_stream(request: Request) -> Response:
    ctx = context(request)
    registered = RegistrySource(ctx.registry)

    def known() -> list[str]:
        return sorted(set(ctx.settings.turbine_clusters) | registered.clusters())

    return StreamingResponse(
        _overview_frames(ctx.turbine, known),
        media_type="text/event-stream;charset=UTF-8",
        headers=HEADERS,
    )


endpoints = [
    Endpoint("/turbine.stream", turbine_stream, ("GET", "POST"), READ),
    Endpoint(
        "/api/v1/turbine/overview",
        overview_stream,
        ("GET",),
        READ,
        doc={
            "operationId": "turbineOverview",
            "summary": "Every cluster's Hystrix events in one event stream: first"
            ' {"clusters": [...]}, then {"cluster": NAME, "events": [...]} per cluster tick',
            "tags": ["turbine"],
            "responses": {
                "200": {
                    "description": "an endless text/event-stream",
                    "content": {"text/event-stream": {"schema": {"type": "string"}}},
                }
            },
        },
    ),
]
