"""payments: charges an order's amount; the service the fault schedule degrades.

``POST /fault`` (``{"error_rate": 0.6, "latency_ms": 800}``) sets how often a charge
fails and how much later every charge answers; ``GET /fault`` reads it back. The
demo's schedule drives it, and so can anyone with curl.

``demo_charges_total{outcome="captured"|"failed"}`` counts the charges on ``/metrics``:
the series the demo's PromQL alert rule reads once the server has scraped them.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import Mapping

from prometheus_client import Counter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tracelake.demo import extras
from tracelake.demo.faults import Fault, FaultError
from tracelake.demo.services.app import ASGIApp, build_app, note

CHARGES = Counter("demo_charges", "Charges answered, by outcome", ["outcome"])
OUTCOMES = ("captured", "failed")


def build(downstream: Mapping[str, str]) -> ASGIApp:
    rng = random.Random()
    fault = Fault()
    for outcome in OUTCOMES:
        # Exported at 0 from the start: the first failure is then an increase that
        # rate() sees at the next scrape, not the birth of a series it cannot rate yet.
        CHARGES.labels(outcome)

    async def charge(request: Request) -> JSONResponse:
        body = await request.json()
        order_id, amount = body.get("order_id"), body.get("amount")
        delay, fails = fault.draw(rng)
        await asyncio.sleep(rng.uniform(0.02, 0.06) + delay)
        CHARGES.labels("failed" if fails else "captured").inc()
        if fails:
            note(
                request, "charge failed: card processor timed out",
                order_id=order_id, amount=amount, injected_latency_ms=round(delay * 1000),
            )  # fmt: skip
            extras.publish_event(
                "payment_failed", {"order_id": order_id, "amount": amount}, key=order_id
            )
            return JSONResponse({"error": "card processor timed out"}, status_code=503)
        charge_id = f"ch-{uuid.uuid4().hex[:12]}"
        note(request, "payment captured", order_id=order_id, amount=amount, charge_id=charge_id)
        return JSONResponse({"status": "captured", "charge_id": charge_id, "amount": amount})

    async def get_fault(request: Request) -> JSONResponse:
        note(request, "fault read", error_rate=fault.error_rate, latency_ms=fault.latency_ms)
        return JSONResponse(fault.as_json())

    async def set_fault(request: Request) -> JSONResponse:
        nonlocal fault
        try:
            fault = Fault.from_json(json.loads(await request.body() or b"{}"))
        except (FaultError, ValueError) as exc:
            note(request, "fault refused", error=str(exc))
            return JSONResponse({"error": str(exc)}, status_code=400)
        message = "fault cleared" if fault.healthy else "fault injected"
        note(request, message, error_rate=fault.error_rate, latency_ms=fault.latency_ms)
        return JSONResponse(fault.as_json())

    routes = [
        Route("/charge", charge, methods=["POST"]),
        Route("/fault", get_fault, methods=["GET"]),
        Route("/fault", set_fault, methods=["POST"]),
    ]
    return build_app("payments", Starlette(routes=routes))
