"""The one mapping from exceptions to HTTP responses.

A ``TracelakeError`` answers its own status with ``{"error": message}``; ``Overloaded``
adds ``Retry-After``. Anything else is a bug: 500, logged with its traceback, and a
message that says so without leaking internals.
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from tracelake.api.responses import JSON
from tracelake.errors import Overloaded, QuerySyntaxError, TracelakeError

log = logging.getLogger("tracelake.api")


async def tracelake_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TracelakeError)
    body: dict[str, object] = {"error": exc.message}
    headers = {}
    if isinstance(exc, QuerySyntaxError):
        body["column"] = exc.column
    if isinstance(exc, Overloaded):
        headers["Retry-After"] = str(exc.retry_after)
    return JSON(body, status_code=exc.status, headers=headers)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return JSON({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSON(
        {"error": "internal error: this is a bug in tracelake; the server log has the details"},
        status_code=500,
    )


HANDLERS = {TracelakeError: tracelake_error, HTTPException: http_error, Exception: unexpected_error}
