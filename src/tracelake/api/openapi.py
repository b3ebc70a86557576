"""``GET /api/v1/openapi.json``: the OpenAPI 3 description of the native API, derived.

Each native route (``/api/v1/…`` and ``/-/…``) carries its operation beside its handler
(``Endpoint.doc``, see ``api/endpoints.py``); this module adds the part they share (info,
the error answers and schemas they refer to) and what follows from the route's scope and
from the server rather than from the handler: a public route needs no token, every other
one may answer 401 and 403; a route that reads a body may answer 408, and any route 431
(``api/connections.py``). A test checks that every native route is described with its
methods, and schemathesis fuzzes the server from this document. The compatible APIs
(OTLP, Zipkin, Prometheus, Loki, Elasticsearch) are described by their own projects.

The route modules write their operations with the helpers below (``schema``,
``answer``, ``error_answers``, ``query_param``...).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tracelake.api.endpoints import PUBLIC, Endpoint, Operation

#: Path prefixes of the native API: what the description must cover.
NATIVE_PREFIXES = ("/api/v1/", "/-/")

#: How ``api/params.parse_time`` reads a time.
TIME = {"type": "string", "description": "now, -15m / -2h / -7d, ISO 8601, or epoch seconds/ms"}

#: Ingest bodies may be gzipped.
CONTENT_ENCODING = {
    "name": "Content-Encoding",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "enum": ["gzip", "identity"]},
}


def schema(name: str) -> dict[str, Any]:
    """A reference to one of ``components.schemas``."""
    return {"$ref": f"#/components/schemas/{name}"}


def json_content(body: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": body}}


def answer(body: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    """A JSON answer with ``body`` as its schema."""
    return {"description": description, "content": json_content(body)}


def query_param(name: str, description: str, param: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": param,
    }


def path_param(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
    }


def ndjson_or_json(item: str, description: str) -> dict[str, Any]:
    """An ingest ``requestBody``: NDJSON, or JSON: an array of ``item`` objects or one."""
    return {
        "required": True,
        "description": description,
        "content": {
            "application/x-ndjson": {
                "schema": {"type": "string", "description": "one JSON object per line"}
            },
            **json_content({"oneOf": [{"type": "array", "items": schema(item)}, schema(item)]}),
        },
    }


def _error(description: str, **more: Any) -> dict[str, Any]:
    return {**answer(schema("Error"), description), **more}


#: The error answers operations name, with their status.
ERRORS: dict[str, tuple[int, dict[str, Any]]] = {
    "BadRequest": (400, _error("the request is not usable; the message says what and where")),
    "Unauthorized": (
        401,
        _error("no valid token", headers={"WWW-Authenticate": {"schema": {"type": "string"}}}),
    ),
    "Forbidden": (403, _error("the token lacks the scope this route needs")),
    "NotFound": (404, _error("no such thing")),
    "RequestTimeout": (
        408,
        _error("the body did not arrive within http_body_timeout_s; the connection is closed"),
    ),
    "PayloadTooLarge": (
        413,
        _error("the body, a line or a record is over its limit; the message names the limit"),
    ),
    "AnswerTooLarge": (
        413,
        _error("the answer is over query_max_answer_bytes: narrow the query or its time range"),
    ),
    "HeaderFieldsTooLarge": (
        431,
        _error(
            "the request headers are over http_max_header_bytes or http_max_headers;"
            " the connection is closed"
        ),
    ),
    "Overloaded": (
        503,
        _error(
            "ingest is behind, the disk is under its free-space floor, or every query slot"
            " is busy: retry after Retry-After",
            headers={"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}},
        ),
    ),
    "QueryTimeout": (504, _error("the query ran past query_timeout_s")),
}


def error_answers(*names: str) -> dict[str, Any]:
    """``responses`` entries for the named error answers, keyed by their status."""
    return {str(ERRORS[n][0]): {"$ref": f"#/components/responses/{n}"} for n in names}


_TIMESTAMP = {"oneOf": [{"type": "string"}, {"type": "number"}]}
_INSTANCE_FIELDS = {
    "service": {"type": "string"},
    "instance_id": {"type": "string"},
    "host": {"type": "string"},
}
_OPTIONAL_PATHS = {
    "hystrix_stream_path": {"type": "string", "nullable": True},
    "health_path": {"type": "string", "nullable": True},
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {"type": "string"},
            "column": {"type": "integer", "description": "search syntax errors: 1-based column"},
        },
    },
    "LogObject": {
        "type": "object",
        "description": "a log object: timestamp from @timestamp/timestamp/ts/time, level,"
        " service, message, trace_id, span_id; everything else is kept in attributes",
        "additionalProperties": True,
        "properties": {
            "timestamp": _TIMESTAMP,
            **{
                name: {"type": "string"}
                for name in ("level", "service", "message", "trace_id", "span_id")
            },
        },
    },
    "IngestResult": {
        "type": "object",
        "required": ["accepted", "rejected", "errors"],
        "properties": {
            "accepted": {"type": "integer"},
            "rejected": {"type": "integer"},
            "dropped": {"type": "integer"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"line": {"type": "integer"}, "error": {"type": "string"}},
                },
            },
        },
    },
    "Event": {
        "type": "object",
        "required": ["type", "payload"],
        "properties": {
            "type": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_.-]{0,127}$"},
            "payload": {"type": "object"},
            "key": {"type": "string"},
            "timestamp": _TIMESTAMP,
            **{name: {"type": "string"} for name in ("service", "trace_id", "span_id")},
        },
    },
    "EventsResult": {
        "type": "object",
        "required": ["accepted", "rejected", "errors"],
        "properties": {
            "accepted": {"type": "integer"},
            "rejected": {"type": "integer"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"index": {"type": "integer"}, "reason": {"type": "string"}},
                },
            },
        },
    },
    "SearchResult": {
        "type": "object",
        "required": ["kind", "columns", "rows", "truncated", "took_ms"],
        "properties": {
            "kind": {"type": "string"},
            "columns": {"type": "array", "items": {"type": "string"}},
            "rows": {"type": "array", "items": {"type": "object"}},
            "truncated": {"type": "boolean"},
            "took_ms": {"type": "number"},
            "sql": {"type": "string"},
            "params": {"type": "array", "items": {}},
        },
    },
    "SQLResult": {
        "type": "object",
        "required": ["columns", "rows", "truncated", "took_ms"],
        "properties": {
            "columns": {"type": "array", "items": {"type": "string"}},
            "rows": {"type": "array", "items": {"type": "array", "items": {}}},
            "truncated": {
                "type": "boolean",
                "description": "true when query_max_rows cut the result",
            },
            "took_ms": {"type": "number"},
        },
    },
    "Registration": {
        "type": "object",
        "required": ["service", "host", "port"],
        "properties": {
            **_INSTANCE_FIELDS,
            "port": {"type": "integer", "minimum": 1, "maximum": 65535},
            "metrics_path": {"type": "string", "default": "/metrics"},
            **_OPTIONAL_PATHS,
            "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    },
    "Instance": {
        "type": "object",
        "required": [
            "service",
            "instance_id",
            "host",
            "port",
            "status",
            "registered_at",
            "last_heartbeat",
        ],
        "properties": {
            **_INSTANCE_FIELDS,
            "port": {"type": "integer"},
            "metrics_path": {"type": "string"},
            **_OPTIONAL_PATHS,
            "metadata": {"type": "object"},
            "status": {"type": "string", "enum": ["up", "down"]},
            "registered_at": {"type": "string", "format": "date-time"},
            "last_heartbeat": {"type": "string", "format": "date-time"},
        },
    },
    "Success": {
        "type": "object",
        "required": ["status", "data"],
        "properties": {
            "status": {"type": "string", "enum": ["success"]},
            "data": {"type": "object"},
        },
    },
}

#: Everything of the document but its paths.
SHARED: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {
        "title": "tracelake native API",
        "version": "1",
        "description": "The native JSON API of tracelake. The compatible APIs (OTLP, Zipkin,"
        " Prometheus, Loki, Elasticsearch) follow their own projects' descriptions and are"
        ' not repeated here. Every error is {"error": message}; limits are in'
        " docs/security.md.",
    },
    "servers": [{"url": "/"}],
    "security": [{"bearer": []}],
    "tags": [
        {"name": name}
        for name in ("server", "ingest", "query", "lake", "traces", "registry", "alerting")
    ],
    "components": {
        "securitySchemes": {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "an API token (see docs/security.md); not needed when no"
                " tokens are configured",
            }
        },
        "responses": {name: response for name, (_, response) in ERRORS.items()},
        "schemas": SCHEMAS,
    },
}


def document(endpoints: Iterable[Endpoint]) -> dict[str, Any]:
    """The OpenAPI document of the described ``endpoints``."""
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        if endpoint.doc is not None:
            (method,) = endpoint.methods
            paths.setdefault(endpoint.path, {})[method.lower()] = _operation(endpoint, endpoint.doc)
    return {**SHARED, "paths": paths}


def _operation(endpoint: Endpoint, doc: Operation) -> dict[str, Any]:
    """``doc`` with what the scope and the server imply: security and error answers."""
    implied = ["HeaderFieldsTooLarge"]
    if "requestBody" in doc:
        implied.append("RequestTimeout")
    if endpoint.scope != PUBLIC:
        implied += ["Unauthorized", "Forbidden"]
    responses = {**doc["responses"], **error_answers(*implied)}
    security: dict[str, Any] = {"security": []} if endpoint.scope == PUBLIC else {}
    return {**doc, **security, "responses": dict(sorted(responses.items()))}


async def openapi(request: Request) -> Response:
    """The document ``app.py`` derived from every endpoint (built once, at start)."""
    return Response(request.app.state.openapi, media_type="application/json")


endpoints = [
    Endpoint(
        "/api/v1/openapi.json",
        openapi,
        ("GET",),
        PUBLIC,  # the same description in every install
        doc={
            "operationId": "openapi",
            "summary": "This description of the native API",
            "tags": ["server"],
            "responses": {"200": answer({"type": "object"})},
        },
    )
]
