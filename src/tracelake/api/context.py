"""What routes need from the running server, handed over by ``server.py``."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request

from tracelake.alerting.manager import AlertManager
from tracelake.ingest.submit import Ingest
from tracelake.query.promql import PromQLEngine
from tracelake.registry.keeper import RegistryKeeper
from tracelake.registry.state import Registry
from tracelake.settings import Settings
from tracelake.store import Store
from tracelake.telemetry import ServerMetrics
from tracelake.turbine.hub import TurbineHub


@dataclass(slots=True)
class AppContext:
    settings: Settings
    store: Store
    ingest: Ingest
    metrics: ServerMetrics
    ready: bool = False
    started_at: float = 0.0
    listeners: dict[str, str] = field(default_factory=dict)
    turbine: TurbineHub | None = None
    promql: PromQLEngine | None = None
    alerts: AlertManager | None = None
    registry: Registry | None = None
    registry_keeper: RegistryKeeper | None = None


def context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx
