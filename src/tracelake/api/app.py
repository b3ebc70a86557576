"""Assemble the Starlette application from the endpoint table (``api/table.py``)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware

from tracelake.api.access import AccessMiddleware, Guard
from tracelake.api.context import AppContext
from tracelake.api.errors import HANDLERS, UnexpectedErrors
from tracelake.api.table import ENDPOINTS


def build_app(ctx: AppContext) -> Starlette:
    guard = Guard(ctx.settings.tokens)  # api/access.py: every route's scope, from the table
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
    return app
