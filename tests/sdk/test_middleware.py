"""Request ids on every log line of a request: ASGI (direct and under uvicorn) and WSGI.

The apps log through a :class:`JSONFormatter`, so these tests check the id where it
matters: in the JSON lines, and echoed on the response.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest

from tracelake.sdk.logging import JSONFormatter
from tracelake.sdk.middleware import (
    ASGIRequestIdMiddleware,
    WSGIRequestIdMiddleware,
    bind_request_id,
    get_request_id,
    new_request_id,
)

HEX32 = re.compile(r"[0-9a-f]{32}")


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JSONFormatter("web"))
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:  # called under the handler's lock
        self.lines.append(json.loads(self.format(record)))

    def ids(self, message: str) -> list[str | None]:
        return [o.get("request_id") for o in self.lines if o["message"] == message]


@pytest.fixture
def log() -> Iterator[tuple[logging.Logger, Lines]]:
    logger = logging.getLogger(f"tests.sdk.middleware.{time.monotonic_ns()}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    lines = Lines()
    logger.addHandler(lines)
    yield logger, lines
    logger.removeHandler(lines)


# -- ASGI, called directly -------------------------------------------------------------


def make_asgi_app(logger: logging.Logger, headers: list[tuple[bytes, bytes]] | None = None) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            logger.info("lifespan")
            return
        logger.info("handling")
        await asyncio.sleep(0)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/plain"), *(headers or [])],
            }
        )
        logger.info("responding")
        await send({"type": "http.response.body", "body": b"ok"})

    return app


def call_asgi(app: Any, headers: list[tuple[bytes, bytes]]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    scope = {"type": "http", "method": "GET", "path": "/", "headers": headers, "state": {}}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    sent[0]["scope_state"] = scope["state"]
    return sent


def response_ids(start: dict[str, Any]) -> list[bytes]:
    return [v for k, v in start["headers"] if k.lower() == b"x-request-id"]


def test_asgi_uses_the_incoming_request_id(log: tuple[logging.Logger, Lines]) -> None:
    logger, lines = log
    app = ASGIRequestIdMiddleware(make_asgi_app(logger))
    sent = call_asgi(app, [(b"X-Request-ID", b"abc-123")])
    assert lines.ids("handling") == lines.ids("responding") == ["abc-123"]
    assert response_ids(sent[0]) == [b"abc-123"]
    assert sent[0]["scope_state"]["request_id"] == "abc-123"
    assert get_request_id() is None  # nothing leaks out of the request


def test_asgi_accepts_a_correlation_id(log: tuple[logging.Logger, Lines]) -> None:
    logger, lines = log
    app = ASGIRequestIdMiddleware(make_asgi_app(logger))
    sent = call_asgi(app, [(b"x-correlation-id", b"corr-9")])
    assert lines.ids("handling") == ["corr-9"]
    assert response_ids(sent[0]) == [b"corr-9"]


def test_asgi_prefers_x_request_id(log: tuple[logging.Logger, Lines]) -> None:
    logger, lines = log
    app = ASGIRequestIdMiddleware(make_asgi_app(logger))
    call_asgi(app, [(b"x-correlation-id", b"corr"), (b"x-request-id", b"req")])
    assert lines.ids("handling") == ["req"]


@pytest.mark.parametrize(
    "incoming", [None, b"", b"has space", b"x" * 129, b"new\nline", "é".encode()]
)
def test_asgi_generates_an_id_when_missing_or_unusable(
    log: tuple[logging.Logger, Lines], incoming: bytes | None
) -> None:
    logger, lines = log
    app = ASGIRequestIdMiddleware(make_asgi_app(logger))
    sent = call_asgi(app, [] if incoming is None else [(b"x-request-id", incoming)])
    (rid,) = lines.ids("handling")
    assert rid is not None
    assert HEX32.fullmatch(rid)
    assert response_ids(sent[0]) == [rid.encode()]


def test_asgi_replaces_an_id_the_app_already_set(log: tuple[logging.Logger, Lines]) -> None:
    logger, _ = log
    app = ASGIRequestIdMiddleware(make_asgi_app(logger, [(b"X-Request-ID", b"app-made")]))
    sent = call_asgi(app, [(b"x-request-id", b"mine")])
    assert response_ids(sent[0]) == [b"mine"]


def test_asgi_untrusted_incoming_and_no_echo(log: tuple[logging.Logger, Lines]) -> None:
    logger, lines = log
    app = ASGIRequestIdMiddleware(make_asgi_app(logger), trust_incoming=False, response_header=None)
    sent = call_asgi(app, [(b"x-request-id", b"spoofed")])
    (rid,) = lines.ids("handling")
    assert rid != "spoofed"
    assert response_ids(sent[0]) == []


def test_asgi_passes_other_scopes_through(log: tuple[logging.Logger, Lines]) -> None:
    logger, lines = log
    app = ASGIRequestIdMiddleware(make_asgi_app(logger))

    async def nothing() -> dict[str, Any]:
        return {}

    async def ignore(message: Any) -> None:
        pass

    asyncio.run(app({"type": "lifespan"}, nothing, ignore))
    assert lines.ids("lifespan") == [None]


def test_asgi_websocket_accept_carries_the_id(log: tuple[logging.Logger, Lines]) -> None:
    logger, lines = log

    async def ws_app(scope: Any, receive: Any, send: Any) -> None:
        logger.info("ws")
        await send({"type": "websocket.accept"})

    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": "/ws", "headers": [(b"x-request-id", b"ws-1")]}
    asyncio.run(ASGIRequestIdMiddleware(ws_app)(scope, receive, send))
    assert lines.ids("ws") == ["ws-1"]
    assert response_ids(sent[0]) == [b"ws-1"]


def test_asgi_concurrent_requests_keep_their_own_ids(log: tuple[logging.Logger, Lines]) -> None:
    logger, lines = log

    async def app(scope: Any, receive: Any, send: Any) -> None:
        for step in range(3):
            logger.info("step", extra={"step": step})
            await asyncio.sleep(0.001)

    wrapped = ASGIRequestIdMiddleware(app)

    async def main() -> None:
        async def nothing() -> dict[str, Any]:
            return {}

        async def ignore(message: Any) -> None:
            pass

        await asyncio.gather(
            *(
                wrapped(
                    {"type": "http", "headers": [(b"x-request-id", f"r{i}".encode())]},
                    nothing,
                    ignore,
                )
                for i in range(20)
            )
        )

    asyncio.run(main())
    by_id: dict[str, int] = {}
    for obj in lines.lines:
        by_id[obj["request_id"]] = by_id.get(obj["request_id"], 0) + 1
    assert by_id == {f"r{i}": 3 for i in range(20)}


# -- ASGI under uvicorn ----------------------------------------------------------------


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def get(port: int, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/", headers=headers or {})
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def test_asgi_under_uvicorn(log: tuple[logging.Logger, Lines]) -> None:
    uvicorn = pytest.importorskip("uvicorn")
    logger, lines = log
    app = ASGIRequestIdMiddleware(make_asgi_app(logger))
    sock = free_socket()
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        given = get(port, {"X-Request-ID": "from-client"})
        made = get(port)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
    assert given.getheader("X-Request-ID") == "from-client"
    made_id = made.getheader("X-Request-ID")
    assert made_id is not None
    assert HEX32.fullmatch(made_id)
    assert lines.ids("handling") == lines.ids("responding") == ["from-client", made_id]


# -- WSGI ------------------------------------------------------------------------------


def make_wsgi_app(logger: logging.Logger, streaming: bool) -> Any:
    def body() -> Iterator[bytes]:
        logger.info("streaming")
        yield b"chunk1"
        logger.info("streaming")
        yield b"chunk2"

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        logger.info("handling", extra={"environ_id": environ["tracelake.request_id"]})
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-Request-ID", "app")])
        return body() if streaming else [b"ok"]

    return app


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def wsgi_port(log: tuple[logging.Logger, Lines], request: pytest.FixtureRequest) -> Iterator[int]:
    logger, _ = log
    app = WSGIRequestIdMiddleware(make_wsgi_app(logger, streaming=request.param))
    server = make_server(
        "127.0.0.1", 0, app, server_class=ThreadingWSGIServer, handler_class=QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("wsgi_port", [False, True], indirect=True, ids=["list", "streaming"])
def test_wsgi_in_a_real_server(
    wsgi_port: int, log: tuple[logging.Logger, Lines], request: pytest.FixtureRequest
) -> None:
    _, lines = log
    streaming = request.node.callspec.params["wsgi_port"]
    given = get(wsgi_port, {"X-Correlation-ID": "corr-7"})
    made = get(wsgi_port)
    assert given.getheader("X-Request-ID") == "corr-7"
    assert given.headers.get_all("X-Request-ID") == ["corr-7"]  # the app's own was replaced
    made_id = made.getheader("X-Request-ID")
    assert made_id is not None
    assert HEX32.fullmatch(made_id)
    assert lines.ids("handling") == ["corr-7", made_id]
    assert [o["environ_id"] for o in lines.lines if o["message"] == "handling"] == [
        "corr-7",
        made_id,
    ]
    # A generator body logs while the server iterates it, after the app returned.
    expected = ["corr-7", "corr-7", made_id, made_id] if streaming else []
    assert lines.ids("streaming") == expected


def test_wsgi_restores_the_context_after_the_body_is_closed(
    log: tuple[logging.Logger, Lines],
) -> None:
    logger, lines = log
    app = WSGIRequestIdMiddleware(make_wsgi_app(logger, streaming=True))
    started: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started.append((status, headers))
        return lambda data: None

    with bind_request_id("outer"):
        body = app({"HTTP_X_REQUEST_ID": "inner"}, start_response)
        assert get_request_id() == "inner"  # bound while the server iterates the body
        assert b"".join(body) == b"chunk1chunk2"
        body.close()  # type: ignore[attr-defined]
        assert get_request_id() == "outer"
    assert lines.ids("streaming") == ["inner", "inner"]
    assert [v for k, v in started[0][1] if k == "X-Request-ID"] == ["inner"]


def test_wsgi_restores_the_context_when_the_app_raises(log: tuple[logging.Logger, Lines]) -> None:
    def broken(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        WSGIRequestIdMiddleware(broken)({}, lambda *a: lambda data: None)
    assert get_request_id() is None


def test_new_request_id_and_bind() -> None:
    assert HEX32.fullmatch(new_request_id())
    assert new_request_id() != new_request_id()
    with bind_request_id() as rid:
        assert get_request_id() == rid
        with bind_request_id("job-1"):
            assert get_request_id() == "job-1"
        assert get_request_id() == rid
    assert get_request_id() is None
