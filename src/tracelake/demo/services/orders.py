"""orders: places orders by reserving stock in inventory and charging in payments.

The service whose circuits the demo is about: both calls go through a breaker with a
fallback. When payments fails, its circuit opens and orders still answers — the order
is kept with its payment *pending* — instead of failing or waiting on a sick service.
"""

from __future__ import annotations

import collections
import uuid
from collections.abc import Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tracelake.demo import extras
from tracelake.demo.services.app import ASGIApp, build_app, note
from tracelake.demo.services.downstream import Client, Downstream, DownstreamRejected, Json

KEEP_ORDERS = 10_000


def build(downstream: Mapping[str, str]) -> ASGIApp:
    client = Client()
    payments = Downstream("payments", downstream["payments"], client)
    inventory = Downstream("inventory", downstream["inventory"], client)
    orders: collections.OrderedDict[str, Json] = collections.OrderedDict()
    last_items: Json = {"items": []}

    def payment_pending(method: str, path: str, body: Json | None) -> Json:
        return {"status": "pending", "fallback": True}

    def reserve_later(method: str, path: str, body: Json | None) -> Json:
        return {"reserved": False, "price": None, "fallback": True}

    def cached_items(method: str, path: str, body: Json | None) -> Json:
        return {**last_items, "stale": True, "fallback": True}

    async def place(request: Request) -> JSONResponse:
        body = await request.json()
        sku, qty = body.get("sku"), int(body.get("qty", 1))
        order_id = f"ord-{uuid.uuid4().hex[:10]}"
        try:
            stock = await inventory.call(
                "POST", "/reserve", {"sku": sku, "qty": qty, "order_id": order_id},
                fallback=reserve_later,
            )  # fmt: skip
        except DownstreamRejected as exc:
            note(request, "order refused", order_id=order_id, sku=sku, reason=str(exc.body))
            return JSONResponse(exc.body, status_code=exc.status)
        order: dict[str, Any] = {
            "order_id": order_id, "sku": sku, "qty": qty, "customer": body.get("customer"),
        }  # fmt: skip
        if stock.get("fallback"):
            order.update(status="backorder", amount=None, payment="not charged")
        else:
            amount = round(float(stock["price"]) * qty, 2)
            paid = await payments.call(
                "POST", "/charge", {"order_id": order_id, "amount": amount},
                fallback=payment_pending,
            )  # fmt: skip
            order.update(status="placed", amount=amount, payment=paid["status"])
        degraded = bool(stock.get("fallback")) or order["payment"] == "pending"
        orders[order_id] = order
        if len(orders) > KEEP_ORDERS:
            orders.popitem(last=False)
        note(
            request,
            "order placed" if not degraded else "order placed with a fallback",
            degraded=degraded,
            **{k: v for k, v in order.items() if k != "customer"},
        )
        outcome = "payment_pending" if order["payment"] == "pending" else order["status"]
        extras.publish_event(
            "order_placed",
            {k: v for k, v in {**order, "status": outcome}.items() if k != "customer"},
            key=order_id,
        )
        return JSONResponse({**order, "degraded": degraded}, status_code=201)

    async def get(request: Request) -> JSONResponse:
        order_id = request.path_params["order_id"]
        order = orders.get(order_id)
        if order is None:
            note(request, "order not found", order_id=order_id)
            return JSONResponse({"error": f"no order {order_id}"}, status_code=404)
        note(request, "order fetched", order_id=order_id, amount=order["amount"])
        return JSONResponse(order)

    async def items(request: Request) -> JSONResponse:
        nonlocal last_items
        answer = await inventory.call("GET", "/items", fallback=cached_items)
        if not answer.get("fallback"):
            last_items = answer
        note(request, "items listed", degraded=bool(answer.get("fallback")))
        return JSONResponse(answer)

    routes = [
        Route("/orders", place, methods=["POST"]),
        Route("/orders/{order_id}", get, methods=["GET"]),
        Route("/items", items, methods=["GET"]),
    ]
    return build_app(
        "orders", Starlette(routes=routes), on_startup=client.open, on_shutdown=client.close
    )
