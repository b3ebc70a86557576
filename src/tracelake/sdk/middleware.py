"""Request/correlation ids for every log line of a request, in ASGI and WSGI apps.

Why: "show me everything this request logged" is the first question of any incident.
The middleware takes the caller's ``X-Request-ID`` (or ``X-Correlation-ID``) header,
or makes a new id, keeps it in a :class:`contextvars.ContextVar` for the duration of
the request, and echoes it on the response. :class:`tracelake.sdk.logging.JSONFormatter`
reads that variable and writes it as ``request_id`` on every record.

Both middlewares are plain callables over the ASGI / WSGI specs, so they work with any
framework (Starlette, FastAPI, Django, Flask...) without importing one. Only the
standard library is used.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from contextvars import ContextVar
from typing import Any, Final

__all__ = [
    "REQUEST_ID_HEADER",
    "ASGIRequestIdMiddleware",
    "WSGIRequestIdMiddleware",
    "bind_request_id",
    "get_request_id",
    "new_request_id",
    "request_id_var",
]

#: The header the id is echoed on (and the first one looked at).
REQUEST_ID_HEADER: Final = "X-Request-ID"
_ACCEPTED: Final = ("X-Request-ID", "X-Correlation-ID")

#: The current request's id; ``None`` outside a request.
request_id_var: Final[ContextVar[str | None]] = ContextVar("tracelake_request_id", default=None)

# Printable ASCII without spaces, bounded: an incoming id lands in logs and response
# headers, so anything else (newlines, huge values) is replaced by a fresh id.
_VALID_ID: Final = re.compile(r"[!-~]{1,128}")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def get_request_id() -> str | None:
    """The id of the request being handled in this context, or ``None``.

    Use it to pass the id on to downstream calls (``X-Request-ID`` header) or to
    put it in an error page.
    """
    return request_id_var.get()


def new_request_id() -> str:
    """A fresh random id: 32 lower-case hex digits (a UUID4 without dashes)."""
    return uuid.uuid4().hex


@contextlib.contextmanager
def bind_request_id(request_id: str | None = None) -> Iterator[str]:
    """Set the request id for a block of work outside HTTP (a queue job, a CLI run).

    Args:
        request_id: The id to use; a new one is made when ``None``.

    Yields:
        The id in effect inside the block.
    """
    rid = request_id or new_request_id()
    token = request_id_var.set(rid)
    try:
        yield rid
    finally:
        request_id_var.reset(token)


def _valid(value: str | None) -> str | None:
    if value and _VALID_ID.fullmatch(value):
        return value
    return None


class ASGIRequestIdMiddleware:
    """ASGI middleware binding a request id to each HTTP and WebSocket connection.

    Example::

        app = ASGIRequestIdMiddleware(app)  # or Starlette's Middleware(...) wrapper

    Args:
        app: The ASGI application to wrap.
        headers: Incoming headers to take the id from, in order of preference.
        response_header: Header the id is echoed on; ``None`` to not echo it.
        trust_incoming: ``False`` always makes a new id (for edge services facing
            untrusted clients).
        generator: Makes new ids.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        headers: Iterable[str] = _ACCEPTED,
        response_header: str | None = REQUEST_ID_HEADER,
        trust_incoming: bool = True,
        generator: Callable[[], str] = new_request_id,
    ) -> None:
        self.app = app
        self._incoming = tuple(h.lower().encode("latin-1") for h in headers)
        self._response = response_header.lower().encode("latin-1") if response_header else None
        self._trust = trust_incoming
        self._generator = generator

    def _pick(self, scope: Scope) -> str:
        if self._trust:
            found: dict[bytes, bytes] = {}
            for name, value in scope.get("headers") or ():
                lname = bytes(name).lower()
                if lname in self._incoming and lname not in found:
                    found[lname] = bytes(value)
            for name in self._incoming:
                if name in found:
                    rid = _valid(found[name].decode("latin-1"))
                    if rid:
                        return rid
        return self._generator()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the wrapped app with the request id bound (non-HTTP scopes pass through)."""
        if scope.get("type") not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        rid = self._pick(scope)
        state = scope.get("state")
        if isinstance(state, dict):
            state["request_id"] = rid
        response = self._response
        encoded = rid.encode("latin-1")

        async def send_with_id(message: Message) -> None:
            if response is not None and message.get("type") in (
                "http.response.start",
                "websocket.accept",
            ):
                headers = [
                    (k, v) for k, v in message.get("headers") or () if bytes(k).lower() != response
                ]
                headers.append((response, encoded))
                message = {**message, "headers": headers}
            await send(message)

        token = request_id_var.set(rid)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)


class WSGIRequestIdMiddleware:
    """WSGI middleware binding a request id to each request, streamed bodies included.

    The id is also put in the WSGI environ as ``tracelake.request_id``.

    Example::

        app.wsgi_app = WSGIRequestIdMiddleware(app.wsgi_app)  # Flask

    Args:
        app: The WSGI application to wrap.
        headers: Incoming headers to take the id from, in order of preference.
        response_header: Header the id is echoed on; ``None`` to not echo it.
        trust_incoming: ``False`` always makes a new id.
        generator: Makes new ids.
    """

    def __init__(
        self,
        app: WSGIApp,
        *,
        headers: Iterable[str] = _ACCEPTED,
        response_header: str | None = REQUEST_ID_HEADER,
        trust_incoming: bool = True,
        generator: Callable[[], str] = new_request_id,
    ) -> None:
        self.app = app
        self._incoming = tuple("HTTP_" + h.upper().replace("-", "_") for h in headers)
        self._response = response_header
        self._trust = trust_incoming
        self._generator = generator

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Run the wrapped app with the request id bound until its body is closed."""
        rid: str | None = None
        if self._trust:
            for key in self._incoming:
                rid = _valid(environ.get(key))
                if rid:
                    break
        if not rid:
            rid = self._generator()
        environ["tracelake.request_id"] = rid
        header = self._response

        def start_with_id(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], object]:
            if header is not None:
                lheader = header.lower()
                headers = [(k, v) for k, v in headers if k.lower() != lheader]
                headers.append((header, rid))
            if exc_info is None:
                return start_response(status, headers)
            return start_response(status, headers, exc_info)

        previous = request_id_var.get()
        request_id_var.set(rid)
        try:
            result = self.app(environ, start_with_id)
        except BaseException:
            request_id_var.set(previous)
            raise
        if isinstance(result, (list, tuple)):
            # Already produced: nothing logs while it is sent, and the server keeps
            # its Content-Length shortcut for one-element lists.
            request_id_var.set(previous)
            return result
        return _BoundBody(result, rid, previous)


class _BoundBody:
    """A WSGI body that keeps the request id bound while the server iterates it.

    The server iterates the body after the app returned (streaming responses log
    from generators), so the id is restored only when the server calls ``close``.
    """

    def __init__(self, body: Iterable[bytes], rid: str, previous: str | None) -> None:
        self._body = body
        self._iter: Iterator[bytes] | None = None
        self._rid = rid
        self._previous = previous

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if request_id_var.get() != self._rid:  # e.g. the server iterates elsewhere
            request_id_var.set(self._rid)
        if self._iter is None:
            self._iter = iter(self._body)
        return next(self._iter)

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            request_id_var.set(self._previous)
