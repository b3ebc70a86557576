"""Connection limits: slow-loris clients and connection floods are closed or refused
while other clients keep being served — on the HTTP port (api/connections.py under a
real uvicorn, and the real server) and on the stream listeners (max_connections,
idle_timeout_s)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.conftest import ServerProcess, free_port
from tests.security.fault_kit import eventually, numbered, stored_seqs
from tracelake.api.connections import bounded_protocol


def _closed_by_peer(sock: socket.socket, within: float) -> bool:
    """True if the server closes ``sock`` within ``within`` seconds."""
    sock.settimeout(within)
    try:
        return sock.recv(1024) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


@pytest.fixture
def bounded_http() -> Iterator[str]:
    """A real uvicorn on a free port with the bounded protocol: 0.5 s for headers, 20
    connections."""

    async def hello(request: Request) -> PlainTextResponse:
        return PlainTextResponse("hello")

    port = free_port()
    config = uvicorn.Config(
        Starlette(routes=[Route("/", hello)]),
        host="127.0.0.1",
        port=port,
        log_level="error",
        lifespan="off",
        http=bounded_protocol(header_timeout_s=0.5, max_connections=20),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    eventually(lambda: server.started, 10, "uvicorn starts")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(
    bounded_http: str,
) -> None:
    port = int(bounded_http.rsplit(":", 1)[1])
    idle = socket.create_connection(("127.0.0.1", port))
    assert not _closed_by_peer(idle, 0.2), "closed before its time"
    assert _closed_by_peer(idle, 2.0)


def test_a_slow_loris_client_is_closed_while_others_are_served(bounded_http: str) -> None:
    port = int(bounded_http.rsplit(":", 1)[1])
    loris = socket.create_connection(("127.0.0.1", port))
    request = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 40
    closed = False
    started = time.monotonic()
    for byte in request:
        try:
            loris.sendall(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
        assert httpx.get(bounded_http, timeout=2).text == "hello"
        time.sleep(0.05)
    assert closed or _closed_by_peer(loris, 2.0)
    assert time.monotonic() - started < 5


def test_connections_over_the_cap_are_closed_at_once_and_the_cap_frees_up(
    bounded_http: str,
) -> None:
    port = int(bounded_http.rsplit(":", 1)[1])
    flood = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
    extra = socket.create_connection(("127.0.0.1", port))
    assert _closed_by_peer(extra, 1.0), "the 21st connection is closed at once"
    eventually(lambda: all(_closed_by_peer(s, 0.05) for s in flood), 5, "the idle flood is closed")
    assert httpx.get(bounded_http, timeout=2).text == "hello"


def test_real_server_serves_clients_through_a_slow_loris_and_a_connection_flood(
    server: ServerProcess,
) -> None:
    flood = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(300)]
    loris = socket.create_connection(("127.0.0.1", server.port))
    loris.sendall(b"POST /api/v1/logs HTTP/1.1\r\nHost: x\r\n")
    with httpx.Client(timeout=5) as client:
        for i in range(20):
            started = time.monotonic()
            r = client.post(f"{server.url}/api/v1/logs", content=numbered(i * 10, 10))
            assert r.status_code == 200
            assert time.monotonic() - started < 2
            loris.sendall(b"X")
    assert len(stored_seqs(server.url)) == 200
    for sock in [*flood, loris]:
        sock.close()


def test_stream_listener_refuses_connections_over_max_and_closes_idle_ones(
    server_factory: type[ServerProcess], tmp_path: Path
) -> None:
    env = {"TRACELAKE_MAX_CONNECTIONS": "20", "TRACELAKE_IDLE_TIMEOUT_S": "1"}
    server = server_factory(tmp_path / "data", env=env).start()
    port = server.listener("jsonlines/tcp")
    flood = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
    time.sleep(0.3)  # every one accepted and counted
    extra = socket.create_connection(("127.0.0.1", port))
    assert _closed_by_peer(extra, 1.0), "a connection over max_connections is closed at once"
    eventually(
        lambda: all(_closed_by_peer(s, 0.05) for s in flood), 5, "idle connections are closed"
    )
    client = socket.create_connection(("127.0.0.1", port))
    client.sendall(numbered(0, 50) + b"\n")
    client.close()
    eventually(lambda: len(stored_seqs(server.url)) == 50, what="a new client is served")
    metrics = httpx.get(f"{server.url}/metrics").text
    assert (
        'tracelake_listener_rejects_total{listener="jsonlines/tcp",reason="max_connections"}'
        in (metrics)
    )
