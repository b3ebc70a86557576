"""Assemble the Starlette application from the route modules."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware

from tracelake import ui
from tracelake.api import (
    elasticsearch,
    logs,
    loki,
    meta,
    otlp,
    otlp_logs,
    search,
    sql,
    traces,
    turbine,
    zipkin,
)
from tracelake.api.context import AppContext
from tracelake.api.errors import HANDLERS


def build_app(ctx: AppContext) -> Starlette:
    app = Starlette(
        routes=[
            *meta.routes,
            *logs.routes,
            *search.routes,
            *sql.routes,
            *otlp_logs.routes,
            *loki.routes,
            *elasticsearch.routes,
            *otlp.routes,
            *zipkin.routes,
            *traces.routes,
            *turbine.routes,
            *ui.routes,  # last: API routes win
        ],
        exception_handlers=HANDLERS,
        middleware=[Middleware(GZipMiddleware, minimum_size=4096)],
    )
    app.state.ctx = ctx
    return app
