"""gateway: the edge the traffic arrives at; every request goes on to orders.

Its circuit guards orders as a whole: orders answers with its own fallbacks when
payments fails, so this circuit stays closed — the failure is contained one level down.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tracelake.demo.services.app import ASGIApp, build_app, note
from tracelake.demo.services.downstream import Client, Downstream, DownstreamRejected, Json

UNAVAILABLE = {"error": "orders is unavailable; try again shortly", "fallback": True}


def build(downstream: Mapping[str, str]) -> ASGIApp:
    client = Client()
    orders = Downstream("orders", downstream["orders"], client)
    last_items: Json = {"items": []}

    def unavailable(method: str, path: str, body: Json | None) -> Json:
        return dict(UNAVAILABLE)

    def cached_items(method: str, path: str, body: Json | None) -> Json:
        return {**last_items, "stale": True, "fallback": True}

    async def place(request: Request) -> JSONResponse:
        body = await request.json()
        try:
            answer = await orders.call("POST", "/orders", body, fallback=unavailable)
        except DownstreamRejected as exc:
            note(request, "order refused", sku=body.get("sku"), status=exc.status)
            return JSONResponse(exc.body, status_code=exc.status)
        if answer.get("error"):
            note(request, "order not taken: orders unavailable", degraded=True)
            return JSONResponse(answer, status_code=503, headers={"Retry-After": "5"})
        note(
            request,
            "order submitted",
            degraded=bool(answer.get("degraded")),
            order_id=answer.get("order_id"),
            amount=answer.get("amount"),
            payment=answer.get("payment"),
        )
        return JSONResponse(answer, status_code=201)

    async def get(request: Request) -> JSONResponse:
        order_id = request.path_params["order_id"]
        try:
            answer = await orders.call("GET", f"/orders/{order_id}", fallback=unavailable)
        except DownstreamRejected as exc:
            note(request, "order not found", order_id=order_id)
            return JSONResponse(exc.body, status_code=exc.status)
        if answer.get("error"):
            note(request, "order lookup failed: orders unavailable", order_id=order_id)
            return JSONResponse(answer, status_code=503, headers={"Retry-After": "5"})
        note(request, "order looked up", order_id=order_id, amount=answer.get("amount"))
        return JSONResponse(answer)

    async def items(request: Request) -> JSONResponse:
        nonlocal last_items
        answer = await orders.call("GET", "/items", fallback=cached_items)
        if not answer.get("fallback"):
            last_items = answer
        count = len(answer.get("items", []))
        note(request, "items listed", degraded=bool(answer.get("fallback")), items=count)
        return JSONResponse(answer)

    routes = [
        Route("/orders", place, methods=["POST"]),
        Route("/orders/{order_id}", get, methods=["GET"]),
        Route("/items", items, methods=["GET"]),
    ]
    return build_app(
        "gateway", Starlette(routes=routes), on_startup=client.open, on_shutdown=client.close
    )
