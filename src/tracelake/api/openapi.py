"""``GET /api/v1/openapi.json``: the OpenAPI 3 description of the native API.

The description is a file kept beside this module (``openapi.json``), written by hand
and served as it is, so what clients and schemathesis read is exactly what is reviewed.
A test checks that every native route (``/api/v1/…`` and ``/-/…``) is described with
its methods, so a new route cannot ship undescribed. The compatible APIs (OTLP,
Zipkin, Prometheus, Loki, Elasticsearch) are described by their own projects.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

#: Path prefixes of the native API: what the description must cover.
NATIVE_PREFIXES = ("/api/v1/", "/-/")


@cache
def spec_bytes() -> bytes:
    """The description as served (read once)."""
    return resources.files("tracelake.api").joinpath("openapi.json").read_bytes()


def spec() -> dict[str, Any]:
    """The description, parsed."""
    parsed: dict[str, Any] = orjson.loads(spec_bytes())
    return parsed


async def openapi(request: Request) -> Response:
    return Response(spec_bytes(), media_type="application/json")


routes = [Route("/api/v1/openapi.json", openapi, methods=["GET"])]
