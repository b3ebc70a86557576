"""``tracelake.sdk.register`` against the real server: register, heartbeat, come back, leave."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ServerProcess, free_port
from tests.security.kit import INGEST, secured
from tracelake.sdk import Registration, register

pytestmark = pytest.mark.e2e

PREFIX = "/api/v1/registry/instances"


def instances(server: ServerProcess) -> dict[str, dict[str, Any]]:
    found = httpx.get(f"{server.url}{PREFIX}").json()["instances"]
    return {i["instance_id"]: i for i in found}


def wait_for(check: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met in {timeout} s")
        time.sleep(0.05)


@pytest.fixture
def short_ttl(server_factory: type[ServerProcess], tmp_path: Path) -> ServerProcess:
    """A server whose instances go down after 1 s without a heartbeat."""
    return server_factory(
        tmp_path / "data",
        env={"TRACELAKE_REGISTRY_TTL_S": "1", "TRACELAKE_REGISTRY_EVICT_AFTER_S": "30"},
    ).start()


def test_register_heartbeats_keep_the_instance_up_and_close_deregisters(
    short_ttl: ServerProcess,
) -> None:
    reg = register(
        "orders",
        8001,
        endpoint=short_ttl.url,
        metadata={"zone": "eu-1"},
        heartbeat_interval=0.2,
    )
    try:
        assert isinstance(reg, Registration)
        assert reg.registered and reg.instance_id == "127.0.0.1:8001"
        first = instances(short_ttl)["127.0.0.1:8001"]
        assert first["host"] == "127.0.0.1"  # the address that routes to the server
        assert first["hystrix_stream_path"] == "/hystrix.stream"
        assert first["metadata"] == {"zone": "eu-1"}
        time.sleep(2.5)  # 2.5 TTLs: only the heartbeats keep it up
        now = instances(short_ttl)["127.0.0.1:8001"]
        assert now["status"] == "up"
        assert now["last_heartbeat"] > first["last_heartbeat"]
    finally:
        assert reg.close() is True
    assert instances(short_ttl) == {}
    assert reg.close() is True  # idempotent


def test_an_instance_the_server_forgot_registers_again_on_its_next_heartbeat(
    server: ServerProcess,
) -> None:
    with register("orders", 8002, endpoint=server.url, heartbeat_interval=0.2) as reg:
        httpx.delete(f"{server.url}{PREFIX}/orders/{reg.instance_id}")
        assert instances(server) == {}
        # the server lists it a moment before the client has read the 201
        wait_for(
            lambda: reg.registered and reg.instance_id in instances(server),
            what="re-registration",
        )
    assert instances(server) == {}


def test_a_registration_the_server_refuses_raises_with_its_reason(server: ServerProcess) -> None:
    with pytest.raises(ValueError, match="is not a service name"):
        register("bad name", 8001, endpoint=server.url)
    with pytest.raises(ValueError, match="over the limit of 8192"):
        register("orders", 8001, endpoint=server.url, metadata={"k": "v" * 9000})


def test_an_unreachable_server_never_raises_into_the_service() -> None:
    reg = register("orders", 8001, endpoint=f"http://127.0.0.1:{free_port()}", timeout=1)
    try:
        assert not reg.registered
        assert reg.last_error is not None and "Connection refused" in reg.last_error
    finally:
        assert reg.close() is False


class NotHTTP:
    """A real TCP server that answers every connection with a line that is not HTTP."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                self.connections += 1
                conn.recv(65536)
                conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")


def test_a_server_that_is_not_http_never_raises_and_the_thread_keeps_trying() -> None:
    other = NotHTTP()
    try:
        reg = register("orders", 8001, endpoint=other.url, heartbeat_interval=0.05, timeout=1)
        assert not reg.registered
        assert reg.last_error is not None and "BadStatusLine" in reg.last_error
        wait_for(lambda: other.connections >= 4, what="retries past a non-HTTP answer")
        assert reg._thread.is_alive()
        assert reg.close() is False  # nothing to deregister, and nothing raised
    finally:
        other.sock.close()


def test_a_refused_token_is_retried_not_raised(
    server_factory: type[ServerProcess], tmp_path: Path
) -> None:
    server = secured(server_factory, tmp_path / "data")
    reg = register("orders", 8001, endpoint=server.url, timeout=2)
    try:
        assert not reg.registered
        assert reg.last_error is not None and "HTTP 401" in reg.last_error
    finally:
        reg.close()
    with register("orders", 8001, endpoint=server.url, token=INGEST) as good:
        assert good.registered


def test_a_service_that_exits_deregisters(server: ServerProcess) -> None:
    script = (
        "from tracelake.sdk import register\n"
        f"reg = register('exits', 8003, endpoint={server.url!r})\n"
        "print('registered' if reg.registered else 'not registered', flush=True)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"registered\n"  # it was there, and the exit hook removed it
    assert instances(server) == {}


def test_the_registry_client_imports_without_the_server() -> None:
    script = (
        "import sys, tracelake.sdk.registry\n"
        "heavy = {'starlette', 'duckdb', 'pyarrow', 'uvicorn', 'httpx'} & set(sys.modules)\n"
        "print(sorted(heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=30)
    assert done.stdout == b"[]\n", done.stderr
