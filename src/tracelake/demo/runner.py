"""``tracelake demo`` end to end: the server, the four services, the traffic, the stop.

Why its own module: the order of things is the point. Start: the server (in this
process, as ``tracelake serve`` runs it) until ``/-/ready``, then the services
(callees first), then the traffic and the fault schedule. Stop — on Ctrl-C, SIGTERM
or ``--duration`` — in the reverse order: the traffic, then the services (they flush
their last logs and spans to a server that is still listening), then the server
(which flushes its memtable to the lake). No child process outlives the demo.

The server handles SIGINT/SIGTERM itself by stopping at once. Here the event loop
holds those handlers back (:class:`DemoLoop`) and the demo calls them when the
services are down, so a Ctrl-C loses nothing the services were still sending.
"""

from __future__ import annotations

import asyncio
import functools
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVarTuple
from urllib.parse import quote

import httpx
from rich.console import Console

from tracelake.demo.config import CONFIG_DIR, demo_settings
from tracelake.demo.fleet import Fleet, Service
from tracelake.demo.schedule import Phase, Schedule
from tracelake.demo.traffic import Tally, Traffic
from tracelake.errors import TracelakeError
from tracelake.settings import Settings

if TYPE_CHECKING:
    from tracelake.server import Server

SIGNALS = (signal.SIGINT, signal.SIGTERM)
Ts = TypeVarTuple("Ts")


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """What ``tracelake demo`` was asked for besides the server's settings."""

    traffic: bool = True
    duration: float | None = None
    speed: float = 1.0
    rate: float = 5.0


class DemoLoop(asyncio.SelectorEventLoop):
    """An event loop that can hold back signal handlers installed while ``holding``.

    The held handlers are run by :meth:`release`: the demo gets SIGINT/SIGTERM first
    and hands them on to the server when it is ready for the server to stop.
    """

    def __init__(self) -> None:
        super().__init__()
        self.holding = False
        self._held: dict[int, Callable[[], object]] = {}

    def add_signal_handler(self, sig: int, callback: Callable[[*Ts], object], *args: *Ts) -> None:
        if self.holding:
            self._held[sig] = functools.partial(callback, *args)
            return
        super().add_signal_handler(sig, callback, *args)

    def release(self, sig: int) -> None:
        """Run the handler held back for ``sig``, if one was."""
        handler = self._held.get(sig)
        if handler is not None:
            handler()


def local_url(host: str, port: int) -> str:
    """A URL this machine's clients reach a server bound to ``host`` with."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def run_demo(
    settings: Settings,
    options: DemoOptions,
    console: Console | None = None,
    flags: Mapping[str, Any] | None = None,
) -> None:
    """Run the demo until Ctrl-C, SIGTERM or ``options.duration``; then stop everything.
    ``flags``: settings given on the command line, above the demo's own config."""
    demo = Demo(demo_settings(settings, flags), options, console or Console())
    with asyncio.Runner(loop_factory=DemoLoop) as runner:
        runner.run(demo.main())


class Demo:
    def __init__(self, settings: Settings, options: DemoOptions, console: Console) -> None:
        self.settings = settings
        self.options = options
        self.console = console
        self.schedule = Schedule(speed=options.speed)
        self._stop = asyncio.Event()

    def _signalled(self, sig: int) -> None:
        if not self._stop.is_set():
            self.console.print(f"\n{signal.Signals(sig).name}: stopping traffic, services, server")
        self._stop.set()

    async def main(self) -> None:
        from tracelake.server import Server

        loop = asyncio.get_running_loop()
        if not isinstance(loop, DemoLoop):
            raise RuntimeError("run the demo with run_demo(): it needs a DemoLoop")
        for sig in SIGNALS:
            loop.add_signal_handler(sig, self._signalled, sig)
        loop.holding = True  # the server's own handlers wait until the services are down
        server = Server(self.settings)
        ready = asyncio.Event()
        serving = asyncio.create_task(server.run(on_ready=lambda _: ready.set()))
        waiting = asyncio.create_task(ready.wait())
        await asyncio.wait({serving, waiting}, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        if serving.done():  # it could not start: its error says why
            serving.result()
            return
        loop.holding = False
        url = local_url(self.settings.host, _port(server))
        fleet = Fleet(url)
        traffic: Traffic | None = None
        try:
            await asyncio.to_thread(_wait_ready, url)
            services = {} if self._stop.is_set() else await asyncio.to_thread(fleet.start)
            if not self._stop.is_set():
                self._print_ready(url, services, server.state.listeners)
                if self.options.traffic:
                    traffic = Traffic(
                        services["gateway"].url,
                        services["payments"].url,
                        self.schedule,
                        self.options.rate,
                        on_phase=self._print_phase,
                    )
                    traffic.start()
                await self._wait_for_stop(serving)
        finally:
            if traffic is not None:
                await asyncio.to_thread(traffic.stop)
            await asyncio.to_thread(fleet.stop)
            loop.release(signal.SIGTERM)
            await serving
        if traffic is not None:
            self.console.print(f"demo stopped after {traffic.total}")
        else:
            self.console.print("demo stopped")

    async def _wait_for_stop(self, serving: asyncio.Task[None]) -> None:
        stopping = asyncio.create_task(self._stop.wait())
        await asyncio.wait(
            {stopping, serving}, timeout=self.options.duration, return_when=asyncio.FIRST_COMPLETED
        )
        stopping.cancel()
        if not self._stop.is_set() and not serving.done():
            self.console.print(f"--duration {self.options.duration:g} s reached: stopping")

    def _print_ready(
        self, url: str, services: dict[str, Service], listeners: Mapping[str, str]
    ) -> None:
        print_ = self.console.print
        print_(f"[bold green]tracelake demo[/] ready: UI [link={url}/]{url}/[/link]  "
               f"(data in {self.settings.data_dir})")  # fmt: skip
        streams = ", ".join(f"{k} {v}" for k, v in listeners.items() if k != "http")
        if streams:
            print_(f"  log streams: {streams}")
        for service in services.values():
            print_(
                f"  {service.name:<10} {service.url}  (pid {service.pid})  "
                f"{service.url}/hystrix.stream  {service.url}/metrics"
            )
        if self.options.traffic:
            timeline = ", ".join(
                f"{phase.at / self.options.speed:g} s {phase.name}"
                for phase in self.schedule.phases
            )
            print_(
                f"  traffic: ~{self.options.rate:g} requests/s to the gateway; payments: {timeline} "
                f"(repeats every {self.schedule.cycle / self.options.speed:g} s)"
            )
        else:
            print_(f"  no traffic: send requests to {services['gateway'].url}/orders yourself")
        if self.settings.host not in ("127.0.0.1", "::1", "localhost"):
            print_(
                f"[yellow]the server listens on {self.settings.host}: every address that "
                "reaches it can read and write"
            )
        for line in what_to_look_at(url, services["orders"].url):
            print_(line, soft_wrap=True)
        config = self.settings.data_path.resolve() / CONFIG_DIR
        print_(f"  the demo's settings and alert rules: {config}/tracelake.toml, rules.yml")
        print_("  Ctrl-C stops everything.")

    def _print_phase(self, at: float, phase: Phase, before: Tally) -> None:
        line = f"[{at:5.0f} s] [bold]{phase.name}[/]: {phase.note}"
        if before.requests:
            line += f"\n          (phase before: {before})"
        self.console.print(line)


#: Orders per minute by status: the continuous query's windows in the ``derived`` table.
ORDERS_PER_MINUTE = (
    "SELECT timestamp AS minute, json_extract_string(labels, '$.status') AS status, "
    "value AS orders FROM derived "
    "WHERE query = 'orders_per_minute' AND aggregate = 'orders' ORDER BY minute DESC, status"
)
#: The same from the raw business events, for servers without continuous queries.
ORDERS_PER_MINUTE_RAW = (
    "SELECT date_trunc('minute', timestamp) AS minute, "
    "json_extract_string(payload, '$.status') AS status, count(*) AS orders "
    "FROM events WHERE type = 'order_placed' GROUP BY ALL ORDER BY minute DESC, status"
)
#: Requests per second by service and status, from the services' scraped /metrics.
REQUEST_RATE = "sum by (service, status) (rate(demo_requests_total[1m]))"


def what_to_look_at(url: str, orders_url: str) -> list[str]:
    """The short tour printed once the demo is up."""
    errors = "level:error service:payments"
    return [
        "  what to look at:",
        f"    Logs      {errors}   {url}/#/logs?q={quote(errors)}",
        f"    Traces    a slow trace: service gateway, 800 ms and more   {url}/#/traces"
        f"  (API: {url}/api/v2/traces?serviceName=gateway&minDuration=800000)",
        f"    Metrics   request rate by service and status (PromQL), and RED of payments   "
        f"{url}/#/metrics?service=payments&q={quote(REQUEST_RATE)}",
        f"    Circuits  cluster orders: its payments circuit opens and closes   "
        f"{url}/#/circuits?cluster=orders  (orders' own stream: {orders_url}/hystrix.stream)",
        f"    Alerts    PaymentsFailing (logs), PaymentsChargeErrors (PromQL) and "
        f"PaymentsCircuitOpen (breaker) go pending, fire, then resolve   {url}/#/alerts",
        f"    Services  the four services in the registry, with their heartbeats   "
        f"{url}/#/services",
        f"    SQL       orders per minute by status   {url}/#/lake?sql={quote(ORDERS_PER_MINUTE)}"
        f"  (from the raw events: {url}/#/lake?sql={quote(ORDERS_PER_MINUTE_RAW)})",
    ]


def _port(server: Server) -> int:
    return int(server.state.listeners["http"].rsplit(":", 1)[1])


def _wait_ready(url: str, timeout: float = 30.0) -> None:
    """``GET /-/ready`` answers 200: what services and users may rely on."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/-/ready", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise TracelakeError(f"the server at {url} did not become ready in {timeout:g} s")
        time.sleep(0.1)
