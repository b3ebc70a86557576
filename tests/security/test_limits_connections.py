"""Connection limits: slow-loris clients, slow body senders, oversized request heads and
connection floods are closed or refused while other clients keep being served — on the
HTTP port (api/connections.py under a real uvicorn, and the real server) and on the
stream listeners (max_connections, idle_timeout_s)."""

from __future__ import annotations

import contextlib
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
from tests.security.kit import INGEST, secured
from tracelake.api.connections import LINGER_S, bounded_protocol


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


def test_a_slow_loris_on_a_kept_alive_connection_is_closed_after_the_header_timeout(
    bounded_http: str,
) -> None:
    """After one answer, a client dribbling its next request's headers a byte at a time
    (each byte would restart uvicorn's keep-alive timer) is closed ``header_timeout_s``
    after that answer."""
    port = int(bounded_http.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert sock.recv(4096).startswith(b"HTTP/1.1 200")
    started = time.monotonic()
    closed = False
    for byte in b"GET / HTTP/1.1\r\nX-Slow: " + b"a" * 40:
        try:
            sock.sendall(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
        if _closed_by_peer(sock, 0.1):
            closed = True
            break
    assert closed, "the dribbling client is still connected"
    assert 0.4 < time.monotonic() - started < 4  # the timeout, with room for a busy machine


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


#: A request head that promises 60 MB of body (under max_body_bytes), which the senders
#: below never send.
_SLOW_POST = (
    b"POST /api/v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\n"
    b"Content-Length: 60000000\r\n"
)


def _status(sock: socket.socket, within: float) -> int:
    """The status code of the answer on ``sock`` (0: none, or closed without one)."""
    sock.settimeout(within)
    data = b""
    try:
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else 0


def _dribble(socks: list[socket.socket]) -> list[socket.socket]:
    """One more body byte on each socket; the ones the server has closed are left out."""
    still = []
    for sock in socks:
        try:
            sock.sendall(b"{")
        except OSError:
            sock.close()
            continue
        still.append(sock)
    return still


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/-/ready", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def test_slow_body_senders_are_answered_and_cut_and_ready_answers_throughout(
    server_factory: type[ServerProcess], tmp_path: Path
) -> None:
    """With tokens, 300 senders without credentials, each promising a 60 MB body and
    dribbling a byte at a time, get 401 at once and are closed within the linger time,
    though together they are three times the connection cap; 60 senders with an ingest
    token are answered 408 and closed once ``http_body_timeout_s`` is over. ``/-/ready``
    answers all along, and a real client is served afterwards."""
    server = secured(
        server_factory,
        tmp_path / "data",
        TRACELAKE_HTTP_MAX_CONNECTIONS="100",
        TRACELAKE_HTTP_BODY_TIMEOUT_S="2",
    )
    head = _SLOW_POST + b"\r\n"
    open_socks: list[socket.socket] = []
    for i in range(300):
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.sendall(head + b"{")
        assert _status(sock, 2) == 401, f"sender {i} is answered 401 on its headers"
        open_socks.append(sock)
        if i % 25 == 0:
            open_socks = _dribble(open_socks)
            assert _ready(server.url), f"/-/ready answers with {i} unauthenticated senders"
    deadline = time.monotonic() + LINGER_S + 3
    while open_socks and time.monotonic() < deadline:
        time.sleep(0.3)
        open_socks = _dribble(open_socks)
    assert not open_socks, f"{len(open_socks)} unauthenticated senders still connected"

    authenticated = []
    for _ in range(60):
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.sendall(_SLOW_POST + f"Authorization: Bearer {INGEST}\r\n\r\n".encode() + b"{")
        authenticated.append(sock)
    started = time.monotonic()
    answered: dict[int, int] = {}
    while len(answered) < len(authenticated) and time.monotonic() - started < 8:
        assert _ready(server.url), "/-/ready answers while slow bodies are on the way"
        for n, sock in enumerate(authenticated):
            if n in answered:
                continue
            try:
                sock.sendall(b"{")
            except OSError:
                answered[n] = 0
                continue
            status = _status(sock, 0.01)
            if status:
                answered[n] = status
                assert time.monotonic() - started > 1.5, "cut before http_body_timeout_s"
        time.sleep(0.2)
    assert sorted(answered.values()) == [408] * 60, answered
    for sock in authenticated:
        assert _closed_by_peer(sock, LINGER_S + 1)
        sock.close()
    r = httpx.post(
        f"{server.url}/api/v1/logs",
        content=numbered(0, 10),
        headers={"Authorization": f"Bearer {INGEST}"},
        timeout=5,
    )
    assert r.status_code == 200, r.text


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_request_heads_over_the_limits_are_answered_431_without_growing_the_server(
    server: ServerProcess,
) -> None:
    """200 header fields, or 1 MB of them, are answered 431 and the connection closed;
    40 connections sending 2 MB of small headers each leave the server's RSS within a
    few MiB of where it was (httptools keeps every header it parses, several times the
    bytes sent); ordinary requests, 60 headers or a 4 MB body in one write, still pass."""
    assert server.proc is not None
    request_line = b"GET /-/ready HTTP/1.1\r\nHost: x\r\n"
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(200))
    for head in (many, b"X-Big: " + b"a" * 1_000_000 + b"\r\n"):
        sock = socket.create_connection(("127.0.0.1", server.port))
        with contextlib.suppress(OSError):
            sock.sendall(request_line + head + b"\r\n")
        assert _status(sock, 2) == 431
        assert _closed_by_peer(sock, LINGER_S + 1)
        sock.close()

    before = _rss_kib(server.proc.pid)
    small = b"".join(b"a%d: b\r\n" % i for i in range(1000))
    for _ in range(40):
        sock = socket.create_connection(("127.0.0.1", server.port))
        with contextlib.suppress(OSError):
            sock.sendall(request_line)
            for _ in range(2_000_000 // len(small)):
                sock.sendall(small)
        assert _status(sock, 2) == 431
        sock.close()
    grown = (_rss_kib(server.proc.pid) - before) / 1024
    assert grown < 16, f"the server grew by {grown:.0f} MiB"

    fine = {f"X-Fine-{i}": "v" for i in range(60)}
    assert httpx.get(f"{server.url}/-/ready", headers=fine).status_code == 200
    body = numbered(0, 40_000)
    assert len(body) > 2_000_000
    r = httpx.post(f"{server.url}/api/v1/logs", content=body, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 40_000
