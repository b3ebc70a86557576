"""``Endpoint``: one HTTP route declared once, with who may call it and how it is described.

Each route module exports ``endpoints = [...]``; ``app.py`` lists them in the order
the router tries them, and everything else is derived from that one table: the Starlette
routes, the access rules (enforced by ``api/access.py``) and the OpenAPI document of the
native API (``api/openapi.py``). A route cannot be served without a scope, and a
scope cannot name a route that does not exist.

Scopes: ``public`` (anyone: readiness, liveness, the login page, static assets),
``ingest`` (write only), ``read`` (everything that returns data), ``admin``
(configuration changes; an admin token may also do everything else).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

Access = Literal["public", "ingest", "read", "admin"]
PUBLIC: Final = "public"
INGEST: Final = "ingest"
READ: Final = "read"
ADMIN: Final = "admin"
#: The method of a rule that covers every method of its path.
ANY: Final = "*"

#: An OpenAPI 3 operation object (summary, parameters, requestBody, responses).
Operation = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A route: its path template, what serves it, the methods it answers, the scope a
    token needs for it, and (native API) its OpenAPI operation.

    ``any_method``: the scope holds for every method of the path, so a method the route
    does not serve is answered 405 by the router rather than 403 by the guard (the
    Elasticsearch handshake, whose clients probe with several). ``mount``: ``handler`` is
    an ASGI app serving everything under ``path`` (the static assets). ``websocket``:
    ``handler`` takes a WebSocket; its upgrade request is checked as a GET.
    """

    path: str
    handler: Callable[..., Any]
    methods: tuple[str, ...]
    scope: Access
    doc: Operation | None = None
    any_method: bool = False
    mount: bool = False
    websocket: bool = False

    def __post_init__(self) -> None:
        if self.doc is not None and len(self.methods) != 1:
            # one operation object, one operationId: a second method needs its own
            raise ValueError(f"{self.path}: a described endpoint serves one method")

    def route(self) -> BaseRoute:
        """The Starlette route serving this endpoint."""
        if self.mount:
            return Mount(self.path, app=self.handler)
        if self.websocket:
            return WebSocketRoute(self.path, self.handler)
        return Route(self.path, self.handler, methods=list(self.methods))

    def rules(self) -> Iterator[tuple[str, str, str]]:
        """(method, path template, scope) for the guard; HEAD is checked as GET."""
        if self.mount:
            yield from ((m, self.path + "/{path:path}", self.scope) for m in self.methods)
        elif self.any_method:
            yield ANY, self.path, self.scope
        else:
            yield from ((m, self.path, self.scope) for m in self.methods if m != "HEAD")
