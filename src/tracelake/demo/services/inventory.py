"""inventory: the catalogue and its stock; orders reserves items here.

A leaf service with a little latency of its own and no faults: it is the dependency
that stays healthy while payments does not, so its circuit in orders stays closed.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tracelake.demo.services.app import ASGIApp, build_app, note

#: sku: (name, unit price)
CATALOG: dict[str, tuple[str, float]] = {
    "SKU-KETTLE": ("Kettle", 39.90),
    "SKU-TEAPOT": ("Teapot", 24.50),
    "SKU-MUG": ("Mug", 8.00),
    "SKU-GRINDER": ("Coffee grinder", 89.00),
    "SKU-BEANS": ("Coffee beans 1 kg", 21.75),
}
RESTOCK = 100


def build(downstream: Mapping[str, str]) -> ASGIApp:
    rng = random.Random()
    stock = {sku: RESTOCK // 2 for sku in CATALOG}

    async def items(request: Request) -> JSONResponse:
        await asyncio.sleep(rng.uniform(0.003, 0.015))
        listed = [
            {"sku": sku, "name": name, "price": price, "stock": stock[sku]}
            for sku, (name, price) in CATALOG.items()
        ]
        note(request, "items listed", items=len(listed))
        return JSONResponse({"items": listed})

    async def reserve(request: Request) -> JSONResponse:
        body = await request.json()
        sku, qty, order_id = body.get("sku"), int(body.get("qty", 1)), body.get("order_id")
        await asyncio.sleep(rng.uniform(0.005, 0.03))
        if sku not in CATALOG:
            note(request, "unknown sku", sku=sku, order_id=order_id)
            return JSONResponse({"error": f"no item {sku!r}"}, status_code=404)
        restocked = stock[sku] < qty
        if restocked:
            stock[sku] += RESTOCK
        stock[sku] -= qty
        price = CATALOG[sku][1]
        note(
            request, "stock reserved",
            order_id=order_id, sku=sku, qty=qty, stock_left=stock[sku], restocked=restocked,
        )  # fmt: skip
        return JSONResponse({"reserved": True, "sku": sku, "qty": qty, "price": price})

    routes = [Route("/items", items, methods=["GET"]), Route("/reserve", reserve, methods=["POST"])]
    return build_app("inventory", Starlette(routes=routes))
