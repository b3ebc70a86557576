"""UDP bursts against the real server: the receive buffer absorbs them, and what the kernel
drops is counted on /metrics."""

from __future__ import annotations

import logging
import logging.handlers
import socket
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ServerProcess
from tracelake.ingest.receive_buffer import kernel_drops, raise_receive_buffer, socket_inode

BURST = 20_000


def _metric(server: ServerProcess, name: str) -> float | None:
    for line in httpx.get(f"{server.url}/metrics").text.splitlines():
        if line.startswith(f'{name}{{listener="syslog/udp"}}'):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_an_unpaced_sysloghandler_burst_is_stored_in_full_at_the_default_buffer(
    server: ServerProcess,
) -> None:
    """20,000 datagrams sent as fast as Python's SysLogHandler can: none lost."""
    handler = logging.handlers.SysLogHandler(("127.0.0.1", server.listener("syslog/udp")))
    log = logging.getLogger("udp.burst")
    log.propagate = False
    log.setLevel(logging.INFO)
    log.addHandler(handler)
    try:
        for i in range(BURST):
            log.info("burst line %d", i)
    finally:
        log.removeHandler(handler)
        handler.close()
    deadline = time.monotonic() + 60
    while _metric(server, "tracelake_listener_accepted_records_total") != BURST:
        assert time.monotonic() < deadline, server.output()
        time.sleep(0.2)
    assert _metric(server, "tracelake_listener_kernel_drops_total") == 0
    assert (_metric(server, "tracelake_listener_receive_buffer_bytes") or 0) >= 8 << 20


def test_the_kernel_drop_counter_is_on_metrics_at_the_kernel_default(
    server_factory: type[ServerProcess], tmp_path: Path
) -> None:
    """With the kernel's default buffer a burst loses datagrams, and /metrics says how many."""
    server = server_factory(
        tmp_path / "data", env={"TRACELAKE_UDP_RECEIVE_BUFFER_BYTES": "0"}
    ).start()
    assert _metric(server, "tracelake_listener_kernel_drops_total") == 0
    port = server.listener("syslog/udp")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for i in range(BURST):
            s.sendto(f"<14>burst line {i}".encode(), ("127.0.0.1", port))
    deadline = time.monotonic() + 60
    while True:
        stored = _metric(server, "tracelake_listener_accepted_records_total") or 0
        dropped = _metric(server, "tracelake_listener_kernel_drops_total") or 0
        if stored + dropped == BURST or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert stored + dropped == BURST  # every datagram is stored or counted


class _CappedSocket:
    """A socket whose kernel caps the buffer at ``cap`` and reports it doubled (Linux)."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.size = 212_992

    def setsockopt(self, level: int, option: int, value: int) -> None:
        if option != socket.SO_RCVBUF:
            raise PermissionError("not root")
        self.size = 2 * min(value, self.cap)

    def getsockopt(self, level: int, option: int) -> int:
        return self.size


def test_a_capped_buffer_is_reported_as_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert raise_receive_buffer(_CappedSocket(4 << 20), 8 << 20) == (8 << 20, True)
    assert raise_receive_buffer(_CappedSocket(16 << 20), 8 << 20) == (16 << 20, False)


def test_a_fresh_socket_has_a_zero_drop_counter() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        assert kernel_drops(socket_inode(s)) == 0
