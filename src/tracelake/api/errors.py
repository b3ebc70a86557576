"""The one mapping from exceptions to HTTP responses.

A ``TracelakeError`` answers its own status with ``{"error": message}``; ``Overloaded``
adds ``Retry-After``. Anything else is a bug: 500, logged with its traceback, and a
message that says so without leaking internals.

The 500 is answered by ``UnexpectedErrors``, the outermost middleware, and not by a
Starlette handler for ``Exception``: Starlette's ``ServerErrorMiddleware`` re-raises the
exception after it answers, and uvicorn then closes the connection, so the next request
a keep-alive client sends on it is reset. Here the exception ends with the answer and
the connection stays usable. A client that went away (``ClientDisconnect``, also what
the application reads when its body was too slow) has nobody to answer and is no bug.
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


HANDLERS = {TracelakeError: tracelake_error, HTTPException: http_error}


class UnexpectedErrors:
    """Pure ASGI: what no handler of ``HANDLERS`` took becomes ``unexpected_error``'s 500,
    on a connection that stays open; after half an answer the exception goes on to
    uvicorn, which can only close the connection."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except ClientDisconnect:
            return
        except Exception as exc:
            if started:
                raise
            response = await unexpected_error(Request(scope), exc)
            await response(scope, receive, send)
