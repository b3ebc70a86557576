"""Every endpoint of the server, in the order the router tries them.

The one table the routes (``api/app.py``), the access rules (``api/access.py``) and the
OpenAPI document (``api/openapi.py``) are derived from. A route is declared in its own
module's ``endpoints``; a new module is one line here. Order matters where paths
overlap: the first route whose path and method match serves the request.
"""

from __future__ import annotations

from tracelake import ui
from tracelake.api import (
    alerts,
    elasticsearch,
    events,
    lake,
    logs,
    loki,
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
from tracelake.api.endpoints import Endpoint
from tracelake.ui import login

ENDPOINTS: tuple[Endpoint, ...] = (
    *meta.endpoints,
    *alerts.endpoints,  # before prometheus: /prometheus/api/v1/{alerts,rules} are its
    *logs.endpoints,
    *search.endpoints,
    *sql.endpoints,
    *events.endpoints,
    *lake.endpoints,
    *loki.endpoints,
    *elasticsearch.endpoints,
    *otlp.endpoints,
    *zipkin.endpoints,
    *traces.endpoints,
    *turbine.endpoints,
    *prometheus.endpoints,
    *registry.endpoints,
    *prometheus_write.endpoints,
    *openapi.endpoints,
    *login.endpoints,
    *ui.endpoints,  # last: API routes win
)
