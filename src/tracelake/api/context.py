"""What routes need from the running server, handed over by ``server.py``."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request

from tracelake.alerting.manager import AlertManager
from tracelake.ingest.submit import Ingest
from tracelake.metrics.scrape import Scraper
from tracelake.query.promql import PromQLEngine
from tracelake.registry.keeper import RegistryKeeper
from tracelake.registry.state import Registry
from tracelake.settings import Settings
from tracelake.store import Store
from tracelake.telemetry import ServerMetrics
from tracelake.turbine.hub import TurbineHub


@dataclass(slots=True)
class RunState:
    """What changes while the server runs: ``Server.run`` sets it, the meta routes read it."""

    ready: bool = False
    started_at: float = 0.0
    #: Every listener's address by name (``http``, ``jsonlines/tcp`` …), once it listens.
    listeners: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AppContext:
    """Every part a route may use, each built before the app: none is missing.

    A part that configuration can turn off (the scraper, alerting without rules) says so
    itself; a route never has to ask whether a part is there.
    """

    settings: Settings
    store: Store
    ingest: Ingest
    metrics: ServerMetrics
    promql: PromQLEngine
    alerts: AlertManager
    registry: Registry
    registry_keeper: RegistryKeeper
    turbine: TurbineHub
    scraper: Scraper
    state: RunState


def context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx
