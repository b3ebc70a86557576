"""Shared fixtures: free ports and the real server, started as a separate process."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.registry import Collector


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


#: tracelake's standard ports: (port, socket type) of the HTTP port and the stream listeners.
DEFAULT_PORTS = (
    (7700, socket.SOCK_STREAM),
    (4560, socket.SOCK_STREAM),
    (4560, socket.SOCK_DGRAM),
    (5514, socket.SOCK_STREAM),
    (5514, socket.SOCK_DGRAM),
    (24224, socket.SOCK_STREAM),
    (24224, socket.SOCK_DGRAM),
)


@contextlib.contextmanager
def holding_default_ports() -> Iterator[None]:
    """Hold every standard port of tracelake, as other programs on a machine may: a port
    something else holds already is held all the same."""
    held = []
    try:
        for port, kind in DEFAULT_PORTS:
            sock = socket.socket(socket.AF_INET, kind)
            try:
                sock.bind(("127.0.0.1", port))
                if kind == socket.SOCK_STREAM:
                    sock.listen()
            except OSError:
                sock.close()  # taken already: held by someone else
                continue
            held.append(sock)
        yield
    finally:
        for sock in held:
            sock.close()


@dataclass
class ServerProcess:
    """A ``tracelake serve`` child process on free ports, with its data directory."""

    data_dir: Path
    extra_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    #: The server's working directory (None: the test's own).
    cwd: Path | None = None
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    def listener(self, name: str) -> int:
        """The port a stream listener got, e.g. ``listener("syslog/udp")``."""
        health = httpx.get(f"{self.url}/-/health").json()
        return int(health["listeners"][name].rsplit(":", 1)[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> ServerProcess:
        self.port = free_port()
        env = {**os.environ, "TRACELAKE_WAL_FSYNC": "true", **self.env}
        self.log = open(self.data_dir.parent / f"server-{self.port}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tracelake",
                "serve",
                "--data-dir",
                str(self.data_dir),
                "--http-port",
                str(self.port),
                "--tcp-port",
                "0",
                "--syslog-port",
                "0",
                "--forward-port",
                "0",
                *self.extra_args,
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=self.cwd,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.output()}")
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server not ready in {timeout} s: {self.output()}")

    def output(self) -> str:
        self.log.flush()
        return (self.data_dir.parent / f"server-{self.port}.log").read_text(errors="replace")[
            -4000:
        ]

    def kill(self) -> None:
        """SIGKILL: no flush, no goodbye — what a crash looks like."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        """SIGTERM and wait: the clean shutdown path."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[type[ServerProcess]]:
    """Make servers on fresh ports; every one is stopped at the end of the test."""
    started: list[ServerProcess] = []

    class Factory(ServerProcess):
        def start(self, timeout: float = 30.0) -> ServerProcess:
            started.append(self)
            return super().start(timeout)

    yield Factory
    for server in started:
        if server.proc is not None and server.proc.poll() is None:
            server.stop()


@pytest.fixture
def server(server_factory: type[ServerProcess], tmp_path: Path) -> ServerProcess:
    """One running server with an empty data directory."""
    return server_factory(tmp_path / "data").start()


def sample(part: Collector, name: str, **labels: str) -> float | None:
    """The value ``part.collect()`` reports for one sample (``name`` as exposed), or None."""
    registry = CollectorRegistry()
    registry.register(part)
    return registry.get_sample_value(name, labels)
