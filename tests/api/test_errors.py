"""The one mapping of exceptions to answers, as a keep-alive client sees it: an
exception no handler takes is a JSON 500 like any other answer, and the connection it
came on keeps serving (Starlette's own 500 re-raises, and uvicorn then drops the
connection, so a client's next request on it was reset)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import cast

import httpx
import orjson
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.conftest import free_port
from tests.security.fault_kit import eventually
from tracelake.api.connections import bounded_protocol
from tracelake.api.context import AppContext
from tracelake.app import build_app
from tracelake.settings import Settings


async def _fails(request: Request) -> Response:
    raise RuntimeError("a bug the test put here")


def _app_with_a_failing_route() -> Starlette:
    """The real application (its middleware and handlers), plus one route that raises;
    the routes the test calls read nothing but the settings."""
    ctx = cast(AppContext, SimpleNamespace(settings=Settings.load(env={})))
    app = build_app(ctx)
    app.router.routes.insert(0, Route("/test-fails", _fails, methods=["GET", "POST"]))
    return app


@pytest.fixture
def real_uvicorn() -> Iterator[int]:
    """uvicorn on a free port, with the server's bounded protocol, serving that app."""
    port = free_port()
    config = uvicorn.Config(
        _app_with_a_failing_route(),
        host="127.0.0.1",
        port=port,
        log_level="critical",
        lifespan="off",
        http=bounded_protocol(header_timeout_s=5, max_connections=20),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    eventually(lambda: server.started, 10, "uvicorn starts")
    yield port
    server.should_exit = True
    thread.join(10)


def _answer(sock: socket.socket) -> tuple[int, bytes, bytes]:
    """(status, head, body) of one answer with a Content-Length, read off ``sock``."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"the connection was closed; read so far: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "the connection was closed in the middle of an answer"
        body += chunk
    return int(head.split(b" ", 2)[1]), head, body


def test_a_500_leaves_the_keep_alive_connection_usable(real_uvicorn: int) -> None:
    """On one raw connection: a request that raises gets a JSON 500 without
    ``Connection: close``, then a POST that raises mid-way (its body read or not), then an
    ordinary request, all answered on the same socket."""
    sock = socket.create_connection(("127.0.0.1", real_uvicorn), timeout=5)
    sock.sendall(b"GET /test-fails HTTP/1.1\r\nHost: x\r\n\r\n")
    status, head, body = _answer(sock)
    assert status == 500
    assert b"connection: close" not in head.lower()
    assert "bug in tracelake" in orjson.loads(body)["error"]
    sock.sendall(b"POST /test-fails HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
    assert _answer(sock)[0] == 500
    sock.sendall(b"GET /api/v1/openapi.json HTTP/1.1\r\nHost: x\r\n\r\n")
    assert _answer(sock)[0] == 200
    sock.close()


def test_an_httpx_client_keeps_its_connection_across_a_500(real_uvicorn: int) -> None:
    """A keep-alive client (httpx) sends its next requests on the connection a 500 came
    on: the local port does not change."""
    with httpx.Client(base_url=f"http://127.0.0.1:{real_uvicorn}", timeout=5) as client:

        def local_port(r: httpx.Response) -> int:
            stream = r.extensions["network_stream"]
            return int(stream.get_extra_info("socket").getsockname()[1])

        first = client.get("/test-fails")
        assert first.status_code == 500
        assert first.headers["content-type"] == "application/json"
        second = client.get("/api/v1/openapi.json")
        assert second.status_code == 200
        assert local_port(first) == local_port(second)


def test_in_process_an_unknown_exception_is_answered_not_raised() -> None:
    """Through the ASGI interface itself (no server between): the exception ends in the
    500 answer and does not escape to the server, which would otherwise close."""

    async def call() -> httpx.Response:
        app = _app_with_a_failing_route()
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            return await client.get("/test-fails")

    r = asyncio.run(call())
    assert r.status_code == 500
    assert r.json() == {
        "error": "internal error: this is a bug in tracelake; the server log has the details"
    }
