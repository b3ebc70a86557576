"""Starting and stopping the demo's four service processes.

Why: the services must come up in order (callees first, so a caller's first request
finds its dependency), on ports nobody else can take between choosing and binding
them, and must all be gone when the demo ends, whatever the way it ends. So the
sockets are bound here and handed to the children (no port race), the children run
in their own session (a Ctrl-C in the terminal reaches the demo, which stops them in
order, not the services first) and watch this process (a ``kill -9`` of the demo
still leaves no orphans).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

import httpx

from tracelake.demo.services import TOPOLOGY
from tracelake.errors import TracelakeError


@dataclass
class Service:
    name: str
    url: str
    proc: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.proc.pid


def bind_local() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


class Fleet:
    """The four services, each ``python -m tracelake.demo.service`` on 127.0.0.1.

    Args:
        endpoint: Base URL of the tracelake server the services report to.
    """

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.services: dict[str, Service] = {}

    def start(self, timeout: float = 30.0) -> dict[str, Service]:
        """Start every service (callees first) and wait until each answers ``/health``."""
        sockets = {name: bind_local() for name in TOPOLOGY}
        urls = {name: f"http://127.0.0.1:{s.getsockname()[1]}" for name, s in sockets.items()}
        try:
            for name, calls in TOPOLOGY.items():
                sock = sockets[name]
                args = [
                    sys.executable, "-m", "tracelake.demo.service", name,
                    "--fd", str(sock.fileno()), "--endpoint", self.endpoint,
                    "--parent-pid", str(os.getpid()),
                ]  # fmt: skip
                for callee in calls:
                    args += ["--downstream", f"{callee}={urls[callee]}"]
                proc = subprocess.Popen(
                    args, pass_fds=[sock.fileno()], stdin=subprocess.DEVNULL, start_new_session=True
                )
                self.services[name] = Service(name, urls[name], proc)
        finally:
            for sock in sockets.values():
                sock.close()  # the children hold their copies
        deadline = time.monotonic() + timeout
        for service in self.services.values():
            self._wait_healthy(service, deadline)
        return self.services

    def _wait_healthy(self, service: Service, deadline: float) -> None:
        while True:
            code = service.proc.poll()
            if code is not None:
                raise TracelakeError(
                    f"demo service {service.name} exited with status {code} at start"
                )
            try:
                if httpx.get(f"{service.url}/health", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TracelakeError(f"demo service {service.name} did not answer /health in time")
            time.sleep(0.1)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM every service, wait for them to flush and exit, SIGKILL what is left."""
        running = [s for s in reversed(self.services.values()) if s.proc.poll() is None]
        for service in running:
            service.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for service in running:
            try:
                service.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                service.proc.kill()
                service.proc.wait()
