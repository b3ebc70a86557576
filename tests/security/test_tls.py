"""TLS on the HTTP port and every TCP listener, from one certificate, with real clients."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from certifi import where

from tests.conftest import ServerProcess
from tests.security.kit import INGEST, READ, bearer, forward_with_shared_key, self_signed
from tracelake.errors import ConfigError
from tracelake.security.tls import check_files, server_context

SHARED_KEY = "forward-shared-key-for-tests"


@pytest.fixture
def tls_server(
    server_factory: type[ServerProcess], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[ServerProcess, Path]]:
    cert, key = self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the fixture's own readiness probe trusts it

    class TLSServer(server_factory):  # type: ignore[misc, valid-type]
        @property
        def url(self) -> str:
            return f"https://127.0.0.1:{self.port}"

    env = {
        "TRACELAKE_TOKENS": f"ingest:{INGEST},read:{READ}",
        "TRACELAKE_TLS_CERT_FILE": str(cert),
        "TRACELAKE_TLS_KEY_FILE": str(key),
        "TRACELAKE_FORWARD_SHARED_KEY": SHARED_KEY,
    }
    yield TLSServer(tmp_path / "data", env=env).start(), cert


def client_context(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


def tls_socket(cert: Path, port: int) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return client_context(cert).wrap_socket(raw, server_hostname="127.0.0.1")


def search(server: ServerProcess, cert: Path, q: str, n: int) -> list[dict[str, object]]:
    deadline = time.monotonic() + 20
    while True:
        rows: list[dict[str, object]] = httpx.get(
            f"{server.url}/api/v1/search",
            params={"q": q},
            headers=bearer(READ),
            verify=client_context(cert),
        ).json()["rows"]
        if len(rows) >= n or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def test_http_speaks_tls_with_the_certificate_and_refuses_plaintext(
    tls_server: tuple[ServerProcess, Path],
) -> None:
    server, cert = tls_server
    ctx = client_context(cert)
    health = httpx.get(f"{server.url}/-/health", verify=ctx).json()
    assert health["listeners"]["http"].startswith("https://")
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{server.port}/-/ready", timeout=5)
    with pytest.raises(httpx.ConnectError):  # an unknown certificate is not trusted
        httpx.get(f"{server.url}/-/ready", verify=ssl.create_default_context(cafile=where()))


def test_json_lines_and_syslog_over_tls(tls_server: tuple[ServerProcess, Path]) -> None:
    server, cert = tls_server
    with tls_socket(cert, server.listener("jsonlines/tcp")) as s:
        s.sendall(b'{"message":"over tls","service":"tls-json"}\n')
    message = b"<14>1 2026-01-02T03:04:05Z host tls-syslog - - - over tls too"
    with tls_socket(cert, server.listener("syslog/tcp")) as s:  # RFC 5425: octet-counted
        s.sendall(b"%d %s" % (len(message), message))
    rows = search(server, cert, '"over tls"', 2)
    assert sorted(str(r["service"]) for r in rows) == ["tls-json", "tls-syslog"]


def test_forward_over_tls_with_the_shared_key_handshake(
    tls_server: tuple[ServerProcess, Path],
) -> None:
    server, cert = tls_server
    with tls_socket(cert, server.listener("forward/tcp")) as s:
        ack = forward_with_shared_key(s, SHARED_KEY, "tls-forward", {"message": "forwarded"})
    assert ack == {"ack": "c1"}
    with tls_socket(cert, server.listener("forward/tcp")) as s:
        pong = forward_with_shared_key(s, "a-wrong-key", "tls-forward", {"message": "nope"})
    assert pong[:3] == ["PONG", False, "shared_key mismatch"]
    assert [r["message"] for r in search(server, cert, "service:tls-forward", 1)] == ["forwarded"]


def test_plaintext_to_a_tls_stream_port_stores_nothing(
    tls_server: tuple[ServerProcess, Path],
) -> None:
    server, cert = tls_server
    with socket.create_connection(("127.0.0.1", server.listener("jsonlines/tcp"))) as s:
        s.settimeout(10)
        s.sendall(b'{"message":"in the clear","service":"plain"}\n')
        try:
            while s.recv(1024):  # the failed handshake ends the connection
                pass
        except ConnectionError:
            pass  # a reset is as good as an EOF
    with tls_socket(cert, server.listener("jsonlines/tcp")) as s:  # a later, good line
        s.sendall(b'{"message":"after","service":"plain"}\n')
    assert [r["message"] for r in search(server, cert, "service:plain", 1)] == ["after"]


def test_the_login_cookie_is_secure_over_tls(tls_server: tuple[ServerProcess, Path]) -> None:
    server, cert = tls_server
    r = httpx.post(
        f"{server.url}/login",
        data={"token": READ},
        headers={"Origin": server.url},
        verify=client_context(cert),
    )
    assert r.status_code == 303
    cookie = r.headers["set-cookie"].lower()
    assert "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie


def test_tls_settings_are_checked_at_start(tmp_path: Path) -> None:
    assert check_files("", "") is False
    with pytest.raises(ConfigError, match="set tls_key_file too"):
        check_files(str(tmp_path / "c.pem"), "")
    with pytest.raises(ConfigError, match="does not exist"):
        check_files(str(tmp_path / "c.pem"), str(tmp_path / "k.pem"))
    cert, key = self_signed(tmp_path)
    (tmp_path / "other").mkdir()
    other_cert, _ = self_signed(tmp_path / "other")
    assert check_files(str(cert), str(key))
    with pytest.raises(ConfigError, match="cannot load TLS certificate"):
        server_context(str(other_cert), str(key))
