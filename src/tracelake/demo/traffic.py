"""The demo's load: a steady mix of requests to the gateway, and the fault schedule.

Why both here: they are what the demo *does to* the services, they share one HTTP
client and one clock, and the console line printed at each phase change sums up the
traffic of the phase that ended. They run on one background thread with its own event
loop, so the server's loop in the main thread is not slowed by the load it observes.

The traffic is open-loop (requests leave at the rate whatever the answers take, as
real users do), so a slow payments service shows up as latency and concurrency, not
as fewer requests.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from tracelake.demo.schedule import Phase, Schedule
from tracelake.demo.services.inventory import CATALOG

log = logging.getLogger("tracelake.demo")

#: What users do, with weights: place an order, look one up, list the catalogue.
MIX: dict[str, int] = {"place_order": 5, "get_order": 3, "list_items": 2}
MAX_IN_FLIGHT = 64
CUSTOMERS = 40


@dataclass
class Tally:
    """Answers the gateway gave since the last :meth:`take`."""

    requests: int = 0
    ok: int = 0
    degraded: int = 0
    failed: int = 0
    skipped: int = 0

    def record(self, status: int | None, degraded: bool) -> None:
        self.requests += 1
        if status is None or status >= 500:
            self.failed += 1
        elif degraded:
            self.degraded += 1
        else:
            self.ok += 1

    def take(self) -> Tally:
        """This tally, and start counting again from zero."""
        taken = Tally(self.requests, self.ok, self.degraded, self.failed, self.skipped)
        self.requests = self.ok = self.degraded = self.failed = self.skipped = 0
        return taken

    def __str__(self) -> str:
        text = f"{self.requests} requests: {self.ok} ok, {self.degraded} answered by a fallback, "
        text += f"{self.failed} failed"
        return text + (f", {self.skipped} skipped (too many in flight)" if self.skipped else "")


@dataclass
class Requests:
    """Picks the next request of the mix (sans-IO: the caller sends it)."""

    rng: random.Random = field(default_factory=random.Random)
    placed: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=200))

    def next(self) -> tuple[str, str, dict[str, object] | None]:
        """(method, path, JSON body) of the next request."""
        kind = self.rng.choices(list(MIX), weights=list(MIX.values()))[0]
        if kind == "get_order" and self.placed:
            return "GET", f"/orders/{self.rng.choice(self.placed)}", None
        if kind == "list_items":
            return "GET", "/items", None
        body: dict[str, object] = {
            "sku": self.rng.choice(list(CATALOG)),
            "qty": self.rng.choice((1, 1, 1, 2, 3)),
            "customer": f"cust-{self.rng.randrange(CUSTOMERS):03d}",
        }
        return "POST", "/orders", body


PhaseListener = Callable[[float, Phase, Tally], None]


class Traffic:
    """Sends the mix to the gateway and applies the schedule to payments until stopped.

    Args:
        gateway: Base URL of the gateway.
        payments: Base URL of payments (its ``POST /fault``).
        schedule: The fault schedule; ``None`` sends traffic without faults.
        rate: Requests per second.
        on_phase: Called with (seconds since start, phase, tally of the phase before)
            at each phase change.
    """

    def __init__(
        self,
        gateway: str,
        payments: str,
        schedule: Schedule | None,
        rate: float,
        on_phase: PhaseListener | None = None,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        self.gateway = gateway
        self.payments = payments
        self.schedule = schedule
        self.rate = rate
        self.on_phase = on_phase
        self.tally = Tally()
        self.total = Tally()
        self._requests = Requests()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-traffic", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._started.wait(5)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop sending, let requests in flight finish (bounded), and join the thread."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # loop already closed
                loop.call_soon_threadsafe(stop.set)
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._started.set()
        started = time.monotonic()
        async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=2.0)) as client:
            tasks = [asyncio.create_task(self._send_all(client))]
            if self.schedule is not None:
                tasks.append(asyncio.create_task(self._follow(client, self.schedule, started)))
            await self._stop.wait()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _send_all(self, client: httpx.AsyncClient) -> None:
        rng = self._requests.rng
        in_flight: set[asyncio.Task[None]] = set()
        try:
            next_at = time.monotonic()
            while True:
                next_at += rng.expovariate(self.rate)
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                if len(in_flight) >= MAX_IN_FLIGHT:
                    self.tally.skipped += 1
                    continue
                task = asyncio.create_task(self._send_one(client, *self._requests.next()))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
        finally:
            if in_flight:  # let them finish so their traces are whole
                await asyncio.wait(in_flight, timeout=3.0)
                for task in in_flight:
                    task.cancel()

    async def _send_one(
        self, client: httpx.AsyncClient, method: str, path: str, body: dict[str, object] | None
    ) -> None:
        status: int | None = None
        degraded = False
        try:
            response = await client.request(method, self.gateway + path, json=body)
            status = response.status_code
            answer = response.json() if response.content else {}
            if isinstance(answer, dict):
                degraded = bool(answer.get("degraded") or answer.get("fallback"))
                if method == "POST" and status == 201 and answer.get("order_id"):
                    self._requests.placed.append(str(answer["order_id"]))
        except (httpx.HTTPError, ValueError):
            pass
        for tally in (self.tally, self.total):
            tally.record(status, degraded)

    async def _follow(self, client: httpx.AsyncClient, schedule: Schedule, started: float) -> None:
        for at, phase in schedule.changes():
            await asyncio.sleep(max(0.0, started + at - time.monotonic()))
            await self._apply(client, phase)
            if self.on_phase is not None:
                self.on_phase(at, phase, self.tally.take())

    async def _apply(self, client: httpx.AsyncClient, phase: Phase) -> None:
        for attempt in range(3):
            try:
                response = await client.post(f"{self.payments}/fault", json=phase.fault.as_json())
                response.raise_for_status()
                return
            except httpx.HTTPError as exc:
                if attempt == 2:
                    log.warning(
                        "could not set the fault of phase %r on payments: %s", phase.name, exc
                    )
                await asyncio.sleep(0.5)
