"""``/api/v1/silences``: silence alerts, or acknowledge one, until a time; list; expire.

``POST`` takes ``{"matchers": {"alertname": "X", …}, "duration": "1h", "kind":
"silence"|"ack", "comment": "…", "createdBy": "…"}`` (``kind`` defaults to silence;
an ack's matchers are the alert's full label set). ``DELETE /api/v1/silences/{id}`` ends
one now. Changing them needs the admin scope: a silence keeps pages from people.
What they do is ``alerting/silences.py``'s docstring.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from tracelake.alerting.payloads import iso
from tracelake.alerting.silences import Silence, check_matchers
from tracelake.api.context import context
from tracelake.api.endpoints import ADMIN, READ, Endpoint
from tracelake.api.openapi import answer, error_answers, path_param, schema
from tracelake.api.params import read_body
from tracelake.api.responses import JSON
from tracelake.durations import parse_duration
from tracelake.errors import BadRequest

MAX_BODY_BYTES = 64 * 1024
MAX_TEXT = 1000


def silence_json(silence: Silence, now: float) -> dict[str, Any]:
    return {
        "id": silence.id,
        "kind": silence.kind,
        "matchers": silence.matchers,
        "startsAt": iso(silence.starts_at),
        "endsAt": iso(silence.ends_at),
        "active": silence.active(now),
        "createdBy": silence.created_by,
        "comment": silence.comment,
    }


async def list_silences(request: Request) -> Response:
    now = time.time()
    items = context(request).alerts.silences.listed(now)
    return JSON({"status": "success", "data": [silence_json(s, now) for s in items]})


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name, "")
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise BadRequest(f"{name} must be a string of at most {MAX_TEXT} characters")
    return value


async def create_silence(request: Request) -> Response:
    manager = context(request).alerts
    raw = await read_body(request, MAX_BODY_BYTES)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise BadRequest(f"body is not JSON ({e}): send a JSON object") from e
    if not isinstance(body, dict):
        raise BadRequest('body must be a JSON object: {"matchers": {...}, "duration": "1h"}')
    kind = body.get("kind", "silence")
    if kind not in ("silence", "ack"):
        raise BadRequest(f"kind={kind!r} must be silence or ack")
    duration = body.get("duration")
    if not isinstance(duration, str):
        raise BadRequest('duration must be a duration string like "30m" or "2h"')
    try:
        duration_s = parse_duration(duration)
    except ValueError as e:
        raise BadRequest(f"duration: {e}") from e
    now = time.time()
    silence = manager.silences.add(
        kind,
        check_matchers(body.get("matchers")),
        duration_s,
        now,
        created_by=_text(body, "createdBy"),
        comment=_text(body, "comment"),
    )
    await manager.save_silences()
    return JSON({"status": "success", "data": silence_json(silence, now)}, status_code=201)


async def expire_silence(request: Request) -> Response:
    manager = context(request).alerts
    now = time.time()
    silence = manager.silences.expire(request.path_params["silence_id"], now)
    await manager.save_silences()
    return JSON({"status": "success", "data": silence_json(silence, now)})


_SUCCESS = {"200": answer(schema("Success"))}

endpoints = [
    Endpoint(
        "/api/v1/silences",
        list_silences,
        ("GET",),
        READ,
        doc={
            "operationId": "silences",
            "summary": "Silences and acknowledgements, active first",
            "tags": ["alerting"],
            "responses": _SUCCESS,
        },
    ),
    Endpoint(
        "/api/v1/silences",
        create_silence,
        ("POST",),
        ADMIN,
        doc={
            "operationId": "createSilence",
            "summary": "Silence alerts by label matchers, or acknowledge one, for a duration",
            "tags": ["alerting"],
            "responses": {
                "201": answer(schema("Success")),
                **error_answers("BadRequest", "PayloadTooLarge"),
            },
        },
    ),
    Endpoint(
        "/api/v1/silences/{silence_id}",
        expire_silence,
        ("DELETE",),
        ADMIN,
        doc={
            "operationId": "expireSilence",
            "summary": "End a silence or acknowledgement now",
            "tags": ["alerting"],
            "parameters": [path_param("silence_id", "the silence's id")],
            "responses": {**_SUCCESS, **error_answers("NotFound")},
        },
    ),
]
