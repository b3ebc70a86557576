"""Assemble the Starlette application from the route modules."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware

from tracelake import ui
from tracelake.api import (
    alerts,
    elasticsearch,
    events,
    lake,
    logs,
    loki,
    loki_query,
    meta,
    openapi,
    otlp,
    prometheus,
    prometheus_write,
    registry,
    search,
    sql,
    traces,
    turbine,
    zipkin,
)
from tracelake.api.access import AccessMiddleware, Guard
from tracelake.api.context import AppContext
from tracelake.api.errors import HANDLERS, UnexpectedErrors
from tracelake.ui import login


def build_app(ctx: AppContext) -> Starlette:
    guard = Guard(ctx.settings.tokens)  # api/access.py: every route's scope
    app = Starlette(
        routes=[
            *meta.routes,
            *alerts.routes,  # before prometheus: /prometheus/api/v1/{alerts,rules} are its
            *logs.routes,
            *search.routes,
            *sql.routes,
            *events.routes,
            *lake.routes,
            *loki_query.routes,  # Loki's query API: LogQL (docs/loki.md)
            *loki.routes,
            *elasticsearch.routes,
            *otlp.routes,
            *zipkin.routes,
            *traces.routes,
            *turbine.routes,
            *prometheus.routes,
            *registry.routes,
            *prometheus_write.routes,
            *openapi.routes,
            *login.routes,
            *ui.routes,  # last: API routes win
        ],
        exception_handlers=HANDLERS,
        middleware=[
            Middleware(UnexpectedErrors),  # outermost: a 500 keeps the connection open
            Middleware(AccessMiddleware, guard=guard),
            Middleware(GZipMiddleware, minimum_size=4096),
        ],
    )
    app.state.ctx = ctx
    app.state.guard = guard
    return app
