"""``/api/v1/registry/``: register, heartbeat, deregister and list instances; Prometheus SD.

Why over HTTP: a service in any language can register with one POST and renew its
lease with one PUT (``tracelake.sdk.register`` does both for Python). A heartbeat for
an unknown instance is 404, which tells the client to register again (after it was
evicted, or the registry lost it). ``prometheus-sd`` answers in Prometheus's HTTP SD
format, so a real Prometheus scrapes what tracelake knows.

With tokens configured, the token of a register, heartbeat or deregister call is its
``Caller``: an instance belongs to the token that registered it, another ingest token
gets 403 (``registry.state``), and no answer carries the owner or another instance.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from tracelake.api.context import context
from tracelake.api.endpoints import INGEST, READ, Endpoint
from tracelake.api.openapi import (
    answer,
    error_answers,
    json_content,
    path_param,
    query_param,
    schema,
)
from tracelake.api.params import read_body
from tracelake.api.responses import JSON
from tracelake.errors import BadRequest
from tracelake.registry.model import (
    InstanceRecord,
    check_instance_id,
    check_service,
    parse_registration,
)
from tracelake.registry.state import Caller
from tracelake.registry.targets import sd_group
from tracelake.security.tokens import Token

#: A registration is a few hundred bytes; metadata is capped well below this.
MAX_REGISTRATION_BYTES = 64 * 1024


def _time(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC)


def instance_json(r: InstanceRecord) -> dict[str, Any]:
    """What the API shows of an instance: all but its owner (a token's name is the
    operator's business, not every reader's)."""
    out = r.as_dict()
    del out["owner"]
    out["registered_at"] = _time(r.registered_at)
    out["last_heartbeat"] = _time(r.last_heartbeat)
    return out


def _caller(request: Request) -> Caller | None:
    """The token the access middleware let through; None when no tokens are configured."""
    token = getattr(request.state, "token", None)
    if not isinstance(token, Token):
        return None
    return Caller(token.name, admin="admin" in token.scopes)


def _path_ids(request: Request) -> tuple[str, str]:
    service = check_service(request.path_params["service"])
    instance_id = check_instance_id(request.path_params["instance_id"])
    return service, instance_id


async def register(request: Request) -> Response:
    ctx = context(request)
    registry = ctx.registry
    body = await read_body(request, MAX_REGISTRATION_BYTES)
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise BadRequest(f"body is not JSON ({e}): send a JSON object") from e
    record = registry.register(parse_registration(payload), _caller(request))
    await ctx.registry_keeper.save()
    return JSON(instance_json(record), status_code=201)


async def heartbeat(request: Request) -> Response:
    ctx = context(request)
    record = ctx.registry.heartbeat(*_path_ids(request), _caller(request))
    return JSON(instance_json(record))


async def deregister(request: Request) -> Response:
    ctx = context(request)
    ctx.registry.deregister(*_path_ids(request), _caller(request))
    await ctx.registry_keeper.save()
    return Response(status_code=204)


def _service_param(request: Request) -> str | None:
    raw = request.query_params.get("service")
    return None if raw in (None, "") else check_service(raw)


async def list_instances(request: Request) -> Response:
    found = context(request).registry.instances(_service_param(request))
    return JSON({"instances": [instance_json(r) for r in found]})


async def list_services(request: Request) -> Response:
    summaries = context(request).registry.services()
    return JSON(
        {"services": [{"name": s.name, "instances": s.instances, "up": s.up} for s in summaries]}
    )


async def prometheus_sd(request: Request) -> Response:
    """Prometheus HTTP SD: one target group per instance that is up, then the static ones."""
    targets = context(request).registry.scrape_targets(_service_param(request))
    return JSON([sd_group(t) for t in targets])


PREFIX = "/api/v1/registry"

_INSTANCE_IN_PATH = [
    path_param("service", "service name"),
    path_param("instance_id", "instance id"),
]
_ONE_SERVICE = query_param("service", "only this service", {"type": "string"})

# Services register themselves with the token they ship with (docs/security.md): the
# calls that change an instance need ingest, the lists read.
endpoints = [
    Endpoint(
        f"{PREFIX}/instances",
        register,
        ("POST",),
        INGEST,
        doc={
            "operationId": "register",
            "summary": "Register an instance (201 with its record, instance_id included)",
            "tags": ["registry"],
            "requestBody": {
                "required": True,
                "description": "at most 64 KiB",
                "content": json_content(schema("Registration")),
            },
            "responses": {
                "201": answer(schema("Instance"), "registered"),
                **error_answers("BadRequest", "PayloadTooLarge"),
            },
        },
    ),
    Endpoint(
        f"{PREFIX}/instances",
        list_instances,
        ("GET",),
        READ,
        doc={
            "operationId": "listInstances",
            "summary": "Registered instances, optionally of one service",
            "tags": ["registry"],
            "parameters": [_ONE_SERVICE],
            "responses": {
                "200": answer(
                    {
                        "type": "object",
                        "required": ["instances"],
                        "properties": {"instances": {"type": "array", "items": schema("Instance")}},
                    }
                ),
                **error_answers("BadRequest"),
            },
        },
    ),
    Endpoint(
        f"{PREFIX}/instances/{{service}}/{{instance_id}}/heartbeat",
        heartbeat,
        ("PUT",),
        INGEST,
        doc={
            "operationId": "heartbeat",
            "summary": "Renew an instance's lease; 404 means register again",
            "tags": ["registry"],
            "parameters": _INSTANCE_IN_PATH,
            "responses": {
                "200": answer(schema("Instance")),
                **error_answers("BadRequest", "NotFound"),
            },
        },
    ),
    Endpoint(
        f"{PREFIX}/instances/{{service}}/{{instance_id}}",
        deregister,
        ("DELETE",),
        INGEST,
        doc={
            "operationId": "deregister",
            "summary": "Remove an instance",
            "tags": ["registry"],
            "parameters": _INSTANCE_IN_PATH,
            "responses": {
                "204": {"description": "removed (or was not there)"},
                **error_answers("BadRequest", "NotFound"),
            },
        },
    ),
    Endpoint(
        f"{PREFIX}/services",
        list_services,
        ("GET",),
        READ,
        doc={
            "operationId": "listServices",
            "summary": "Services with their instance counts",
            "tags": ["registry"],
            "responses": {
                "200": answer(
                    {
                        "type": "object",
                        "required": ["services"],
                        "properties": {
                            "services": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["name", "instances", "up"],
                                    "properties": {
                                        "name": {"type": "string"},
                                        "instances": {"type": "integer"},
                                        "up": {"type": "integer"},
                                    },
                                },
                            }
                        },
                    }
                )
            },
        },
    ),
    Endpoint(
        f"{PREFIX}/prometheus-sd",
        prometheus_sd,
        ("GET",),
        READ,
        doc={
            "operationId": "prometheusSD",
            "summary": "Prometheus HTTP service discovery: the instances that are up, and the"
            " static targets",
            "tags": ["registry"],
            "parameters": [_ONE_SERVICE],
            "responses": {
                "200": answer(
                    {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["targets", "labels"],
                            "properties": {
                                "targets": {"type": "array", "items": {"type": "string"}},
                                "labels": {
                                    "type": "object",
                                    "additionalProperties": {"type": "string"},
                                },
                            },
                        },
                    }
                ),
                **error_answers("BadRequest"),
            },
        },
    ),
]
