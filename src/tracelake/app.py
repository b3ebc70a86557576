"""The Starlette application: every endpoint of the server, and what derives from them.

``ENDPOINTS`` lists each module's endpoints in the order the router tries them (order
matters where paths overlap: the first route whose path and method match serves the
request). The routes, the access rules (``RULES``, enforced by ``api/access.py``) and
the OpenAPI document (``api/openapi.py``) are all derived from it here, so a route is
declared once, in its own module; a new module is one line in ``ENDPOINTS``.

It sits above ``api`` and ``ui`` because it assembles both.
"""

from __future__ import annotations

import orjson
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
    silences,
    sql,
    targets,
    traces,
    turbine,
    zipkin,
)
from tracelake.api.access import AccessMiddleware, Guard
from tracelake.api.context import AppContext
from tracelake.api.endpoints import Endpoint
from tracelake.api.errors import HANDLERS, UnexpectedErrors
from tracelake.ui import login

ENDPOINTS: tuple[Endpoint, ...] = (
    *meta.endpoints,
    *alerts.endpoints,  # before prometheus: /prometheus/api/v1/{alerts,rules} are its
    *silences.endpoints,
    *logs.endpoints,
    *search.endpoints,
    *sql.endpoints,
    *events.endpoints,
    *lake.endpoints,
    *loki_query.endpoints,  # Loki's query API: LogQL (docs/loki.md)
    *loki.endpoints,
    *elasticsearch.endpoints,
    *otlp.endpoints,
    *zipkin.endpoints,
    *traces.endpoints,
    *turbine.endpoints,
    *targets.endpoints,  # before prometheus: /prometheus/api/v1/targets is its
    *prometheus.endpoints,
    *registry.endpoints,
    *prometheus_write.endpoints,
    *openapi.endpoints,
    *login.endpoints,
    *ui.endpoints,  # last: API routes win
)

#: (method, route path as declared in its module, scope), in the router's order.
RULES: tuple[tuple[str, str, str], ...] = tuple(
    rule for endpoint in ENDPOINTS for rule in endpoint.rules()
)

#: The OpenAPI description of the native API, as ``GET /api/v1/openapi.json`` serves it.
OPENAPI: bytes = orjson.dumps(openapi.document(ENDPOINTS))


def build_app(ctx: AppContext) -> Starlette:
    guard = Guard(ctx.settings.tokens, rules=RULES)
    app = Starlette(
        routes=[endpoint.route() for endpoint in ENDPOINTS],
        exception_handlers=HANDLERS,
        middleware=[
            Middleware(UnexpectedErrors),  # outermost: a 500 keeps the connection open
            Middleware(AccessMiddleware, guard=guard),
            Middleware(GZipMiddleware, minimum_size=4096),
        ],
    )
    app.state.ctx = ctx
    app.state.guard = guard
    app.state.openapi = OPENAPI
    return app
